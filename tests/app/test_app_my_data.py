"""The "Your data" page under AppTest: ask for a link (real SMTP server), open it, withdraw, consent, erase."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from campaigns.core.db import read_session, run_write
from campaigns.core.models import Signature, utcnow
from campaigns.signatures.counts import count_total
from campaigns.signatures.signing import sign
from campaigns.ui import widgets
from tests.support.apptest import point_app_at
from tests.support.factories import make_campaign, signer
from tests.support.mail import Mailbox, smtp_settings
from tests.unit.test_supporters import PUBLIC, token_in

pytestmark = pytest.mark.apptest


@pytest.fixture
def site(engine, default_settings, smtp_server):
    controller, handler = smtp_server
    point_app_at(
        engine, default_settings, public_url=PUBLIC, **smtp_settings(controller, "Rally <data@rally.example.org>")
    )
    campaign = make_campaign(engine, slug="libraries", title="Fund the libraries")
    run_write(
        engine,
        lambda s: sign(
            session=s,
            campaign_slug="libraries",
            signer=signer(full_name="Rosa Parks", email="rosa@example.org", comment="Books for all"),
        ),
    )
    run_write(engine, lambda s: sign(session=s, campaign_slug="libraries", signer=signer()))
    return engine, campaign, Mailbox(engine, handler)


PAGE = "import campaigns.ui.my_data as page\npage.render()\n"


def request_link(email: str) -> AppTest:
    at = AppTest.from_string(PAGE, default_timeout=30).run()
    next(w for w in at.text_input if w.label == "Your email").set_value(email)
    return next(b for b in at.button if b.label == "Email me a link").click().run()


def open_link(token: str) -> AppTest:
    """A fresh browser tab opening the emailed link."""
    at = AppTest.from_string(PAGE, default_timeout=30)
    at.query_params["token"] = token
    return at.run()


def texts(at) -> str:
    return "\n".join(
        el.value for el in [*at.markdown, *at.caption, *at.success, *at.info, *at.error, *at.warning, *at.text]
    )


def button(at, label):
    return next(b for b in at.button if b.label == label)


def test_asking_for_a_link_gives_the_same_answer_for_any_address(site):
    _, _, mailbox = site
    for address in ("rosa@example.org", "nobody@example.org"):
        at = request_link(address)
        assert not at.exception
        [success] = at.success
        assert success.value.startswith(f"We sent a link to {widgets.plain(address)}")  # shown as typed, not a link
    assert [e.rcpt_tos for e in mailbox] == [["rosa@example.org"], ["nobody@example.org"]]


def test_the_emailed_link_opens_the_data_once_and_leaves_the_address_bar(site):
    _, _, mailbox = site
    request_link("rosa@example.org")
    token = token_in(mailbox[0])
    at = open_link(token)
    assert not at.exception
    assert "token" not in at.query_params
    shown = texts(at)
    assert "Fund the libraries" in shown and "Name: Rosa Parks" in shown
    assert "Your comment (awaiting review): Books for all" in shown
    assert [s.value for s in at.subheader][:1] == ["Campaigns you signed"]
    reused = open_link(token)
    assert any("already been used" in e.value for e in reused.error)
    assert [w.label for w in reused.text_input] == ["Your email"]  # and the way to ask for a new one


def test_withdrawing_on_the_page_asks_first_then_lowers_the_total(site):
    engine, campaign, mailbox = site
    request_link("rosa@example.org")
    at = open_link(token_in(mailbox[0]))
    at = button(at, "Withdraw my signature").click().run()
    assert any("no longer count" in w.value for w in at.warning)
    at = button(at, "Yes, withdraw it").click().run()
    assert not at.exception
    assert any("was withdrawn" in s.value for s in at.success)
    assert "Withdrawn" in texts(at)
    with read_session(engine) as session:
        assert count_total(session=session, campaign_id=campaign.id) == 1
        status = session.execute(select(Signature.status).where(Signature.email == "rosa@example.org")).scalar_one()
    assert status == "withdrawn"


def test_consent_is_changed_with_its_checkbox(site):
    engine, _, mailbox = site
    request_link("rosa@example.org")
    at = open_link(token_in(mailbox[0]))
    at.checkbox[0].check().run()
    assert not at.exception and any("may contact you" in s.value for s in at.success)
    with read_session(engine) as session:
        row = session.execute(select(Signature).where(Signature.email == "rosa@example.org")).scalar_one()
    assert row.contact_consent and row.consent_at is not None


def test_erasing_on_the_page_forgets_the_person_and_keeps_the_count(site):
    engine, campaign, mailbox = site
    request_link("rosa@example.org")
    at = open_link(token_in(mailbox[0]))
    assert button(at, "Erase (signatures stay counted)").disabled
    next(c for c in at.checkbox if c.label.startswith("I understand")).check().run()
    at = button(at, "Erase (signatures stay counted)").click().run()
    assert not at.exception
    assert any("has been erased" in i.value for i in at.info)
    assert [w.label for w in at.text_input] == ["Your email"]
    with read_session(engine) as session:
        assert count_total(session=session, campaign_id=campaign.id) == 2
        names = session.execute(select(Signature.full_name)).scalars().all()
    assert "Rosa Parks" not in names


def test_the_page_is_public_and_linked_from_the_campaign_list(site):
    from campaigns.ui.navigation import page_specs

    assert "my-data" in [path for _, _, path, _ in page_specs(None)[""]]
    at = AppTest.from_string("import campaigns.ui.public as page\npage.render()\n", default_timeout=30).run()
    assert any("[Your data](/my-data)" in c.value for c in at.caption)


def test_each_letter_says_exactly_what_happened_to_it(site):
    """Sent by Rally, waiting, failed, maybe sent, downloaded, opened in the mail app: the page's own words."""
    from campaigns.core.models import Letter, Outreach, Target

    engine, campaign, mailbox = site
    with read_session(engine) as session:
        rosa = session.execute(select(Signature.id).where(Signature.email == "rosa@example.org")).scalar_one()
    letters = {  # target: its letter's rows
        "Senator Sent": [("email", "sent"), ("pdf", "sent")],
        "Senator Waiting": [("email", "pending")],
        "Senator Failed": [("email", "failed"), ("mailto", "sent")],
        "Senator Maybe": [("email", "uncertain"), ("text", "sent")],
    }

    def work(session):
        for name, rows in letters.items():
            target = Target(campaign_id=campaign.id, name=name, title="", region_code=None)
            session.add(target)
            session.flush()
            letter = Letter(signature_id=rosa, target_id=target.id, subject=f"To {name}", body="Please.")
            session.add(letter)
            session.flush()
            for channel, status in rows:
                sent_at = utcnow() if status == "sent" else None
                session.add(
                    Outreach(letter_id=letter.id, target_id=target.id, channel=channel, status=status, sent_at=sent_at)
                )

    run_write(engine, work)
    request_link("rosa@example.org")
    at = open_link(token_in(mailbox[0]))
    assert not at.exception
    today = f"{utcnow():%-d %b %Y}"
    assert [m.value for m in at.markdown if m.value.startswith("**To Senator")] == [
        f"**To {name}** · Fund the libraries" for name in letters
    ]
    written = [c for c in at.caption if c.value.startswith("Written ")]  # one per letter, in the same order
    assert [c.value.split(" · ", 1)[1] for c in written] == [
        f"sent by email by Rally on {today}, downloaded as PDF on {today}",
        "waiting to be sent by email by Rally (not sent yet)",
        "not sent: Rally's email could not be delivered (the organizers can see why and send it again), "
        f"opened in your mail app on {today}",
        "maybe sent by email by Rally: the sending was interrupted (the organizers can check and send it again), "
        f"downloaded as text on {today}",
    ]


def test_the_page_shows_answers_and_proposals_and_a_proposer_without_signatures_sees_theirs(site):
    from campaigns.core.audit import CLI
    from campaigns.proposals import drafting
    from campaigns.questions import answering, asking
    from tests.support.factories import future

    engine, campaign, mailbox = site
    question = run_write(
        engine,
        lambda s: asking.ask_question(
            session=s,
            campaign_id=campaign.id,
            actor=CLI,
            prompt="Which action next?",
            options=["March", "Letters"],
            closes_at=future(7),
            allow_free_text=True,
        ),
    )
    with read_session(engine) as session:
        rosa = session.execute(select(Signature.id).where(Signature.email == "rosa@example.org")).scalar_one()
    run_write(
        engine,
        lambda s: answering.answer(
            session=s, question_id=question.id, signature_id=rosa, option_id=question.options[1][0], free_text="Write!"
        ),
    )
    for email, title in (("rosa@example.org", "Longer library hours"), ("ada@example.org", "A reading room")):
        proposer = drafting.ProposerInput(full_name="Someone", email=email, credit=False)
        text = drafting.ProposalText(
            title=title, purpose="Reading.", ask="Open it.", target="The council", region_scheme="us-states"
        )
        run_write(engine, lambda s, p=proposer, t=text: drafting.propose(session=s, text=t, proposer=p))
    request_link("rosa@example.org")
    at = open_link(token_in([e for e in mailbox if e.rcpt_tos == ["rosa@example.org"]][-1]))
    assert not at.exception
    shown = texts(at)
    assert "Asked: Which action next?\nYou answered: Letters\nYou wrote (awaiting review): Write!" in shown
    assert "Your proposals" in [s.value for s in at.subheader]
    assert "Longer library hours" in shown and "A reading room" not in shown
    request_link("ada@example.org")  # she proposed, and never signed
    ada = open_link(token_in([e for e in mailbox if e.rcpt_tos == ["ada@example.org"]][-1]))
    assert not ada.exception
    assert "We hold no signatures under this address." in texts(ada)
    assert "A reading room" in texts(ada) and "Longer library hours" not in texts(ada)
