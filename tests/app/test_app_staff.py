"""Staff pages under AppTest: every page refuses the anonymous and the wrong role, and serves the right one.

Identity is resolved for real (a signed cookie, a session row in the database); only the
browser's way of sending the cookie is replaced, since AppTest has no browser.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from campaigns.core import settings as settings_module
from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.models import utcnow
from campaigns.people import logins, passwords, staff
from campaigns.sharing import links
from campaigns.ui import access, navigation
from tests.support.apptest import point_app_at

pytestmark = pytest.mark.apptest
PASSWORD = "correct horse battery staple"
STAFF_PAGES = {  # page: (module, function, a role that may see it, a role that may not)
    "people": ("campaigns.ui.admin", "render_people", "admin", "organizer"),
    "audit": ("campaigns.ui.admin", "render_audit", "admin", "coordinator"),
    "account": ("campaigns.ui.account", "render", "organizer", None),
    "password": ("campaigns.ui.account", "render_password", "coordinator", None),
    "overview": ("campaigns.ui.organize", "render_overview", "coordinator", "admin"),
    "editor": ("campaigns.ui.organize", "render_editor", "organizer", "coordinator"),
    "moderation": ("campaigns.ui.moderation", "render", "organizer", "coordinator"),
    "regions": ("campaigns.ui.organize_parts", "render_regions", "organizer", "coordinator"),
    "paper": ("campaigns.ui.paper", "render", "coordinator", "admin"),
    "export": ("campaigns.ui.export", "render", "coordinator", "admin"),
    "review": ("campaigns.ui.review", "render_review", "organizer", "coordinator"),
    "rules": ("campaigns.ui.review", "render_rules", "admin", "coordinator"),
    "mail": ("campaigns.ui.mail", "render", "organizer", "coordinator"),
}


@pytest.fixture
def staff_app(engine, default_settings, monkeypatch):
    point_app_at(engine, default_settings)
    cookies: dict[str, str | None] = {"value": None}
    monkeypatch.setattr(access, "session_cookie", lambda: cookies["value"])

    def as_person(roles: tuple[str, ...] | None, email: str = "staff@example.org") -> None:
        if roles is None:
            cookies["value"] = None
            return
        run_write(
            engine,
            lambda s: staff.create_user(session=s, email=email, password=PASSWORD, roles=list(roles), actor=CLI),
        )
        cookies["value"] = logins.log_in(engine=engine, email=email, password=PASSWORD, client_address="test")

    def open_page(name: str) -> AppTest:
        module, function, _, _ = STAFF_PAGES[name]
        script = f"import {module} as page\npage.{function}()\n"
        return AppTest.from_string(script, default_timeout=30).run()

    return as_person, open_page


def refused(at: AppTest) -> bool:
    return any("This page is for Rally staff" in e.value for e in at.error) and not at.title


@pytest.mark.parametrize("page", sorted(STAFF_PAGES))
def test_staff_pages_refuse_anonymous_visitors(staff_app, page):
    as_person, open_page = staff_app
    as_person(None)
    at = open_page(page)
    assert not at.exception and refused(at)


@pytest.mark.parametrize("page", sorted(p for p, spec in STAFF_PAGES.items() if spec[3]))
def test_staff_pages_refuse_the_wrong_role(staff_app, page):
    as_person, open_page = staff_app
    as_person((STAFF_PAGES[page][3],))
    at = open_page(page)
    assert not at.exception and refused(at)


@pytest.mark.parametrize("page", sorted(STAFF_PAGES))
def test_staff_pages_serve_the_right_role(staff_app, page):
    as_person, open_page = staff_app
    as_person((STAFF_PAGES[page][2],))
    at = open_page(page)
    assert not at.exception and not refused(at) and at.title


def test_navigation_offers_each_person_only_their_pages():
    from campaigns.core.audit import Actor

    def paths(actor):
        return {spec[2] for specs in navigation.page_specs(actor).values() for spec in specs}

    assert paths(None) == {"campaigns", "dashboard", "my-data", "propose"}
    public = {"campaigns", "dashboard", "my-data", "propose", "account", "password"}
    assert paths(Actor(1, "o@example.org", frozenset({"coordinator"}))) == public | {
        spec[2] for spec in navigation.ROLE_PAGES.get("coordinator", ("", []))[1]
    }
    assert {"people", "audit"} <= paths(Actor(1, "a@example.org", frozenset({"admin"})))
    assert not {"people", "audit"} & paths(Actor(1, "o@example.org", frozenset({"organizer"})))


def test_a_deactivated_persons_open_page_refuses_them_on_the_next_run(staff_app, engine):
    as_person, open_page = staff_app
    as_person(("admin",), email="other-admin@example.org")
    other = access.session_cookie()
    as_person(("admin",))
    with read_session(engine) as session:
        me = next(u for u in staff.list_users(session=session) if u.email == "staff@example.org")
        them = next(u for u in staff.list_users(session=session) if u.email == "other-admin@example.org")
    assert not refused(open_page("people"))
    actor = run_write(engine, lambda s: logins.identify(session=s, cookie_value=other))
    run_write(engine, lambda s: staff.set_active(session=s, user_id=me.id, active=False, actor=actor))
    assert refused(open_page("people"))
    assert them.is_active


def add_person(staff_app, email: str, password: str) -> AppTest:
    """As an admin, fill in and submit the People page's add-person form."""
    as_person, open_page = staff_app
    as_person(("admin",))
    at = open_page("people")
    form_inputs = {w.label.split(" (")[0]: w for w in at.text_input}
    form_inputs["Email"].set_value(email)
    form_inputs["First password"].set_value(password)
    return next(b for b in at.button if b.label == "Add person").click().run()


def test_admin_adds_a_person_through_the_form(staff_app, engine):
    at = add_person(staff_app, "new.organizer@example.org", "a long enough first password")
    assert not at.exception
    with read_session(engine) as session:
        emails = {u.email: u.roles for u in staff.list_users(session=session)}
    assert emails["new.organizer@example.org"] == ("organizer",)


def test_short_first_password_is_refused_in_the_form(staff_app, engine):
    at = add_person(staff_app, "x@example.org", "short")
    assert any("at least 12 characters" in e.value for e in at.error)
    with read_session(engine) as session:
        assert "x@example.org" not in {u.email for u in staff.list_users(session=session)}


def test_organizer_creates_a_draft_in_the_editor(staff_app, engine):
    from campaigns.catalog.listing import get_campaign_by_slug

    as_person, open_page = staff_app
    as_person(("organizer",))
    at = open_page("editor")
    by_label = {w.label: w for w in [*at.text_input, *at.text_area]}
    by_label["Title"].set_value("Save the Élm Street trees!").run()
    at.text_area[0].set_value("Forty old elms are due to be felled next spring.")
    at = next(b for b in at.button if b.label == "Create draft").click().run()
    assert not at.exception, at.exception
    with read_session(engine) as session:
        campaign = get_campaign_by_slug(session=session, slug="save-the-elm-street-trees")
        assert campaign is not None and campaign.status == "draft"


def test_editor_shows_each_field_problem(staff_app):
    as_person, open_page = staff_app
    as_person(("organizer",))
    at = open_page("editor")
    at = next(b for b in at.button if b.label == "Create draft").click().run()
    messages = " ".join(e.value for e in at.error)
    assert "Title:" in messages and "Purpose:" in messages and "Link name:" in messages


def test_region_schemes_page_shows_an_unreadable_shapes_file_as_one_clear_message(staff_app, engine):
    from campaigns.regions.lookup import list_custom_schemes

    as_person, open_page = staff_app
    as_person(("organizer",))
    at = open_page("regions")
    at.text_input[0].set_value("Wards")
    at.file_uploader[0].set_value(("wards.csv", b"code,name\nN,North\n", "text/csv"))
    huge = b'{"type": "FeatureCollection", "features": [{"type": "Feature", "id": "N", "geometry": '
    huge += b'{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, ' + b"9" * 5_000 + b"], [0, 0]]]}}]}"
    at.file_uploader[1].set_value(("wards.geojson", huge, "application/geo+json"))
    at = next(b for b in at.button if b.label == "Create scheme").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        'The shapes file has a number of 5,000 characters ("99999999999999999999…"); at most 40 are allowed.'
    ]
    with read_session(engine) as session:
        assert list_custom_schemes(session=session) == []


def change_password_form(at: AppTest, current: str, new: str, again: str | None = None) -> AppTest:
    fields = {w.label.split(" (")[0]: w for w in at.text_input}
    fields["Current password"].set_value(current)
    fields["New password"].set_value(new)
    fields["New password again"].set_value(new if again is None else again)
    return next(b for b in at.button if b.label == "Change password").click().run()


def test_password_page_states_the_rule_and_changes_the_password(staff_app, engine):
    as_person, open_page = staff_app
    as_person(("organizer",))
    other = logins.log_in(engine=engine, email="staff@example.org", password=PASSWORD, client_address="test")
    at = open_page("password")
    assert any(f"at least {passwords.PASSWORD_MIN} characters" in w.label for w in at.text_input)
    at = change_password_form(at, PASSWORD, "a brand new staff passphrase")
    assert not at.exception and any("password is changed" in s.value for s in at.success)
    assert run_write(engine, lambda s: logins.identify(session=s, cookie_value=access.session_cookie())) is not None
    assert run_write(engine, lambda s: logins.identify(session=s, cookie_value=other)) is None
    logins.log_in(engine=engine, email="staff@example.org", password="a brand new staff passphrase", client_address="t")


@pytest.mark.parametrize(
    ("current", "new", "again", "message"),
    [
        ("not my password at all", "a brand new staff passphrase", None, "not your current password"),
        (PASSWORD, "a brand new staff passphrase", "something else entirely", "differ"),
        (PASSWORD, "qwerty123456", None, "most common passwords"),
    ],
)
def test_password_page_refusals_change_nothing(staff_app, engine, current, new, again, message):
    as_person, open_page = staff_app
    as_person(("coordinator",))
    at = change_password_form(open_page("password"), current, new, again)
    assert not at.exception and any(message in e.value for e in at.error)
    logins.log_in(engine=engine, email="staff@example.org", password=PASSWORD, client_address="t")  # still works


def reset_button(staff_app, engine):
    """As an admin, choose another person on the People page and press Reset password."""
    from tests.support.factories import make_user

    as_person, open_page = staff_app
    make_user(engine, email="ada@example.org", roles=["organizer"])
    as_person(("admin",))
    at = open_page("people")
    at.selectbox[0].set_value("ada@example.org").run()
    assert any(f"at least {passwords.PASSWORD_MIN} characters" in c.value for c in at.caption)
    return next(b for b in at.button if b.label == "Reset password").click().run()


def test_admin_reset_without_mail_shows_the_link_once(staff_app, engine):
    from campaigns.people import password_links

    at = reset_button(staff_app, engine)
    assert not at.exception and any("shown only now" in w.value for w in at.warning)
    (link,) = [c.value for c in at.code]
    assert link.startswith(f"{links.public_base()}/auth/set-password?token=")
    password_links.use_link(engine=engine, token=link.split("token=")[1], password="a brand new staff passphrase")
    assert not at.run().code  # the next run shows it no more


def test_admin_reset_with_mail_emails_the_link(staff_app, engine, smtp_server):
    from tests.support.mail import Mailbox, smtp_settings

    controller, handler = smtp_server
    settings_module.use_settings(
        replace(settings_module.get_settings(), **smtp_settings(controller, "staff@example.org"))
    )
    at = reset_button(staff_app, engine)
    assert not at.exception and any("emailed to ada@example.org" in s.value for s in at.success) and not at.code
    (envelope,) = Mailbox(engine, handler)
    assert envelope.rcpt_tos == ["ada@example.org"] and b"/auth/set-password?token=" in envelope.content


# --- trust: review, sign rules, mail ------------------------------------------------------------------


def _flood(engine):
    from campaigns.signatures.signing import sign
    from tests.support.factories import make_campaign, signer

    campaign = make_campaign(engine, slug="flooded", title="Flooded")
    for n in range(12):
        run_write(
            engine,
            lambda s, n=n: sign(
                session=s,
                campaign_slug="flooded",
                signer=signer(email=f"bot{n}@burner.example"),
                client_address="203.0.113.9",
            ),
        )
    return campaign


def test_review_page_shows_the_trend_and_invalidates_a_flood_in_one_action(staff_app, engine):
    from tests.unit.test_supporters import assert_counts_match_signatures

    campaign = _flood(engine)
    as_person, open_page = staff_app
    as_person(("organizer",))
    at = open_page("review")
    assert not at.exception
    assert any("203\\.0\\.113\\.9" in w.value and "12 times" in w.value for w in at.warning)  # trending
    assert any("7 signatures match" in h.value for h in at.subheader)  # the flagged ones, by default
    at.multiselect[0].set_value(["flagged", "counted"])
    at.text_input[0].set_value("203.0.113.0/24")
    at = at.run()
    assert any("12 signatures match" in h.value for h in at.subheader)
    invalidate = next(b for b in at.button if b.label == "Invalidate them")
    assert invalidate.disabled  # not before the reviewer says they looked
    at.checkbox[0].check()
    at = next(b for b in at.run().button if b.label == "Invalidate them").click().run()
    assert not at.exception
    assert any("12 invalidated; 5 of them counted until now" in s.value for s in at.success)
    assert assert_counts_match_signatures(engine, campaign.id) == 0


def test_rules_page_adds_a_rule_and_refuses_a_bad_one_with_its_message(staff_app, engine):
    from campaigns.signatures import rules

    as_person, open_page = staff_app
    as_person(("organizer",))
    at = open_page("rules")
    at.text_input[0].set_value("*@mailinator.com")
    at = next(b for b in at.button if b.label == "Add rule").click().run()
    assert not at.exception
    with read_session(engine) as session:
        assert [r.pattern for r in rules.list_rules(session=session)] == ["*@mailinator.com"]
    at.selectbox[0].set_value("address")
    at.text_input[0].set_value("0.0.0.0/0")
    at = next(b for b in at.button if b.label == "Add rule").click().run()
    assert any("too wide" in e.value for e in at.error)
    at = next(b for b in at.button if b.label == "Remove").click().run()
    with read_session(engine) as session:
        assert rules.list_rules(session=session) == []


def test_mail_page_lists_an_uncertain_message_and_resends_it_only_when_asked(staff_app, engine, tmp_path):
    from campaigns.core import outbox, outbox_worker
    from campaigns.core.mail import OutgoingMail

    as_person, open_page = staff_app
    mail = OutgoingMail("a@example.org", "A", "", "", "Hello", "Hi.")
    run_write(engine, lambda s: outbox.enqueue(session=s, kind="my-data-link", mail=mail))
    run_write(engine, lambda s: outbox.claim(session=s, worker="gone"))
    later = utcnow() + timedelta(seconds=outbox.LEASE_SECONDS + 1)
    run_write(engine, lambda s: outbox.recover_expired_leases(session=s, now=later))
    as_person(("organizer",))
    at = open_page("mail")
    assert not at.exception
    assert any("Mail is not set up" in w.value for w in at.warning)  # the development outbox banner
    assert any("may have been delivered already" in c.value for c in at.caption)
    resend = next(b for b in at.button if b.label == "Send again")
    assert resend.disabled
    at.checkbox[0].check()
    at = next(b for b in at.run().button if b.label == "Send again").click().run()
    assert not at.exception and outbox_worker.drain(engine=engine).sent == 1


def test_the_letter_tab_tallies_sent_by_rally_apart_from_downloads_and_mail_app_opens(staff_app, engine):
    from campaigns.core.models import Outreach
    from campaigns.letters import outreach
    from campaigns.signatures.signing import sign
    from tests.support.factories import make_letter_campaign, signer

    as_person, _ = staff_app
    as_person(("organizer",))
    campaign = make_letter_campaign(
        engine, slug="tally-tab", title="Tallies", target={"region_code": "US-CA", "name": "Alex Padilla"}
    )
    letters = []
    for _ in range(3):
        done = run_write(engine, lambda s: sign(session=s, campaign_slug="tally-tab", signer=signer()))
        [suggested] = run_write(
            engine, lambda s, d=done: outreach.suggest_letters(session=s, signature_id=d.signature_id)
        )
        letters.append(
            run_write(
                engine,
                lambda s, d=done, t=suggested.target_id: outreach.save_letter(
                    session=s, signature_id=d.signature_id, target_id=t, subject="Hi", body="Please."
                ),
            )
        )
    rows = [
        (0, "email", "sent"),
        (0, "pdf", "sent"),
        (1, "text", "sent"),
        (1, "mailto", "sent"),
        (2, "email", "failed"),
    ]

    def work(session):
        for i, channel, status in rows:
            session.add(
                Outreach(letter_id=letters[i].id, target_id=letters[i].target_id, channel=channel, status=status)
            )

    run_write(engine, work)
    at = AppTest.from_string("import campaigns.ui.organize as page\npage.render_editor()\n", default_timeout=30)
    at.query_params["edit"] = campaign.slug
    at.run()
    assert not at.exception, at.exception
    table = next(df.value for df in at.dataframe if "Sent by Rally (email)" in df.value.columns)
    assert table.to_dict("records") == [
        {
            "Target": "Alex Padilla",
            "Region": "US-CA",
            "Sent by Rally (email)": 1,
            "Downloaded (PDF or text)": 2,
            "Opened in the signer's mail app": 1,
            "Email waiting to be sent": 0,
            "Email failed": 1,
            "Email maybe sent (interrupted)": 0,
        }
    ]
    assert any("1 of Rally's emails to targets could not be delivered" in w.value for w in at.warning)


def test_the_letter_tab_previews_this_campaign_for_a_made_up_signer_with_a_pdf(staff_app, engine):
    """Regression: the preview used to show a sample campaign's title, purpose and count, not this one's."""
    from campaigns.letters import preview
    from tests.support.factories import make_letter_campaign, sign_from

    as_person, _ = staff_app
    as_person(("organizer",))
    make_letter_campaign(
        engine, slug="other-one", title="Someone else's campaign", target={"region_code": None, "name": "Nobody"}
    )
    template = (
        "Dear {{ target.title }} {{ target.name }},\n\n{{ campaign.title }}: {{ campaign.count }} so far, "
        "from {{ signer.region_name }}.\n\n{{ signer.full_name }}"
    )
    campaign = make_letter_campaign(
        engine,
        slug="river-letter",
        title="Save the river",
        template=template,
        target={"region_code": "US-NY", "name": "Lena Park", "postal_address": "State Capitol\nAlbany, NY 12224"},
    )
    sign_from(engine, "river-letter", region_code="US-NY", full_name="Rosa Real")
    at = AppTest.from_string("import campaigns.ui.organize as page\npage.render_editor()\n", default_timeout=30)
    at.query_params["edit"] = campaign.slug
    at.run()
    assert not at.exception, at.exception
    previews = [t.value for t in at.text if "Dear Senator Lena Park" in t.value]
    assert previews == [f"Dear Senator Lena Park,\n\nSave the river: 1 so far, from New York.\n\n{preview.SAMPLE_NAME}"]
    assert not any("Rosa Real" in t.value or "Someone else" in t.value for t in at.text)
    assert any("**About Save the river**" in m.value for m in at.markdown)
    assert any("To Lena Park, from a signer in New York" in c.value for c in at.caption)
    [download] = [d for d in at.get("download_button") if d.proto.label == "Download this preview (PDF)"]
    assert download.proto.label

    body = next(w for w in at.text_area if w.label == "Letter (Jinja2 template)")
    at = body.set_value("{{ campaign.nope }}").run()  # a broken template: its reason, where the preview was
    assert not at.exception
    assert any("nope" in e.value for e in at.error)


def test_the_bundle_picker_starts_with_the_target_who_has_the_most_letters(staff_app, engine):
    from campaigns.core.audit import CLI
    from campaigns.letters import outreach, targets
    from campaigns.signatures.signing import sign
    from tests.support.factories import make_letter_campaign, signer

    as_person, _ = staff_app
    as_person(("organizer",))
    campaign = make_letter_campaign(
        engine, slug="bundle-order", title="Bundles", target={"region_code": "US-AK", "name": "Alaska Board"}
    )
    run_write(
        engine,
        lambda s: targets.add_target(
            session=s, campaign_id=campaign.id, region_code="US-CA", name="California Board", title="", actor=CLI
        ),
    )
    done = run_write(
        engine, lambda s: sign(session=s, campaign_slug="bundle-order", signer=signer(region_code="US-CA"))
    )
    [suggested] = run_write(engine, lambda s: outreach.suggest_letters(session=s, signature_id=done.signature_id))
    letter = run_write(
        engine,
        lambda s: outreach.save_letter(
            session=s, signature_id=done.signature_id, target_id=suggested.target_id, subject="Hi", body="Please."
        ),
    )
    run_write(
        engine,
        lambda s: outreach.record_delivery(session=s, letter_id=letter.id, channel="pdf"),
    )
    at = AppTest.from_string("import campaigns.ui.organize as page\npage.render_editor()\n", default_timeout=30)
    at.query_params["edit"] = campaign.slug
    at.run()
    assert not at.exception, at.exception
    picker = next(s for s in at.selectbox if s.label == "Printable bundle for")
    assert picker.value == suggested.target_id and "California Board" in picker.options[0]
