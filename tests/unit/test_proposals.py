"""Members' proposals on SQLite and PostgreSQL, with mail through a real SMTP server (aiosmtpd): proposing,
co-sponsors by emailed link (and every way one must not count), the organizers' decisions, credits, expiry."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import event, inspect, select, update

from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput, NotFound
from campaigns.core.models import AuditEntry, Campaign, Proposal, ProposalMessage, ProposalSponsor, utcnow
from campaigns.core.settings import override_settings
from campaigns.proposals import drafting, expiry, review, sponsoring
from campaigns.signatures import upkeep
from tests.support.mail import Mailbox, smtp_settings

PUBLIC = "https://rally.example.org"
OWN_LINK = re.compile(re.escape(PUBLIC) + r"/my-proposal\?token=([A-Za-z0-9_-]+)")
SPONSOR_LINK = re.compile(re.escape(PUBLIC) + r"/cosponsor-confirm\?token=([A-Za-z0-9_-]+)")
HOSTILE = "<script>alert(1)</script> **bold** [click](https://evil.example) ![x](https://evil.example/p.png)"


@pytest.fixture
def mailbox(engine, smtp_server):
    controller, handler = smtp_server
    with override_settings(**smtp_settings(controller, "Rally <rally@rally.example.org>"), public_url=PUBLIC):
        yield Mailbox(engine, handler)


def body(envelope) -> str:
    return BytesParser(policy=policy.default).parsebytes(envelope.content).get_content()


def subject(envelope) -> str:
    return str(BytesParser(policy=policy.default).parsebytes(envelope.content)["Subject"])


def mail_to(mailbox, address: str) -> list:
    return [e for e in mailbox if [a.lower() for a in e.rcpt_tos] == [address.lower()]]


def text(**overrides) -> drafting.ProposalText:
    values = {
        "title": "Bike lanes on Main Street",
        "purpose": "Safe cycling for children going to school.",
        "ask": "Build protected bike lanes by next summer.",
        "target": "The city council",
        "region_scheme": "us-states",
    }
    values.update(overrides)
    return drafting.ProposalText(**values)


def propose(engine, mailbox, email="maria@example.org", credit=True, address=None, **overrides) -> tuple[int, str]:
    """A proposal, confirmed by its proposer's emailed link: (its id, the proposer's token)."""
    proposer = drafting.ProposerInput(full_name="Maria Lopez", email=email, credit=credit)
    pid = run_write(
        engine,
        lambda s: drafting.propose(session=s, text=text(**overrides), proposer=proposer, client_address=address),
    )
    [envelope] = mail_to(mailbox, email)
    token = OWN_LINK.search(body(envelope)).group(1)
    run_write(engine, lambda s: drafting.confirm_own(session=s, token=token))
    return pid, token


def public_id(engine, pid: int) -> str:
    with read_session(engine) as session:
        return session.get(Proposal, pid).public_id


def offer(engine, pid, email, name="Co Sponsor", credit=True, now=None):
    run_write(
        engine,
        lambda s: sponsoring.offer(
            session=s, public_id=public_id(engine, pid), full_name=name, email=email, credit=credit, now=now
        ),
    )


def sponsor_token(mailbox, email) -> str:
    found = [SPONSOR_LINK.search(body(e)) for e in mail_to(mailbox, email)]
    return [m.group(1) for m in found if m][-1]


def confirm(engine, token, now=None):
    return run_write(engine, lambda s: sponsoring.confirm(session=s, token=token, now=now))


def status(engine, pid) -> str:
    with read_session(engine) as session:
        return session.get(Proposal, pid).status


def sponsor_rows(engine, pid) -> list[ProposalSponsor]:
    with read_session(engine) as session:
        return list(session.execute(select(ProposalSponsor).where(ProposalSponsor.proposal_id == pid)).scalars())


def gather(engine, mailbox, pid, n=5, credit=lambda i: True):
    for i in range(n):
        offer(engine, pid, f"sponsor{i}@example.org", name=f"Sponsor {i}", credit=credit(i))
        confirm(engine, sponsor_token(mailbox, f"sponsor{i}@example.org"))


def test_a_proposal_waits_for_its_proposers_link_then_gathers_co_sponsors(engine, mailbox):
    proposer = drafting.ProposerInput(full_name="Maria Lopez", email="maria@example.org", credit=True)
    pid = run_write(engine, lambda s: drafting.propose(session=s, text=text(), proposer=proposer))
    [envelope] = mailbox
    assert subject(envelope) == "Please confirm your proposal: Bike lanes on Main Street"
    token = OWN_LINK.search(body(envelope)).group(1)
    with read_session(engine) as session:
        assert session.get(Proposal, pid).manage_hash != token  # only its hash is kept
        with pytest.raises(NotFound):  # nobody can co-sponsor an unconfirmed proposal
            sponsoring.sponsor_page(session=session, public_id=session.get(Proposal, pid).public_id)
    run_write(engine, lambda s: drafting.confirm_own(session=s, token=token))
    run_write(engine, lambda s: drafting.confirm_own(session=s, token=token))  # opening it again changes nothing
    with read_session(engine) as session:
        view = drafting.own_view(session=session, token=token)
    assert (view.status, view.progress) == ("gathering", "0 of 5 co-sponsors")
    assert view.share_url == f"{PUBLIC}/cosponsor?p={public_id(engine, pid)}"
    with read_session(engine) as session, pytest.raises(drafting.ProposalNotFound):
        drafting.own_view(session=session, token=token + "x")


def test_five_confirmed_co_sponsors_move_it_to_review_once(engine, mailbox):
    pid, token = propose(engine, mailbox)
    gather(engine, mailbox, pid, n=4)
    assert status(engine, pid) == "gathering"
    with read_session(engine) as session:
        assert drafting.own_view(session=session, token=token).progress == "4 of 5 co-sponsors"
    offer(engine, pid, "sponsor4@example.org")
    done = confirm(engine, sponsor_token(mailbox, "sponsor4@example.org"))
    assert (done.confirmed, done.needed, done.in_review) == (5, 5, True)
    assert status(engine, pid) == "in_review"
    [review_mail] = [e for e in mail_to(mailbox, "maria@example.org") if "in review" in subject(e)]
    assert "has its 5 co-sponsors" in body(review_mail)


def test_hostile_markdown_and_html_are_kept_as_typed(engine, mailbox):
    _, token = propose(engine, mailbox, title="<b>Bold</b> **title**", purpose=HOSTILE)
    with read_session(engine) as session:
        view = drafting.own_view(session=session, token=token)
    assert view.text.title == "<b>Bold</b> **title**" and view.text.purpose == HOSTILE


def test_proposals_are_checked_field_by_field(engine, mailbox):
    bad = text(title="", purpose="x" * 1001, ask="a\u202eb", region_scheme="nowhere")
    proposer = drafting.ProposerInput(full_name="", email="not-an-address", credit=False)
    with pytest.raises(InvalidInput) as caught:
        run_write(engine, lambda s: drafting.propose(session=s, text=bad, proposer=proposer))
    assert set(caught.value.errors) == {"title", "purpose", "ask", "target", "region_scheme", "full_name", "email"} - {
        "target"
    }
    assert len(mailbox) == 0


@pytest.mark.parametrize("spelling", ["Maria.Lopez+cosponsor@GMAIL.com", "marialopez@googlemail.com"])
def test_the_proposers_own_mailbox_never_counts_in_any_spelling(engine, mailbox, spelling):
    pid, _ = propose(engine, mailbox, email="marialopez@gmail.com")
    offer(engine, pid, spelling)
    assert sponsor_rows(engine, pid) == []
    [refusal] = mail_to(mailbox, spelling)
    assert "You proposed it" in body(refusal) and not SPONSOR_LINK.search(body(refusal))


def test_one_mailbox_is_one_co_sponsor_whatever_its_spelling(engine, mailbox):
    pid, _ = propose(engine, mailbox)
    offer(engine, pid, "jo.doe@gmail.com")
    confirm(engine, sponsor_token(mailbox, "jo.doe@gmail.com"))
    offer(engine, pid, "JoDoe+again@Gmail.com")  # the same mailbox: no second co-sponsor, its owner told
    assert len(sponsor_rows(engine, pid)) == 1
    [told] = mail_to(mailbox, "jo.doe@gmail.com")[1:]
    assert "co-sponsor it already" in body(told)


def test_a_co_sponsor_link_works_once(engine, mailbox):
    pid, _ = propose(engine, mailbox)
    offer(engine, pid, "sam@example.org")
    token = sponsor_token(mailbox, "sam@example.org")
    confirm(engine, token)
    with pytest.raises(sponsoring.AlreadySponsoring):
        confirm(engine, token)
    with pytest.raises(sponsoring.SponsorLinkRefused, match="isn't valid"):
        confirm(engine, "not-a-token")
    with read_session(engine) as session:
        assert drafting.confirmed_count(session=session, proposal_id=pid) == 1


def test_expired_links_and_proposals_count_nothing(engine, mailbox):
    pid, token = propose(engine, mailbox)
    offer(engine, pid, "late@example.org")
    late = sponsor_token(mailbox, "late@example.org")
    with pytest.raises(sponsoring.SponsorLinkRefused, match="expired"):
        confirm(engine, late, now=utcnow() + timedelta(days=8))
    after = utcnow() + timedelta(days=31)
    with pytest.raises(sponsoring.NotGathering, match="expired"):
        offer(engine, pid, "other@example.org", now=after)
    run_write(engine, lambda s: expiry.expire_due(session=s, now=after))
    assert status(engine, pid) == "expired"
    with pytest.raises(sponsoring.SponsorLinkRefused, match="expired"):
        confirm(engine, late)
    with read_session(engine) as session:
        assert drafting.own_view(session=session, token=token).status == "expired"


def test_upkeep_expires_proposals_past_their_time(engine, mailbox):
    assert expiry.expire in upkeep.TASKS
    pid, _ = propose(engine, mailbox)
    with override_settings(proposal_days=1):
        young, _ = propose(engine, mailbox, email="young@example.org")
    run_write(
        engine, lambda s: s.execute(Proposal.__table__.update().where(Proposal.id == pid).values(expires_at=utcnow()))
    )
    upkeep.run_all(engine=engine)
    assert (status(engine, pid), status(engine, young)) == ("expired", "gathering")


def test_two_co_sponsors_confirming_at_once_move_it_to_review_once(engine, mailbox):
    pid, _ = propose(engine, mailbox)
    gather(engine, mailbox, pid, n=4)
    tokens = []
    for email in ("last1@example.org", "last2@example.org"):
        offer(engine, pid, email)
        tokens.append(sponsor_token(mailbox, email))
    barrier = threading.Barrier(2)

    def go(token):
        barrier.wait()
        return confirm(engine, token)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(go, tokens))
    assert sorted(r.in_review for r in results) == [False, True]
    assert status(engine, pid) == "in_review"
    assert len([e for e in mail_to(mailbox, "maria@example.org") if "in review" in subject(e)]) == 1
    with read_session(engine) as session:
        assert drafting.confirmed_count(session=session, proposal_id=pid) == 6


def test_ask_for_changes_edit_publish_and_the_credits(engine, mailbox):
    pid, token = propose(engine, mailbox)
    gather(engine, mailbox, pid, credit=lambda i: i % 2 == 0)  # sponsors 0, 2 and 4 agreed to be named
    run_write(
        engine, lambda s: review.ask_changes(session=s, proposal_id=pid, message="Name the street section.", actor=CLI)
    )
    [asked] = [e for e in mail_to(mailbox, "maria@example.org") if "Changes asked" in subject(e)]
    assert "Name the street section." in body(asked)
    with pytest.raises(drafting.ProposalRefused):
        run_write(engine, lambda s: review.publish(session=s, proposal_id=pid, actor=CLI))
    edited = text(ask="Build protected bike lanes from 1st to 9th Street.")
    run_write(engine, lambda s: drafting.edit(session=s, token=token, text=edited, note="Done: 1st to 9th."))
    with pytest.raises(drafting.ProposalRefused):  # only when changes are asked for
        run_write(engine, lambda s: drafting.edit(session=s, token=token, text=edited))
    with read_session(engine) as session:
        view = drafting.own_view(session=session, token=token)
        [item] = review.queue(session=session).items
    assert view.status == "in_review" and item.status == "in_review"
    assert [(t.author, t.body) for t in view.thread] == [
        ("Organizers", "Name the street section."),
        ("You", "Done: 1st to 9th."),
    ]
    campaign = run_write(engine, lambda s: review.publish(session=s, proposal_id=pid, actor=CLI, goal=500))
    assert (campaign.status, campaign.title, campaign.goal) == ("published", "Bike lanes on Main Street", 500)
    assert "What we ask: Build protected bike lanes from 1st to 9th Street." in campaign.purpose
    with read_session(engine) as session:
        assert sponsoring.credits(session=session, campaign_id=campaign.id) == [
            "Maria Lopez",
            "Sponsor 0",
            "Sponsor 2",
            "Sponsor 4",
        ]
        assert drafting.own_view(session=session, token=token).campaign_slug == campaign.slug
        actions = set(session.execute(select(AuditEntry.action)).scalars())
        other = session.execute(select(Campaign.id).where(Campaign.id != campaign.id)).first()
    assert {"proposal.ask_changes", "proposal.publish", "campaign.create", "campaign.publish"} <= actions
    assert other is None
    [published] = [e for e in mail_to(mailbox, "maria@example.org") if "campaign now" in subject(e)]
    assert f"{PUBLIC}/?campaign={campaign.slug}" in body(published)
    for i in range(5):  # every confirmed co-sponsor hears of it, named or not
        [told] = [e for e in mail_to(mailbox, f"sponsor{i}@example.org") if "campaign now" in subject(e)]
        assert f"{PUBLIC}/?campaign={campaign.slug}" in body(told)


def test_a_proposer_who_did_not_agree_is_not_named(engine, mailbox):
    pid, _ = propose(engine, mailbox, credit=False)
    gather(engine, mailbox, pid, credit=lambda i: False)
    campaign = run_write(engine, lambda s: review.publish(session=s, proposal_id=pid, actor=CLI))
    with read_session(engine) as session:
        assert sponsoring.credits(session=session, campaign_id=campaign.id) == ["a member"]
        assert sponsoring.credits(session=session, campaign_id=campaign.id + 1) is None


def test_declined_proposals_are_public_only_when_the_organizer_chooses(engine, mailbox):
    shown, _ = propose(engine, mailbox, title="Ban cars everywhere")
    hidden, _ = propose(engine, mailbox, email="other@example.org", title="A private matter")
    for pid in (shown, hidden):
        gather(engine, mailbox, pid)
    run_write(
        engine, lambda s: review.decline(session=s, proposal_id=shown, reason="Out of scope.", public=True, actor=CLI)
    )
    run_write(
        engine, lambda s: review.decline(session=s, proposal_id=hidden, reason="Duplicate.", public=False, actor=CLI)
    )
    with read_session(engine) as session:
        listed = review.declined_publicly(session=session)
    assert [(d.title, d.reason) for d in listed] == [("Ban cars everywhere", "Out of scope.")]
    [told] = [e for e in mail_to(mailbox, "other@example.org") if "declined" in subject(e)]
    assert "Duplicate." in body(told) and "not shown publicly" in body(told)
    with pytest.raises(drafting.ProposalRefused):
        run_write(
            engine, lambda s: review.decline(session=s, proposal_id=shown, reason="Again", public=False, actor=CLI)
        )
    offer_after = sponsor_rows(engine, shown)
    assert len(offer_after) == 5


def test_one_mailbox_proposes_at_most_three_campaigns_a_day_and_nobody_is_told_but_its_owner(engine, mailbox):
    proposer = drafting.ProposerInput(full_name="Maria Lopez", email="Maria@Example.org", credit=False)
    now = utcnow()
    for _ in range(drafting.PER_MAILBOX_PER_DAY):
        run_write(engine, lambda s: drafting.propose(session=s, text=text(), proposer=proposer, now=now))
    other = drafting.ProposerInput(full_name="A Stranger", email="MARIA@EXAMPLE.ORG", credit=False)
    for _ in range(2):  # the same reply as any proposal (no error): a stranger learns nothing of the mailbox
        assert run_write(engine, lambda s: drafting.propose(session=s, text=text(title="Spam"), proposer=other)) is None
    with read_session(engine) as session:
        assert len(list(session.execute(select(Proposal)).scalars())) == drafting.PER_MAILBOX_PER_DAY
    [told] = [e for e in mailbox if "not kept" in subject(e)]  # its owner hears why, once a day
    assert told.rcpt_tos == ["MARIA@example.org"] and "Spam" not in body(told)
    assert f"{drafting.PER_MAILBOX_PER_DAY} campaigns in the last 24 hours" in body(told)
    tomorrow = now + timedelta(days=1, minutes=1)
    assert run_write(engine, lambda s: drafting.propose(session=s, text=text(), proposer=proposer, now=tomorrow))


def test_one_client_address_proposes_at_most_ten_campaigns_a_day_whatever_the_mailboxes(engine, mailbox):
    now = utcnow()

    def propose_from(address, i, at=now):
        proposer = drafting.ProposerInput(full_name="Someone", email=f"victim{i}@example.org", credit=False)
        return run_write(
            engine,
            lambda s: drafting.propose(session=s, text=text(), proposer=proposer, client_address=address, now=at),
        )

    for i in range(drafting.PER_ADDRESS_PER_DAY):
        assert propose_from("203.0.113.7", i)
    with pytest.raises(drafting.TooManyProposals, match="from your network") as refused:
        propose_from("203.0.113.7", 99)
    assert "victim99" not in refused.value.user_message
    assert mail_to(mailbox, "victim99@example.org") == []
    assert propose_from("198.51.100.1", 99)  # another address
    assert propose_from("127.0.0.1", 98)  # loopback (this machine, an untrusted local proxy) is not limited
    assert propose_from("203.0.113.7", 97, at=now + timedelta(days=1, minutes=1))


def test_a_proposal_takes_its_hourly_share_of_offers_then_the_same_refusal_for_every_address(engine, mailbox):
    """The reviewer's scenario: one confirmed proposal, then thousands of addresses on its co-sponsor page."""
    pid, _ = propose(engine, mailbox)
    now = utcnow()
    with override_settings(proposal_offers_per_hour=3):
        for i in range(3):
            offer(engine, pid, f"target{i}@example.org", now=now)
        refusals = set()
        for email in ("target99@example.org", "maria@example.org", "target0@example.org"):  # new, proposer, repeat
            with pytest.raises(sponsoring.TooManyOffers) as refused:
                offer(engine, pid, email, now=now + timedelta(minutes=30))
            refusals.add(refused.value.user_message)
        assert len(refusals) == 1 and "in the last hour" in refusals.pop()
        assert len(sponsor_rows(engine, pid)) == 3
        assert mail_to(mailbox, "target99@example.org") == []
        offer(engine, pid, "target99@example.org", now=now + timedelta(minutes=61))
    [sent] = mail_to(mailbox, "target99@example.org")
    assert subject(sent) == "Please confirm you co-sponsor: Bike lanes on Main Street"


def test_offers_arriving_at_once_stop_at_the_hourly_cap(engine, mailbox):
    pid, _ = propose(engine, mailbox)
    emails = [f"rush{i}@example.org" for i in range(6)]
    barrier = threading.Barrier(len(emails))

    def go(email):
        barrier.wait()
        try:
            offer(engine, pid, email)
            return "sent"
        except sponsoring.TooManyOffers:
            return "refused"

    with override_settings(proposal_offers_per_hour=2), ThreadPoolExecutor(max_workers=len(emails)) as pool:
        results = list(pool.map(go, emails))
    assert sorted(results) == ["refused"] * 4 + ["sent"] * 2
    assert len(sponsor_rows(engine, pid)) == 2


def test_proposals_from_one_address_arriving_at_once_stop_at_its_limit(engine, mailbox):
    n = drafting.PER_ADDRESS_PER_DAY + 3
    barrier = threading.Barrier(n)

    def go(i):
        proposer = drafting.ProposerInput(full_name="Someone", email=f"rush{i}@example.org", credit=False)
        barrier.wait()
        try:
            run_write(
                engine,
                lambda s: drafting.propose(session=s, text=text(), proposer=proposer, client_address="203.0.113.9"),
            )
            return "kept"
        except drafting.TooManyProposals:
            return "refused"

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(go, range(n)))
    assert results.count("kept") == drafting.PER_ADDRESS_PER_DAY and results.count("refused") == 3


def test_one_client_address_makes_at_most_ten_co_sponsor_offers_an_hour(engine, mailbox):
    first, _ = propose(engine, mailbox)
    second, _ = propose(engine, mailbox, email="lee@example.org")
    now = utcnow()

    def offer_from(address, pid, i, at=now):
        run_write(
            engine,
            lambda s: sponsoring.offer(
                session=s,
                public_id=public_id(engine, pid),
                full_name="Someone",
                email=f"target{i}@example.org",
                credit=False,
                client_address=address,
                now=at,
            ),
        )

    for i in range(sponsoring.OFFERS_PER_ADDRESS_PER_HOUR):  # over every proposal
        offer_from("203.0.113.7", first if i % 2 else second, i)
    with pytest.raises(sponsoring.TooManyOffers, match="from your network"):
        offer_from("203.0.113.7", first, 99)
    assert mail_to(mailbox, "target99@example.org") == []
    offer_from("198.51.100.1", first, 99)
    offer_from("::1", first, 98)  # loopback is not limited
    offer_from("203.0.113.7", first, 97, at=now + timedelta(minutes=61))
    assert len(sponsor_rows(engine, first)) + len(sponsor_rows(engine, second)) == 13


def test_the_queue_shows_what_waits_a_page_at_a_time_in_the_same_few_queries(engine, mailbox):
    with override_settings(proposal_cosponsors=1):
        made = []
        for i in range(6):
            pid, _ = propose(engine, mailbox, email=f"proposer{i}@example.org", title=f"Proposal {i}")
            if i < 5:  # five in review, one still gathering
                _one_sponsor(engine, mailbox, pid, i)
            made.append(pid)
    run_write(engine, lambda s: review.ask_changes(session=s, proposal_id=made[0], message="Shorter.", actor=CLI))
    run_write(
        engine,
        lambda s: review.decline(session=s, proposal_id=made[1], reason="No.", public=False, actor=CLI),
    )
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with read_session(engine) as session:
        event.listen(engine, "before_cursor_execute", count)
        try:
            first = review.queue(session=session, page_size=2)
            small = len(statements)
            statements.clear()
            whole = review.queue(session=session, page_size=10)
            large = len(statements)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        second = review.queue(session=session, page=2, page_size=2)
        gathering = review.queue(session=session, statuses=("gathering",))
        everything = review.queue(session=session, statuses=review.QUEUE_ORDER)
    assert small == large <= 4  # the count, the page, co-sponsor counts, threads: not 3 more per proposal
    assert (first.total, first.pages, whole.total) == (4, 2, 4)  # in review and changes requested only
    assert [i.text.title for i in first.items] == ["Proposal 2", "Proposal 3"]
    assert [i.text.title for i in second.items] == ["Proposal 4", "Proposal 0"]
    assert [i.status for i in whole.items] == ["in_review"] * 3 + ["changes_requested"]
    assert whole.items[-1].confirmed == 1 and [t.body for t in whole.items[-1].thread] == ["Shorter."]
    assert [i.text.title for i in gathering.items] == ["Proposal 5"]
    assert everything.total == 6 and everything.items[-1].status == "declined"


def _one_sponsor(engine, mailbox, pid, i):
    offer(engine, pid, f"sponsor-of-{i}@example.org")
    confirm(engine, sponsor_token(mailbox, f"sponsor-of-{i}@example.org"))


def test_the_columns_limits_credits_and_erasure_look_up_are_indexed(engine):
    found = inspect(engine)
    leading = {
        (table, index["column_names"][0])
        for table in ("proposal", "proposal_sponsor")
        for index in found.get_indexes(table)
    }
    assert {
        ("proposal", "campaign_id"),
        ("proposal", "proposer_canonical"),
        ("proposal", "client_address"),
        ("proposal_sponsor", "email_canonical"),
        ("proposal_sponsor", "client_address"),
    } <= leading


def test_the_share_link_says_why_it_takes_no_co_sponsors(engine, mailbox):
    pid, _ = propose(engine, mailbox)
    with read_session(engine) as session:
        page = sponsoring.sponsor_page(session=session, public_id=public_id(engine, pid))
    assert (page.open, page.closed_reason, page.confirmed, page.needed) == (True, None, 0, 5)
    gather(engine, mailbox, pid)
    with read_session(engine) as session:
        page = sponsoring.sponsor_page(session=session, public_id=public_id(engine, pid))
        with pytest.raises(NotFound):
            sponsoring.sponsor_page(session=session, public_id="nothing")
    assert not page.open and "reviewing it" in page.closed_reason
    with pytest.raises(sponsoring.NotGathering, match="reviewing it"):
        offer(engine, pid, "late@example.org")


def test_erasing_a_mailbox_forgets_it_in_every_proposal_and_progress_stays(engine, mailbox):
    from campaigns.proposals import privacy

    pid, token = propose(engine, mailbox, address="203.0.113.7")
    gather(engine, mailbox, pid)
    with read_session(engine) as session:
        held = privacy.held_about(session=session, email_canonical="sponsor0@example.org")
        assert held == privacy.MailboxProposals(proposed=[], sponsored=["Bike lanes on Main Street"])
    assert run_write(engine, lambda s: privacy.erase_mailbox(session=s, email_canonical="sponsor0@example.org")) == 1
    assert run_write(engine, lambda s: privacy.erase_mailbox(session=s, email_canonical="maria@example.org")) == 1
    with read_session(engine) as session:
        proposal = session.get(Proposal, pid)
        assert (proposal.proposer_name, proposal.proposer_email, proposal.client_address) == ("a member", "", None)
        assert drafting.confirmed_count(session=session, proposal_id=pid) == 5  # progress stays true
        assert privacy.held_about(session=session, email_canonical="sponsor0@example.org").sponsored == []
        with pytest.raises(drafting.ProposalNotFound):  # the proposer's old link stops working
            drafting.own_view(session=session, token=token)
    campaign = run_write(engine, lambda s: review.publish(session=s, proposal_id=pid, actor=CLI))  # no email to nobody
    with read_session(engine) as session:
        assert sponsoring.credits(session=session, campaign_id=campaign.id) == [
            "a member",
            "Sponsor 1",
            "Sponsor 2",
            "Sponsor 3",
            "Sponsor 4",
        ]


def test_a_supporters_erasure_forgets_them_in_proposals_too(engine, mailbox):
    from campaigns.people import supporter_erasure

    pid, _ = propose(engine, mailbox)
    run_write(engine, lambda s: supporter_erasure.erase_my_data(session=s, email_canonical="maria@example.org"))
    with read_session(engine) as session:
        assert session.get(Proposal, pid).proposer_email == ""


def thread_rows(engine, pid) -> list[tuple[bool, str, str]]:
    with read_session(engine) as session:
        rows = session.execute(
            select(ProposalMessage).where(ProposalMessage.proposal_id == pid).order_by(ProposalMessage.id)
        ).scalars()
        return [(m.from_organizer, m.author, m.body) for m in rows]


def ask_and_reply(engine, pid, token, note="Done: 1st to 9th, my street."):
    run_write(
        engine, lambda s: review.ask_changes(session=s, proposal_id=pid, message="Name the street section.", actor=CLI)
    )
    run_write(engine, lambda s: drafting.edit(session=s, token=token, text=text(), note=note))


def test_an_erasure_blanks_the_proposers_messages_and_keeps_the_organizers(engine, mailbox):
    from campaigns.people import supporter_erasure

    pid, token = propose(engine, mailbox)
    gather(engine, mailbox, pid)
    ask_and_reply(engine, pid, token)
    assert thread_rows(engine, pid)[1] == (False, "proposer", "Done: 1st to 9th, my street.")
    run_write(engine, lambda s: supporter_erasure.erase_my_data(session=s, email_canonical="maria@example.org"))
    assert [(organizer, body) for organizer, _, body in thread_rows(engine, pid)] == [
        (True, "Name the street section."),
        (False, ""),
    ]


def test_retention_forgets_people_in_proposals_decided_or_expired_long_ago(engine, mailbox):
    from campaigns.people.retention import run_retention

    old, old_token = propose(engine, mailbox, title="Declined long ago")
    gather(engine, mailbox, old)
    ask_and_reply(engine, old, old_token)
    run_write(
        engine,
        lambda s: review.decline(
            session=s, proposal_id=old, reason="Out of scope.", public=True, actor=CLI, now=utcnow() - timedelta(400)
        ),
    )
    lapsed, _ = propose(engine, mailbox, email="lapsed@example.org", title="Expired long ago")
    offer(engine, lapsed, "late@example.org", name="Late Sponsor")
    run_write(
        engine,
        lambda s: s.execute(update(Proposal).where(Proposal.id == lapsed).values(expires_at=utcnow() - timedelta(400))),
    )
    run_write(engine, lambda s: expiry.expire_due(session=s))
    recent, _ = propose(engine, mailbox, email="recent@example.org", title="Declined last week")
    gather(engine, mailbox, recent)
    run_write(
        engine,
        lambda s: review.decline(
            session=s, proposal_id=recent, reason="Not now.", public=False, actor=CLI, now=utcnow() - timedelta(7)
        ),
    )
    waiting, _ = propose(engine, mailbox, email="waiting@example.org", title="In review")
    gather(engine, mailbox, waiting)
    dry = run_retention(engine=engine, apply=False, days=365)
    assert dry.proposals == 2 and dry.applied is False
    assert status(engine, old) == "declined" and sponsor_rows(engine, old)[0].full_name == "Sponsor 0"  # dry run
    done = run_retention(engine=engine, apply=True, days=365)
    assert done.proposals == 2
    for pid in (old, lapsed):
        with read_session(engine) as session:
            proposal = session.get(Proposal, pid)
            assert (proposal.proposer_name, proposal.proposer_email) == ("a member", "")
            assert proposal.proposer_canonical.startswith("erased:")
        assert all((r.full_name, r.email) == ("", "") for r in sponsor_rows(engine, pid))
        assert all(r.email_canonical.startswith("erased:") for r in sponsor_rows(engine, pid))
    assert [body for organizer, _, body in thread_rows(engine, old) if not organizer] == [""]
    assert next(body for organizer, _, body in thread_rows(engine, old) if organizer) == "Name the street section."
    with read_session(engine) as session:
        assert session.get(Proposal, old).title == "Bike lanes on Main Street"  # the text (as edited) stays
        for pid, email in ((recent, "recent@example.org"), (waiting, "waiting@example.org")):
            assert session.get(Proposal, pid).proposer_email == email  # not due
        assert {r.full_name for r in sponsor_rows(engine, recent)} == {f"Sponsor {i}" for i in range(5)}
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "retention.proposals")).scalar_one()
    assert json.loads(entry.detail)["proposals"] == 2
    assert run_retention(engine=engine, apply=True, days=365).proposals == 0  # again: nothing more to do
