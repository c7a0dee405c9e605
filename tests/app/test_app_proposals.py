"""The proposal pages under AppTest, against a real database and a real SMTP server (aiosmtpd): field errors,
hostile text shown as typed, tokens out of the address bar, a co-sponsor link used twice, the declined list."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.models import Proposal, ProposalSponsor
from campaigns.core.settings import get_settings
from campaigns.proposals import drafting, review
from campaigns.ui import widgets
from tests.app.test_app_staff import staff_app  # noqa: F401  # the fixture, shared
from tests.support.apptest import point_app_at, run_with_query
from tests.support.mail import Mailbox, smtp_settings

pytestmark = pytest.mark.apptest
PUBLIC = "https://rally.example.org"
HOSTILE = "<script>alert(1)</script> **bold** [click](javascript:alert(1))"


def page(name: str) -> AppTest:
    return AppTest.from_string(f"import campaigns.ui.proposals as page\npage.{name}()\n", default_timeout=30)


def body(envelope) -> str:
    return BytesParser(policy=policy.default).parsebytes(envelope.content).get_content()


def token_in(envelope, path: str) -> str:
    return re.search(rf"/{path}\?token=([\w-]+)", body(envelope)).group(1)


@pytest.fixture
def site(engine, default_settings, smtp_server):
    controller, handler = smtp_server
    point_app_at(
        engine, default_settings, public_url=PUBLIC, **smtp_settings(controller, "Rally <r@rally.example.org>")
    )
    return engine, Mailbox(engine, handler)


def proposal(engine, mailbox, **overrides) -> tuple[int, str]:
    values = {"title": "Bike lanes", "purpose": "Safe cycling.", "ask": "Build them.", "target": "The council"}
    values.update(overrides)
    text = drafting.ProposalText(**values, region_scheme="us-states")
    proposer = drafting.ProposerInput(full_name="Maria Lopez", email="maria@example.org", credit=True)
    pid = run_write(engine, lambda s: drafting.propose(session=s, text=text, proposer=proposer))
    return pid, token_in(mailbox[-1], "my-proposal")


def test_the_propose_form_shows_each_fields_problem_and_stores_nothing(site):
    engine, mailbox = site
    at = page("render_propose").run()
    next(b for b in at.button if b.label == "Propose the campaign").click().run()
    errors = [e.value for e in at.error]
    assert "The title is missing." in errors and "Please enter your name." in errors
    assert "Please enter your email address." in errors
    assert "The request (what it asks for) is missing." in errors  # named as the form asks for it
    assert "The decision-maker (of whom) is missing." in errors
    with read_session(engine) as session:
        assert session.execute(select(Proposal)).first() is None
    assert len(mailbox) == 0


def test_the_proposers_page_confirms_once_shows_text_as_typed_and_drops_the_token(site):
    engine, mailbox = site
    pid, token = proposal(engine, mailbox, purpose=HOSTILE)
    at = run_with_query(page("render_own"), token=token)
    assert not at.exception
    assert "token" not in at.query_params
    assert HOSTILE in [t.value for t in at.text]  # plain text, as typed
    assert all(HOSTILE not in m.value for m in at.markdown)
    assert any("0 of 5 co-sponsors" in p.proto.text for p in at.get("progress"))
    with read_session(engine) as session:
        assert session.get(Proposal, pid).status == "gathering"
    wrong = run_with_query(page("render_own"), token=token + "x")
    assert any("couldn't find a proposal" in e.value for e in wrong.error)


def test_co_sponsoring_from_the_share_link_and_a_link_used_twice(site):
    engine, mailbox = site
    pid, token = proposal(engine, mailbox, title="**Loud** <i>title</i>")
    run_write(engine, lambda s: drafting.confirm_own(session=s, token=token))
    with read_session(engine) as session:
        public_id = session.get(Proposal, pid).public_id
    at = run_with_query(page("render_sponsor"), p=public_id)
    assert at.title[0].value == r"\*\*Loud\*\* \<i\>title\</i\>"  # escaped: shown as typed
    labels = [m.value for m in at.markdown]
    assert labels.index("**Why this matters**") < labels.index("**What it asks for**") < labels.index("**Of whom**")
    next(w for w in at.text_input if w.label == "Your name").set_value("Sam Lee")
    next(w for w in at.text_input if w.label == "Email").set_value("sam@example.org")
    next(b for b in at.button if b.label == "Co-sponsor this proposal").click().run()
    assert any("Check your inbox" in s.value for s in at.success)
    link = token_in(next(e for e in mailbox if e.rcpt_tos == ["sam@example.org"]), "cosponsor-confirm")
    first = run_with_query(page("render_sponsor_confirm"), token=link)
    assert "token" not in first.query_params
    assert any("1 of 5 co-sponsors" in s.value.replace("\\", "") for s in first.success)
    assert [t.value for t in first.title] == [r"\*\*Loud\*\* \<i\>title\</i\>"]  # what they now co-sponsor
    again = run_with_query(page("render_sponsor_confirm"), token=link)
    assert any("already" in i.value for i in again.info) and not again.success
    assert all("**Loud**" not in i.value and "<i>" not in i.value for i in again.info)  # the title as typed
    assert [t.value for t in again.title] == ["Confirm your co-sponsorship"]
    with read_session(engine) as session:
        [row] = session.execute(select(ProposalSponsor)).scalars()
    assert row.confirmed_at is not None


def test_declined_proposals_list_only_those_made_public(site):
    engine, mailbox = site
    from campaigns.core.models import ProposalStatus

    for title, public in (("Shown <b>here</b>", True), ("Kept private", False)):
        pid, _ = proposal(engine, mailbox, title=title)
        run_write(
            engine,
            lambda s, pid=pid: s.execute(
                Proposal.__table__.update().where(Proposal.id == pid).values(status=ProposalStatus.in_review.value)
            ),
        )
        run_write(
            engine,
            lambda s, pid=pid, public=public: review.decline(
                session=s, proposal_id=pid, reason="Out of scope.", public=public, actor=CLI
            ),
        )
    at = page("render_declined").run()
    shown = "\n".join(m.value for m in at.markdown)
    assert r"Shown \<b\>here\</b\>" in shown and "Kept private" not in shown
    assert "Out of scope." in [t.value for t in at.text]


def test_a_proposal_past_its_hourly_offers_says_so_on_its_share_link_and_emails_nobody(site, default_settings):
    engine, mailbox = site
    pid, token = proposal(engine, mailbox)
    run_write(engine, lambda s: drafting.confirm_own(session=s, token=token))
    point_app_at(engine, get_settings(), proposal_offers_per_hour=1)
    with read_session(engine) as session:
        public_id = session.get(Proposal, pid).public_id
    for email in ("first@example.org", "second@example.org"):
        at = run_with_query(page("render_sponsor"), p=public_id)
        next(w for w in at.text_input if w.label == "Your name").set_value("Sam Lee")
        next(w for w in at.text_input if w.label == "Email").set_value(email)
        next(b for b in at.button if b.label == "Co-sponsor this proposal").click().run()
    assert any("in the last hour" in e.value for e in at.error) and not at.success
    assert [e.rcpt_tos for e in mailbox if e.rcpt_tos != ["maria@example.org"]] == [["first@example.org"]]


def _in_review(engine, title: str, email: str) -> int:
    from campaigns.core.models import ProposalStatus

    text = drafting.ProposalText(title=title, purpose="P.", ask="A.", target="T.", region_scheme="us-states")
    proposer = drafting.ProposerInput(full_name="Maria Lopez", email=email, credit=True)
    pid = run_write(engine, lambda s: drafting.propose(session=s, text=text, proposer=proposer))
    run_write(
        engine,
        lambda s: s.execute(
            Proposal.__table__.update().where(Proposal.id == pid).values(status=ProposalStatus.in_review.value)
        ),
    )
    return pid


def test_the_queue_shows_what_waits_and_a_published_members_title_as_typed(staff_app, engine):  # noqa: F811
    as_person, _ = staff_app
    as_person(("organizer",))
    _in_review(engine, "**Loud** <i>title</i>", "maria@example.org")
    gathering = _in_review(engine, "Still gathering", "lee@example.org")
    run_write(
        engine,
        lambda s: s.execute(Proposal.__table__.update().where(Proposal.id == gathering).values(status="gathering")),
    )
    at = AppTest.from_string("import campaigns.ui.proposal_queue as page\npage.render()\n", default_timeout=30).run()
    assert not at.exception
    assert [h.value for h in at.subheader] == [r"\*\*Loud\*\* \<i\>title\</i\>"]  # what waits, by default
    next(b for b in at.button if b.label == "Publish as a campaign").click().run()
    assert not at.exception
    [done] = at.success
    assert done.value == widgets.plain("Published “**Loud** <i>title</i>”: it is a campaign now.")
    assert "**Loud**" not in done.value


def test_the_queue_names_the_scheme_and_folds_decided_proposals_away(site, monkeypatch):
    from campaigns.core.models import ProposalStatus
    from campaigns.people import logins, staff
    from campaigns.ui import access

    engine, mailbox = site
    ids = [proposal(engine, mailbox, title=title)[0] for title in ("Bike lanes", "Free parking")]
    for pid in ids:
        run_write(
            engine,
            lambda s, pid=pid: s.execute(
                Proposal.__table__.update().where(Proposal.id == pid).values(status=ProposalStatus.in_review.value)
            ),
        )
    run_write(
        engine,
        lambda s: review.decline(session=s, proposal_id=ids[1], reason="Out of scope.", public=True, actor=CLI),
    )
    password = "correct horse battery staple"
    run_write(
        engine,
        lambda s: staff.create_user(
            session=s, email="olga@example.org", password=password, roles=["organizer"], actor=CLI
        ),
    )
    cookie = logins.log_in(engine=engine, email="olga@example.org", password=password, client_address="test")
    monkeypatch.setattr(access, "session_cookie", lambda: cookie)
    at = AppTest.from_string("import campaigns.ui.proposal_queue as page\npage.render()\n", default_timeout=30)
    at.session_state["proposal-queue-status"] = "all"  # decided ones are not what waits: shown under All
    at = at.run()
    assert not at.exception
    assert widgets.plain("Signers choose from: US states") in [c.value for c in at.caption]
    assert not [t for t in at.text if "us-states" in t.value]
    assert [h.value for h in at.subheader] == ["Bike lanes"]  # to decide: open, with its decisions
    [folded] = at.expander
    assert folded.label == widgets.plain("Free parking · declined")  # decided: one line to open
    assert not [i for i in at.info if "Nothing waits" in i.value]
    run_write(engine, lambda s: review.decline(session=s, proposal_id=ids[0], reason="No.", public=False, actor=CLI))
    at = AppTest.from_string("import campaigns.ui.proposal_queue as page\npage.render()\n", default_timeout=30).run()
    assert [i for i in at.info if "No proposals wait for a decision" in i.value]  # the default view: what waits
    at = AppTest.from_string("import campaigns.ui.proposal_queue as page\npage.render()\n", default_timeout=30)
    at.session_state["proposal-queue-status"] = "all"
    at = at.run()
    assert len(at.expander) == 2
    assert [t.value for t in folded.text].count("Out of scope.") == 1  # the reason once, not again in the thread
