"""Staff accounts, sessions and log-in limits on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from campaigns.core.audit import CLI, Actor
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput, RallyError
from campaigns.core.models import AuditEntry, AuthSession, LoginAttempt, utcnow
from campaigns.people import logins, staff

PASSWORD = "correct horse battery staple"


def add_user(engine, email="ada@example.org", roles=("organizer",), password=PASSWORD):
    return run_write(
        engine, lambda s: staff.create_user(session=s, email=email, password=password, roles=list(roles), actor=CLI)
    )


def log_in(engine, email="ada@example.org", password=PASSWORD, client="10.0.0.1"):
    return logins.log_in(engine=engine, email=email, password=password, client_address=client)


def who(engine, cookie, now=None):
    return run_write(engine, lambda s: logins.identify(session=s, cookie_value=cookie, now=now))


def test_password_is_hashed_with_argon2id_never_stored_plain(engine):
    user = add_user(engine)
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": "short"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"roles": ("wizard",)}, "roles"),
        ({"roles": ()}, "roles"),
        ({"password": "a long enough \ud800 password"}, "password"),  # can't be encoded: refused, never a crash
        ({"email": "ada\x00@example.org"}, "email"),
    ],
)
def test_bad_account_details_are_refused_per_field(engine, overrides, field):
    with pytest.raises(InvalidInput) as info:
        add_user(engine, **overrides)
    assert field in info.value.errors


def test_same_email_twice_is_refused(engine):
    add_user(engine, email="Ada@Example.org")
    with pytest.raises(InvalidInput, match="already has an account"):
        add_user(engine, email="ada@example.org")


def test_log_in_gives_a_cookie_that_identifies_the_person_and_roles(engine):
    add_user(engine, roles=("organizer", "coordinator"))
    cookie = log_in(engine, email="ADA@example.org")
    actor = who(engine, cookie)
    assert actor.email == "ada@example.org" and actor.roles == frozenset({"organizer", "coordinator"})
    with read_session(engine) as session:
        stored = session.execute(select(AuthSession.token_hash)).scalar_one()
    assert stored not in cookie  # only the token's hash is kept


@pytest.mark.parametrize("tamper", ["forged", "resigned", "garbage", "empty"])
def test_forged_or_malformed_cookies_identify_nobody(engine, tamper):
    add_user(engine)
    cookie = log_in(engine)
    token, _, mac = cookie.rpartition(".")
    bad = {
        "forged": f"{token}x.{mac}",
        "resigned": logins.sign_token(token, b"another key"),
        "garbage": "a" * 500,
        "empty": "",
    }[tamper]
    assert who(engine, bad) is None


@pytest.mark.parametrize(
    ("email", "password"), [("ada@example.org\x00", PASSWORD), ("\x00", "x"), ("ada@example.org", "pass \udcff word")]
)
def test_log_in_with_text_no_account_can_have_just_fails(engine, email, password):
    """A NUL byte is refused by PostgreSQL, a lone surrogate by the hasher: the answer is the usual one."""
    add_user(engine)
    with pytest.raises(logins.LoginFailed):
        log_in(engine, email=email, password=password)
    assert log_in(engine)  # and the account is not locked by it


def test_wrong_password_and_unknown_email_get_the_same_answer(engine):
    add_user(engine)
    with pytest.raises(logins.LoginFailed) as wrong:
        log_in(engine, password="wrong password here")
    with pytest.raises(logins.LoginFailed) as unknown:
        log_in(engine, email="nobody@example.org")
    assert wrong.value.user_message == unknown.value.user_message


def test_unknown_email_takes_as_long_as_a_wrong_password(engine):
    add_user(engine)

    def timed(email):
        started = time.perf_counter()
        with pytest.raises(logins.LoginFailed):
            log_in(engine, email=email, password="wrong password here", client=email)
        return time.perf_counter() - started

    known = min(timed("ada@example.org") for _ in range(3))
    unknown = min(timed("nobody@example.org") for _ in range(3))
    # both run one argon2 verification; without it the unknown email would be ~100x faster
    assert unknown > known / 3


def test_failed_log_ins_are_limited_per_account_then_even_the_right_password_waits(engine):
    add_user(engine)
    for _ in range(logins.MAX_FAILURES_PER_ACCOUNT):
        with pytest.raises(logins.LoginFailed):
            log_in(engine, password="wrong password here")
    with pytest.raises(logins.LoginThrottled, match="wait 15 minutes"):
        log_in(engine)
    with read_session(engine) as session:
        failures = session.execute(select(func.count()).select_from(LoginAttempt)).scalar_one()
    assert failures == logins.MAX_FAILURES_PER_ACCOUNT


def test_failed_log_ins_are_limited_per_client_address_across_accounts(engine):
    for i in range(logins.MAX_FAILURES_PER_ADDRESS):
        with pytest.raises(logins.LoginFailed):
            log_in(engine, email=f"guess{i}@example.org", password="wrong password here", client="203.0.113.9")
    add_user(engine)
    with pytest.raises(logins.LoginThrottled):
        log_in(engine, client="203.0.113.9")
    assert who(engine, log_in(engine, client="198.51.100.1")) is not None  # another address is not blocked


def test_logout_ends_the_session_everywhere(engine):
    add_user(engine)
    cookie = log_in(engine)
    assert run_write(engine, lambda s: logins.end_session(session=s, cookie_value=cookie))
    assert who(engine, cookie) is None


def test_deactivation_ends_sessions_and_blocks_log_in(engine):
    admin = add_user(engine, email="admin@example.org", roles=("admin",))
    user = add_user(engine)
    cookie = log_in(engine)
    actor = Actor(admin.id, admin.email, frozenset({"admin"}))
    run_write(engine, lambda s: staff.set_active(session=s, user_id=user.id, active=False, actor=actor))
    assert who(engine, cookie) is None
    with pytest.raises(logins.LoginFailed):
        log_in(engine)
    run_write(engine, lambda s: staff.set_active(session=s, user_id=user.id, active=True, actor=actor))
    assert who(engine, log_in(engine)) is not None


def test_sessions_expire_and_slide_with_use(engine, default_settings):
    add_user(engine)
    cookie = log_in(engine)
    hours = default_settings.session_hours
    assert who(engine, cookie, now=utcnow() + timedelta(hours=hours - 1)) is not None  # used: pushed forward
    assert who(engine, cookie, now=utcnow() + timedelta(hours=2 * hours - 2)) is not None
    assert who(engine, cookie, now=utcnow() + timedelta(hours=4 * hours)) is None


def test_admins_cannot_lock_themselves_out(engine):
    admin = add_user(engine, email="admin@example.org", roles=("admin",))
    actor = Actor(admin.id, admin.email, frozenset({"admin"}))
    with pytest.raises(InvalidInput, match="own admin role"):
        run_write(engine, lambda s: staff.set_roles(session=s, user_id=admin.id, roles=["organizer"], actor=actor))
    with pytest.raises(RallyError, match="deactivate yourself"):
        run_write(engine, lambda s: staff.set_active(session=s, user_id=admin.id, active=False, actor=actor))


def test_account_changes_and_log_ins_are_audited(engine):
    admin = add_user(engine, email="admin@example.org", roles=("admin",))
    user = add_user(engine)
    actor = Actor(admin.id, admin.email, frozenset({"admin"}))
    run_write(engine, lambda s: staff.set_roles(session=s, user_id=user.id, roles=["coordinator"], actor=actor))
    run_write(engine, lambda s: logins.end_session(session=s, cookie_value=log_in(engine)))
    with read_session(engine) as session:
        entries = session.execute(select(AuditEntry.actor, AuditEntry.action).order_by(AuditEntry.id)).all()
    assert ("admin@example.org", "user.roles") in entries
    assert ("ada@example.org", "user.login") in entries and ("ada@example.org", "user.logout") in entries
    assert ("cli", "user.create") in entries


def _burst(engine, attempts, *, client=lambda i: f"10.0.1.{i}"):
    """Every (email, password) of ``attempts`` sent at once from its own thread and address."""
    barrier = threading.Barrier(len(attempts))

    def one(i):
        email, password = attempts[i]
        barrier.wait()
        try:
            return "ok", log_in(engine, email=email, password=password, client=client(i))
        except logins.LoginThrottled:
            return "throttled", None
        except logins.LoginFailed:
            return "failed", None

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(one, range(len(attempts))))


@pytest.fixture
def verifications(monkeypatch):
    """How many argon2 verifications of a wrong password ran (counted across threads)."""
    count = {"n": 0}
    lock = threading.Lock()
    real = PasswordHasher.verify

    def counting(hasher, password_hash, password):
        if password != PASSWORD:
            with lock:
                count["n"] += 1
        return real(hasher, password_hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return count


def _no_success_past_the_limit(engine):
    """In the order attempts were claimed, every successful log-in came while the account was under its limit."""
    with read_session(engine) as session:
        rows = session.execute(select(LoginAttempt.succeeded).order_by(LoginAttempt.id)).scalars().all()
    failures = 0
    for succeeded in rows:
        if succeeded:
            assert failures < logins.MAX_FAILURES_PER_ACCOUNT
        else:
            failures += 1
    return rows


def test_parallel_guesses_at_one_account_check_at_most_the_limit(engine, verifications):
    add_user(engine)
    attempts = [("ada@example.org", f"wrong password {i:02d}") for i in range(39)]
    attempts.insert(20, ("ada@example.org", PASSWORD))
    results = _burst(engine, attempts)
    outcomes = [outcome for outcome, _ in results]
    assert verifications["n"] <= logins.MAX_FAILURES_PER_ACCOUNT
    assert outcomes.count("throttled") >= len(attempts) - logins.MAX_FAILURES_PER_ACCOUNT - 1
    rows = _no_success_past_the_limit(engine)
    assert rows.count(False) == verifications["n"]  # each verified guess was claimed (and counted) first
    if "ok" in outcomes:
        assert outcomes.count("ok") == 1 and who(engine, results[outcomes.index("ok")][1]) is not None


def test_once_throttled_no_parallel_log_in_gets_in(engine, verifications):
    add_user(engine)
    for _ in range(logins.MAX_FAILURES_PER_ACCOUNT - 1):
        with pytest.raises(logins.LoginFailed):
            log_in(engine, password="wrong password here")
    verifications["n"] = 0
    attempts = [("ada@example.org", "wrong password here")] * 20 + [("ada@example.org", PASSWORD)] * 20
    outcomes = [outcome for outcome, _ in _burst(engine, attempts)]
    assert verifications["n"] <= 1  # at most the one guess left under the limit
    assert outcomes.count("failed") == verifications["n"]
    rows = _no_success_past_the_limit(engine)
    if rows.count(False) >= logins.MAX_FAILURES_PER_ACCOUNT:
        with pytest.raises(logins.LoginThrottled):  # at the limit now: even the right password waits
            log_in(engine)


def test_parallel_guesses_from_one_address_check_at_most_its_limit(engine, verifications):
    attempts = [(f"guess{i}@example.org", "wrong password here") for i in range(40)]
    outcomes = [outcome for outcome, _ in _burst(engine, attempts, client=lambda i: "203.0.113.7")]
    assert verifications["n"] <= logins.MAX_FAILURES_PER_ADDRESS
    assert outcomes.count("throttled") >= len(attempts) - logins.MAX_FAILURES_PER_ADDRESS
