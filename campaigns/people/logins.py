"""Logging in: server-side log-in sessions behind a signed cookie, and the limits on failed attempts.

A log-in creates a server-side session row; the browser gets a random token in an HttpOnly cookie, signed with
the app's secret key, and the database keeps only the token's SHA-256. Logging out, expiry or deactivating the
person ends the session everywhere. Failed log-ins are limited per account and per client address; the answer
and its timing are the same whether or not the email has an account. An attempt is counted (as a failure)
before its password is checked, one at a time per account and per address, so the limits hold however many
attempts arrive at once; the slow argon2 check itself runs outside any lock.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col

from campaigns.core.audit import Actor, record
from campaigns.core.db import run_write
from campaigns.core.errors import InvalidInput, RallyError
from campaigns.core.locks import advisory_lock
from campaigns.core.models import AuthSession, LoginAttempt, User, utcnow
from campaigns.core.settings import PROJECT_ROOT, Settings, get_settings
from campaigns.core.validation import find_bad_characters
from campaigns.people.passwords import hash_password, rehash, store_password, verify_password
from campaigns.people.staff import get_user_roles

COOKIE_NAME = "rally_session"
LOGIN_PATH = "/auth/login"  # campaigns/web/auth.py serves it (Streamlit cannot set cookies)
FAILED_LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
SESSION_REFRESH = timedelta(minutes=5)  # how often a used session's expiry is pushed forward


class LoginFailed(RallyError):
    def __init__(self) -> None:
        super().__init__("That email and password don't match an active account. Check both and try again.")


class LoginThrottled(RallyError):
    def __init__(self) -> None:
        minutes = int(FAILED_LOGIN_WINDOW.total_seconds() // 60)
        super().__init__(f"Too many failed log-ins. For your account's safety, wait {minutes} minutes and try again.")


# --- logging in ----------------------------------------------------------------------------------


def _recent_failures(session: Session, column: Mapped[str | None], value: str, since: datetime) -> int:
    stmt = select(func.count()).where(
        column == value, col(LoginAttempt.succeeded).is_(False), col(LoginAttempt.created_at) > since
    )
    return int(session.execute(stmt).scalar_one())


def _lock(session: Session, *names: str) -> None:
    """One attempt at a time per name (``core.locks``); callers always pass the account before the address."""
    advisory_lock(session, *names)


@dataclass(frozen=True)
class _Claim:
    """A log-in attempt counted as a failure until its password proves right."""

    attempt_id: int
    user_id: int | None
    password_hash: str | None


def _claim_attempt(*, session: Session, email: str, client_address: str, now: datetime) -> _Claim:
    """Count this attempt before its password is checked: under a lock per account and per address, the
    recent failures are counted and, below both limits, a failed attempt is inserted (the verification
    later marks it succeeded). However many arrive at once, no more passwords are checked than the limits
    allow, and the costly verification runs after this transaction, outside the lock."""
    _lock(session, f"login-account:{email}", f"login-address:{client_address}")
    since = now - FAILED_LOGIN_WINDOW
    if (
        _recent_failures(session, col(LoginAttempt.email), email, since) >= MAX_FAILURES_PER_ACCOUNT
        or _recent_failures(session, col(LoginAttempt.client_address), client_address, since)
        >= MAX_FAILURES_PER_ADDRESS
    ):
        raise LoginThrottled()
    attempt = LoginAttempt(email=email, client_address=client_address, succeeded=False, created_at=now)
    session.add(attempt)
    user = session.execute(select(User).where(col(User.email) == email)).scalar_one_or_none()
    session.flush()
    assert attempt.id is not None
    if user is None or not user.is_active:
        return _Claim(attempt.id, None, None)
    return _Claim(attempt.id, user.id, user.password_hash)


def _finish_log_in(
    *, session: Session, claim: _Claim, password: str, client_address: str, user_agent: str
) -> str | None:
    """The password was right: mark the attempt succeeded and open a session; None when the account was
    deactivated or given another password in the meantime."""
    user = session.get(User, claim.user_id)
    if user is None or not user.is_active or user.password_hash != claim.password_hash:
        return None
    session.execute(update(LoginAttempt).where(col(LoginAttempt.id) == claim.attempt_id).values(succeeded=True))
    new_hash = rehash(user.password_hash, password)
    if new_hash is not None:
        user.password_hash = new_hash
    return start_session(session=session, user=user, client_address=client_address, user_agent=user_agent)


# --- sessions and cookies ------------------------------------------------------------------------


def secret_key(settings: Settings | None = None) -> bytes:
    """RALLY_SECRET_KEY, or a random key made once and kept (mode 0600) in var/secret_key."""
    settings = settings or get_settings()
    if settings.secret_key:
        return settings.secret_key.encode()
    path = PROJECT_ROOT / "var" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_token(token: str, key: bytes) -> str:
    mac = hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
    return f"{token}.{mac}"


def verified_token(cookie_value: str | None, key: bytes) -> str | None:
    """The token inside a cookie whose signature is right; None for anything forged or malformed."""
    if not cookie_value or len(cookie_value) > 200 or "." not in cookie_value:
        return None
    token, _, mac = cookie_value.rpartition(".")
    expected = hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
    return token if hmac.compare_digest(mac, expected) else None


def start_session(
    *, session: Session, user: User, client_address: str = "", user_agent: str = "", now: datetime | None = None
) -> str:
    """Create a log-in session; returns the signed cookie value."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(
            token_hash=_token_hash(token),
            user_id=user.id,  # type: ignore[arg-type]  # a stored user has an id
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=get_settings().session_hours),
            client_address=client_address[:64] or None,
            user_agent=user_agent[:300] or None,
        )
    )
    session.flush()
    record(session=session, actor=Actor(user.id, user.email), action="user.login")
    return sign_token(token, secret_key())


def identify(*, session: Session, cookie_value: str | None, now: datetime | None = None) -> Actor | None:
    """Who this cookie belongs to, if its session is live and its person active; refreshes the expiry."""
    token = verified_token(cookie_value, secret_key())
    if token is None:
        return None
    now = now or utcnow()
    row = session.execute(
        select(AuthSession, User)
        .join(User, col(User.id) == AuthSession.user_id)
        .where(col(AuthSession.token_hash) == _token_hash(token))
    ).first()
    if row is None:
        return None
    auth_session, user = row
    if auth_session.expires_at <= now or not user.is_active:
        return None
    if now - auth_session.last_seen_at > SESSION_REFRESH:
        auth_session.last_seen_at = now
        auth_session.expires_at = now + timedelta(hours=get_settings().session_hours)
        session.flush()
    return Actor(
        user_id=user.id, email=user.email, roles=frozenset(get_user_roles(session=session, user_id=user.id or 0))
    )


def end_session(*, session: Session, cookie_value: str | None) -> bool:
    """Log out: the session row goes, so this cookie is dead on every tab and device it was copied to."""
    token = verified_token(cookie_value, secret_key())
    if token is None:
        return False
    found = session.get(AuthSession, _token_hash(token))
    if found is None:
        return False
    user = session.get(User, found.user_id)
    session.delete(found)
    session.flush()
    if user is not None:
        record(session=session, actor=Actor(user.id, user.email), action="user.logout")
    return True


def log_in(
    *, engine: Engine, email: str, password: str, client_address: str, user_agent: str = "", now: datetime | None = None
) -> str:
    """Check the credentials and open a session; returns the signed cookie value.

    LoginThrottled when the account or the address is at its limit of failures (nothing is checked),
    LoginFailed for a wrong password, an unknown email or a deactivated account (same wording, and the
    same time taken: an unknown email is verified against a dummy hash).
    """
    now = now or utcnow()
    email = (email or "").strip().lower()[:320]
    if find_bad_characters(email, allow_newlines=False):
        email = ""  # no account has such an address, and the database may refuse to store it in the attempt
    client_address = (client_address or "unknown")[:64]
    claim = run_write(
        engine, lambda session: _claim_attempt(session=session, email=email, client_address=client_address, now=now)
    )
    ok = verify_password(claim.password_hash, password)
    if not ok or claim.user_id is None:
        raise LoginFailed()
    cookie = run_write(
        engine,
        lambda session: _finish_log_in(
            session=session, claim=claim, password=password, client_address=client_address, user_agent=user_agent
        ),
    )
    if cookie is None:
        raise LoginFailed()
    return cookie


class WrongCurrentPassword(InvalidInput):
    def __init__(self) -> None:
        super().__init__({"current_password": "That is not your current password. Nothing was changed."})


def change_own_password(
    *,
    engine: Engine,
    actor: Actor,
    cookie_value: str | None,
    current_password: str,
    new_password: str,
    client_address: str,
    now: datetime | None = None,
) -> int:
    """A logged-in person changes their own password; returns how many of their other log-ins ended.

    The current password is checked like a log-in (the attempt counts toward the same limits, so a
    session left open can't be used to guess it), then the new one is stored and every other session
    of theirs ends; the one this cookie belongs to stays. WrongCurrentPassword, LoginThrottled or
    InvalidInput (the new password) otherwise, with nothing changed.
    """
    now = now or utcnow()
    token = verified_token(cookie_value, secret_key())
    if token is None or actor.user_id is None:
        raise RallyError("Your log-in has ended. Log in again, then change your password.")
    new_hash = hash_password(new_password)
    client_address = (client_address or "unknown")[:64]
    claim = run_write(
        engine,
        lambda session: _claim_attempt(session=session, email=actor.email, client_address=client_address, now=now),
    )
    if claim.user_id != actor.user_id or not verify_password(claim.password_hash, current_password):
        raise WrongCurrentPassword()

    def change(session: Session) -> int:
        user = session.get(User, actor.user_id)
        if user is None or not user.is_active or user.password_hash != claim.password_hash:
            raise WrongCurrentPassword()  # deactivated, or the password changed meanwhile
        session.execute(update(LoginAttempt).where(col(LoginAttempt.id) == claim.attempt_id).values(succeeded=True))
        ended = store_password(
            session=session, user=user, password_hash=new_hash, keep_session=_token_hash(token), now=now
        )
        record(session=session, actor=actor, action="user.password_change", target=user.email, sessions_ended=ended)
        return ended

    return run_write(engine, change)


def login_url(next_path: str = "/") -> str:
    """The log-in page's address, going on to ``next_path`` (a path on this site, its query included) once
    logged in. The log-in route checks it again (``web.auth.safe_next``): this only builds the link."""
    if not next_path or next_path == "/":
        return LOGIN_PATH
    return f"{LOGIN_PATH}?next={quote(next_path, safe='/')}"
