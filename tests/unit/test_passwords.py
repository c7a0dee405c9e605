"""Staff password lifecycle on a real SQLite file and PostgreSQL: the password rule, changing one's own,
an admin's one-time set-password link (shown, or emailed through a real SMTP server), the command line."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from campaigns.core import settings as settings_module
from campaigns.core.audit import Actor
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput, RallyError
from campaigns.core.models import AuditEntry, LoginAttempt, SupporterToken, utcnow
from campaigns.people import logins, password_links, passwords, staff
from campaigns.sharing import links
from tests.support.factories import PASSWORD, make_user
from tests.support.mail import Mailbox, smtp_settings

NEW = "a brand new staff passphrase"


def log_in(engine, email="ada@example.org", password=PASSWORD):
    return logins.log_in(engine=engine, email=email, password=password, client_address="10.0.0.1")


def who(engine, cookie):
    return run_write(engine, lambda s: logins.identify(session=s, cookie_value=cookie))


def actions(engine):
    with read_session(engine) as session:
        return session.execute(select(AuditEntry.actor, AuditEntry.action).order_by(AuditEntry.id)).all()


def token_of(url):
    return parse_qs(urlsplit(url).query)["token"][0]


@pytest.fixture
def people(engine):
    admin = make_user(engine, email="admin@example.org", roles=["admin"])
    ada = make_user(engine, email="ada@example.org", roles=["organizer"])
    return Actor(admin.id, admin.email, frozenset({"admin"})), ada


# --- the rule ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["qwerty123456", "QWERTY123456", "1qaz2wsx3edc", "Password2024!", "  Dragon!!!!!!  ", "123456!!!!!!"]
)
def test_common_passwords_are_refused_whatever_their_case_and_the_digits_around_them(password):
    with pytest.raises(InvalidInput, match="most common passwords") as info:
        passwords.check_password(password)
    assert "password" in info.value.errors


def test_good_passwords_pass_and_the_minimum_is_stated():
    assert passwords.check_password(PASSWORD) == PASSWORD
    assert str(passwords.PASSWORD_MIN) in passwords.PASSWORD_RULE
    with pytest.raises(InvalidInput, match=f"at least {passwords.PASSWORD_MIN} characters"):
        passwords.check_password("short")


def test_a_common_password_is_refused_for_a_new_account(engine):
    with pytest.raises(InvalidInput, match="most common passwords"):
        make_user(engine, email="x@example.org", roles=["organizer"], password="qwertyuiop123")


# --- changing one's own --------------------------------------------------------------------------


def change(engine, actor, cookie, current=PASSWORD, new=NEW):
    return logins.change_own_password(
        engine=engine,
        actor=actor,
        cookie_value=cookie,
        current_password=current,
        new_password=new,
        client_address="10.0.0.2",
    )


def test_changing_ones_password_keeps_this_log_in_and_ends_the_others(engine, people):
    here, elsewhere, phone = log_in(engine), log_in(engine), log_in(engine)
    actor = who(engine, here)
    assert change(engine, actor, here) == 2
    assert who(engine, here) is not None
    assert who(engine, elsewhere) is None and who(engine, phone) is None
    with pytest.raises(logins.LoginFailed):
        log_in(engine)
    assert who(engine, log_in(engine, password=NEW)) is not None
    assert ("ada@example.org", "user.password_change") in actions(engine)


def test_a_wrong_current_password_changes_nothing_and_counts_toward_the_log_in_limit(engine, people):
    cookie = log_in(engine)
    actor = who(engine, cookie)
    with pytest.raises(logins.WrongCurrentPassword, match="not your current password"):
        change(engine, actor, cookie, current="not my password at all")
    with read_session(engine) as session:
        failures = session.execute(
            select(LoginAttempt.client_address).where(LoginAttempt.succeeded.is_(False))
        ).scalars()
        assert list(failures) == ["10.0.0.2"]
    for _ in range(logins.MAX_FAILURES_PER_ACCOUNT - 1):
        with pytest.raises(logins.WrongCurrentPassword):
            change(engine, actor, cookie, current="not my password at all")
    with pytest.raises(logins.LoginThrottled):  # a session left open can't be used to guess the password
        change(engine, actor, cookie)
    assert who(engine, cookie) is not None
    assert ("ada@example.org", "user.password_change") not in actions(engine)


@pytest.mark.parametrize("new", ["short", "qwerty123456"])
def test_a_weak_new_password_is_refused_before_anything_is_checked(engine, people, new):
    cookie = log_in(engine)
    with pytest.raises(InvalidInput) as info:
        change(engine, who(engine, cookie), cookie, new=new)
    assert "password" in info.value.errors
    assert who(engine, log_in(engine)) is not None  # the old password still works


def test_a_dead_session_cannot_change_the_password(engine, people):
    cookie = log_in(engine)
    actor = who(engine, cookie)
    with pytest.raises(RallyError, match="log-in has ended"):
        change(engine, actor, cookie + "x")


# --- an admin's set-password link ------------------------------------------------------------------


def reset(engine, admin, user):
    return password_links.reset_password(engine=engine, user_id=user.id, actor=admin)


def use(engine, url_or_token, password=NEW):
    token = token_of(url_or_token) if url_or_token.startswith("http") else url_or_token
    return password_links.use_link(engine=engine, token=token, password=password)


def check(engine, url):
    with read_session(engine) as session:
        return password_links.check_link(session=session, token=token_of(url))


def test_without_mail_the_link_is_shown_once_and_works_once(engine, people):
    admin, ada = people
    sessions = [log_in(engine), log_in(engine)]
    issued = reset(engine, admin, ada)
    assert not issued.emailed and issued.email == "ada@example.org"
    assert issued.url.startswith(f"{links.public_base()}/auth/set-password?token=")
    assert check(engine, issued.url) == "ada@example.org" and check(engine, issued.url)  # looking spends nothing
    with read_session(engine) as session:
        stored = session.execute(select(SupporterToken.token_hash)).scalars().all()
    assert token_of(issued.url) not in stored  # only its hash is kept
    assert use(engine, issued.url) == "ada@example.org"
    assert all(who(engine, cookie) is None for cookie in sessions)  # every log-in of theirs ended
    assert who(engine, log_in(engine, password=NEW)) is not None
    with pytest.raises(password_links.LinkRefused, match="already been used"):
        use(engine, issued.url, password="yet another good passphrase")
    with pytest.raises(password_links.LinkRefused, match="already been used"):
        check(engine, issued.url)
    assert who(engine, log_in(engine, password=NEW)) is not None  # the second try changed nothing
    entries = actions(engine)
    assert ("admin@example.org", "user.password_link") in entries
    assert ("ada@example.org", "user.password_reset") in entries


def test_expired_and_tampered_links_are_refused_and_change_nothing(engine, people):
    admin, ada = people
    token = token_of(reset(engine, admin, ada).url)
    with pytest.raises(password_links.LinkRefused, match="isn't valid"):
        use(engine, token[:-2] + ("aa" if not token.endswith("aa") else "bb"))
    with pytest.raises(password_links.LinkRefused, match="isn't valid"):
        use(engine, "")
    later = utcnow() + timedelta(hours=password_links.LINK_HOURS, minutes=1)
    with pytest.raises(password_links.LinkRefused, match="expired"):
        password_links.use_link(engine=engine, token=token, password=NEW, now=later)
    assert who(engine, log_in(engine)) is not None  # the old password still works
    assert use(engine, token) == "ada@example.org"  # and the link itself was not spent by the refusals


def test_a_weak_password_spends_no_link(engine, people):
    admin, ada = people
    token = token_of(reset(engine, admin, ada).url)
    with pytest.raises(InvalidInput, match="most common"):
        use(engine, token, password="Password2024!")
    assert use(engine, token) == "ada@example.org"


def test_a_newer_link_replaces_an_unused_older_one(engine, people):
    admin, ada = people
    first, second = reset(engine, admin, ada), reset(engine, admin, ada)
    with pytest.raises(password_links.LinkRefused, match="isn't valid"):
        use(engine, first.url)
    assert use(engine, second.url) == "ada@example.org"


def test_a_link_for_a_deactivated_person_sets_nothing(engine, people):
    admin, ada = people
    url = reset(engine, admin, ada).url
    run_write(engine, lambda s: staff.set_active(session=s, user_id=ada.id, active=False, actor=admin))
    with pytest.raises(password_links.LinkRefused, match="no longer active"):
        use(engine, url)
    with pytest.raises(RallyError, match="deactivated"):
        reset(engine, admin, ada)


def test_only_admins_reset_and_not_their_own(engine, people):
    admin, ada = people
    organizer = Actor(ada.id, ada.email, frozenset({"organizer"}))
    with pytest.raises(RallyError, match="Only admins"):
        password_links.reset_password(engine=engine, user_id=admin.user_id, actor=organizer)
    with pytest.raises(RallyError, match="Account → Password"):
        password_links.reset_password(engine=engine, user_id=admin.user_id, actor=admin)


def test_with_mail_the_link_is_emailed_to_the_person(engine, people, smtp_server, default_settings):
    controller, handler = smtp_server
    admin, ada = people
    settings_module.use_settings(replace(default_settings, **smtp_settings(controller, "Rally <staff@example.org>")))
    issued = reset(engine, admin, ada)
    assert issued.emailed
    (envelope,) = Mailbox(engine, handler)  # the outbox worker sends it
    assert envelope.rcpt_tos == ["ada@example.org"]
    body = message_from_bytes(envelope.content, policy=default).get_content()
    assert issued.url in body and "works once" in body
    assert use(engine, issued.url) == "ada@example.org"


def test_a_link_is_queued_with_its_email_and_retried_while_the_server_is_down(engine, people, default_settings):
    from campaigns.core import outbox_worker
    from campaigns.core.models import OutboxMessage

    admin, ada = people
    settings_module.use_settings(
        replace(default_settings, smtp_host="127.0.0.1", smtp_port=1, smtp_security="none", mail_from="r@example.org")
    )
    issued = reset(engine, admin, ada)
    assert issued.emailed and outbox_worker.run_once(engine=engine).retried == 1
    with read_session(engine) as session:
        [message] = session.execute(select(OutboxMessage)).scalars().all()
        assert message.kind == "set-password" and message.status == "queued" and message.last_error
        assert len(session.execute(select(SupporterToken.token_hash)).all()) == 1


def test_with_the_development_outbox_the_admin_is_shown_the_link(engine, people, default_settings, tmp_path):
    admin, ada = people
    settings_module.use_settings(replace(default_settings, smtp_host="", mail_outbox=str(tmp_path)))
    issued = reset(engine, admin, ada)
    assert not issued.emailed and use(engine, issued.url) == "ada@example.org"


def test_a_supporter_erasing_their_data_leaves_a_staff_link_of_the_same_address_alone(engine, people):
    from campaigns.people.supporter_erasure import erase_my_data

    admin, ada = people
    url = reset(engine, admin, ada).url
    run_write(engine, lambda s: erase_my_data(session=s, email_canonical="ada@example.org"))
    assert use(engine, url) == "ada@example.org"
