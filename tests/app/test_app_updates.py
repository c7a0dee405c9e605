"""The editor's Updates tab and the campaign page's timeline under AppTest: write, save, test, send (asked
first, started once), the rate limit said, progress and the list of sent updates; the timeline a few at a time.

Identity is resolved for real (a signed cookie, a session row in the database); only the browser's way of
sending the cookie is replaced, since AppTest has no browser (as in test_app_staff.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.models import SignerUpdate, utcnow
from campaigns.core.settings import override_settings
from campaigns.people import logins, staff
from campaigns.ui import access, widgets
from campaigns.updates import updates
from tests.support.apptest import point_app_at
from tests.support.factories import make_campaign, sign_from

pytestmark = pytest.mark.apptest
PASSWORD = "correct horse battery staple"


@pytest.fixture
def editor(engine, default_settings, monkeypatch):
    point_app_at(engine, default_settings)
    email = "olga@example.org"
    run_write(
        engine,
        lambda s: staff.create_user(session=s, email=email, password=PASSWORD, roles=["organizer"], actor=CLI),
    )
    cookie = logins.log_in(engine=engine, email=email, password=PASSWORD, client_address="test")
    monkeypatch.setattr(access, "session_cookie", lambda: cookie)

    def open_editor(slug: str) -> AppTest:
        at = AppTest.from_string("import campaigns.ui.organize as page\npage.render_editor()\n", default_timeout=30)
        at.query_params["edit"] = slug
        return at.run()

    return open_editor


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def shown(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [s.value for s in at.success]
    return "\n".join(parts + [w.value for w in at.warning] + [i.value for i in at.info] + [e.value for e in at.error])


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_an_organizer_writes_tests_and_sends_an_update_once(engine, editor):
    campaign = make_campaign(engine, slug="libraries")
    for _ in range(2):
        sign_from(engine, "libraries", contact_consent=True)
    at = editor("libraries")
    next(t for t in at.text_input if t.label == "Update subject").input("Council vote on Monday")
    next(t for t in at.text_area if t.label == "Update text (markdown)").input("# Thanks\nCome **along**.")
    at = button(at, "Save draft").click().run()
    assert "Draft saved." in shown(at) and "It will reach **2** signers" in shown(at)
    assert "#### Council vote on Monday" in shown(at)  # the preview shows it as the campaign page will
    assert "##### Thanks\nCome **along**." in shown(at)  # its headings under the subject, not above the page's
    assert button(at, "Send to 2 signers").disabled and "Send yourself a test of this version first" in captions(at)
    at = button(at, "Send a test to me").click().run()
    assert "A test is on its way to olga@example.org" in shown(at)
    assert not button(at, "Send to 2 signers").disabled
    next(t for t in at.text_input if t.label == "Update subject").input("Council vote on Monday!")
    at = button(at, "Save draft").click().run()
    assert button(at, "Send to 2 signers").disabled  # edited since its test: test this version
    at = button(at, "Send a test to me").click().run()
    next(t for t in at.text_input if t.label == "Update subject").input("Council vote on Monday")
    at = button(at, "Save draft").click().run()
    at = button(at, "Send a test to me").click().run()
    at = button(at, "Send to 2 signers").click().run()
    assert "can't be changed or called back" in shown(at)  # it asks first
    at = button(at, "Yes, send it").click().run()
    assert not at.exception and "**Past updates**" in shown(at)
    assert "Sending started: “Council vote on Monday” is on its way to 2 signers." in shown(at)  # said, once
    assert "The next update may start sending from" in shown(at)  # the rate limit, said
    with read_session(engine) as session:
        [row] = session.execute(select(SignerUpdate)).scalars()
    assert (row.subject, row.status, row.recipients, row.campaign_id) == (
        "Council vote on Monday",
        "sending",
        2,
        campaign.id,
    )


def test_the_campaign_page_shows_updates_newest_first_a_few_at_a_time(engine, app):
    campaign = make_campaign(engine, slug="rivers")
    sign_from(engine, "rivers", contact_consent=True)
    with override_settings(update_min_days=0):
        for n in range(4):
            update_id = run_write(
                engine,
                lambda s, n=n: updates.draft_update(
                    session=s,
                    campaign_id=campaign.id,
                    subject=f"Update {n}",
                    body="## Done\n<script>x</script> **ok**",
                    actor=CLI,
                ),
            )
            run_write(
                engine,
                lambda s, u=update_id, n=n: updates.start_sending(
                    session=s, update_id=u, actor=CLI, now=utcnow() + timedelta(minutes=n)
                ),
            )
    at = app(campaign="rivers")
    titles = [m.value for m in at.markdown if m.value.startswith("#### Update")]
    assert titles == ["#### Update 3", "#### Update 2", "#### Update 1"]
    assert "###### Done\n<script>x</script> **ok**" in [m.value for m in at.markdown]  # under its subject
    at = button(at, "More updates").click().run()
    assert [m.value for m in at.markdown if m.value.startswith("#### Update")][-1] == "#### Update 0"
    assert not [b for b in at.button if b.label == "More updates"]


def test_a_subject_with_markdown_is_shown_as_typed_when_sending_and_in_the_progress(engine, editor):
    make_campaign(engine, slug="parks")
    sign_from(engine, "parks", contact_consent=True)
    subject = "**Vote** [here](https://evil.example) :red[now]"
    at = editor("parks")
    next(t for t in at.text_input if t.label == "Update subject").input(subject)
    next(t for t in at.text_area if t.label == "Update text (markdown)").input("Come along.")
    at = button(at, "Save draft").click().run()
    assert button(at, "Send to 1 signers").disabled  # a test first
    at = button(at, "Send a test to me").click().run()
    at = button(at, "Send to 1 signers").click().run()
    escaped = widgets.plain(subject)  # shown literally: no bold, no link, no colour
    [warning] = [w.value for w in at.warning if "signers now?" in w.value]
    assert escaped in warning and subject not in warning  # shown literally: no bold, no link, no colour
    at = button(at, "Yes, send it").click().run()
    [sending] = [p.proto.text for p in at.get("progress") if p.proto.text.startswith("Sending")]
    assert escaped in sending and subject not in sending
