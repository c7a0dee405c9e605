"""Staff accounts: passwords, log-in sessions, roles, rate limiting.

Passwords are hashed with argon2id and never logged. A log-in creates a server-side
session row; the browser gets a random token in an HttpOnly cookie, signed with the
app's secret key, and the database keeps only the token's SHA-256. Logging out,
expiry or deactivating the person ends the session everywhere. Failed log-ins are
limited per account and per client address; the answer and its timing are the same
whether or not the email has an account. An attempt is counted (as a failure) before
its password is checked, one at a time per account and per address, so the limits hold
however many attempts arrive at once; the slow argon2 check itself runs outside any lock.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigns.core.audit import Actor, record
from campaigns.core.db import run_write
from campaigns.core.errors import InvalidInput, NotFound, RallyError
from campaigns.core.models import AuthSession, LoginAttempt, Role, User, UserPublic, UserRole, utcnow
from campaigns.core.settings import PROJECT_ROOT, Settings, get_settings
from campaigns.core.validation import LONE_SURROGATE, clean_email, clean_name, find_bad_characters, has_lone_surrogate

PASSWORD_MIN = 12
PASSWORD_MAX = 1024
COOKIE_NAME = "rally_session"
FAILED_LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
SESSION_REFRESH = timedelta(minutes=5)  # how often a used session's expiry is pushed forward

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password: equalizes timing for unknown emails")
ROLES = tuple(r.value for r in Role)
T = TypeVar("T")


class LoginFailed(RallyError):
    def __init__(self) -> None:
        super().__init__("That email and password don't match an active account. Check both and try again.")


class LoginThrottled(RallyError):
    def __init__(self) -> None:
        minutes = int(FAILED_LOGIN_WINDOW.total_seconds() // 60)
        super().__init__(f"Too many failed log-ins. For your account's safety, wait {minutes} minutes and try again.")


# --- passwords and accounts ----------------------------------------------------------------------


COMMON_PASSWORDS = PROJECT_ROOT / "data" / "passwords" / "common-passwords.txt"
PASSWORD_RULE = f"at least {PASSWORD_MIN} characters, not a common password"  # stated beside every password form
_AROUND_NOT_DIGITS = string.punctuation + string.whitespace
_AROUND = string.digits + _AROUND_NOT_DIGITS


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    return frozenset(line.strip().lower() for line in COMMON_PASSWORDS.read_text("utf-8").splitlines() if line.strip())


def is_common_password(password: str) -> bool:
    """On the shipped list of common passwords (data/passwords), ignoring case and digits or punctuation
    around it: "Password2024!" is "password" to whoever guesses."""
    lowered = password.lower()
    common = _common_passwords()
    cores = {lowered.strip(), lowered.strip(_AROUND), lowered.strip(_AROUND_NOT_DIGITS)}  # "123456!!!!!!" too
    return any(core in common for core in cores if core)


def check_password(password: str, field: str = "password") -> str:
    """The one rule for every staff password, wherever it is chosen (forms, links, command line)."""
    if len(password) < PASSWORD_MIN:
        raise InvalidInput({field: f"Use at least {PASSWORD_MIN} characters (a few words make a good one)."})
    if len(password) > PASSWORD_MAX:
        raise InvalidInput({field: f"Use at most {PASSWORD_MAX} characters."})
    if has_lone_surrogate(password):
        raise InvalidInput({field: f"The password contains {LONE_SURROGATE}; please type it again."})
    if is_common_password(password):
        raise InvalidInput(
            {field: "That is one of the most common passwords, among the first anyone would try. Choose another."}
        )
    return password


def _check_roles(roles: list[str] | tuple[str, ...] | set[str]) -> list[str]:
    chosen = sorted({r.strip().lower() for r in roles})
    unknown = [r for r in chosen if r not in ROLES]
    if unknown:
        raise InvalidInput({"roles": f"Unknown role {', '.join(unknown)}: choose from {', '.join(ROLES)}."})
    if not chosen:
        raise InvalidInput({"roles": "Give the person at least one role."})
    return chosen


def _collect(errors: dict[str, str], check: Callable[[], T]) -> T | None:
    try:
        return check()
    except InvalidInput as exc:
        errors.update(exc.errors)
        return None


def create_user(
    *, session: Session, email: str, password: str, roles: list[str], actor: Actor, display_name: str = ""
) -> User:
    errors: dict[str, str] = {}
    checked_email = _collect(errors, lambda: clean_email(email)[0].lower())
    _collect(errors, lambda: check_password(password))
    chosen = _collect(errors, lambda: _check_roles(roles))
    name = _collect(errors, lambda: clean_name(display_name, field="display_name")) if display_name.strip() else ""
    if checked_email and session.execute(select(User.id).where(User.email == checked_email)).first():
        errors["email"] = f"{checked_email} already has an account."
    if errors:
        raise InvalidInput(errors)
    assert checked_email is not None and chosen is not None
    user = User(email=checked_email, display_name=name or "", password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    for role in chosen:
        session.add(UserRole(user_id=user.id, role=role))
    session.flush()
    record(session, actor=actor, action="user.create", target=checked_email, roles=chosen)
    return user


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("There is no such person.")
    return user


def get_user_roles(*, session: Session, user_id: int) -> tuple[str, ...]:
    rows = session.execute(select(UserRole.role).where(UserRole.user_id == user_id).order_by(UserRole.role))
    return tuple(rows.scalars())


def set_roles(*, session: Session, user_id: int, roles: list[str], actor: Actor) -> tuple[str, ...]:
    user = _user(session, user_id)
    chosen = _check_roles(roles)
    if actor.user_id == user_id and Role.admin.value not in chosen:
        raise InvalidInput({"roles": "You can't remove your own admin role; ask another admin."})
    session.execute(delete(UserRole).where(UserRole.user_id == user_id))  # type: ignore[arg-type]
    for role in chosen:
        session.add(UserRole(user_id=user_id, role=role))
    user.updated_at = utcnow()
    session.flush()
    record(session, actor=actor, action="user.roles", target=user.email, roles=chosen)
    return tuple(chosen)


def set_active(*, session: Session, user_id: int, active: bool, actor: Actor) -> None:
    """Deactivating ends every session of that person at once."""
    user = _user(session, user_id)
    if actor.user_id == user_id and not active:
        raise RallyError("You can't deactivate yourself; ask another admin.")
    user.is_active = active
    user.deactivated_at = None if active else utcnow()
    user.updated_at = utcnow()
    if not active:
        session.execute(delete(AuthSession).where(AuthSession.user_id == user_id))  # type: ignore[arg-type]
    session.flush()
    record(session, actor=actor, action="user.activate" if active else "user.deactivate", target=user.email)


def hash_password(password: str) -> str:
    """The argon2id hash of a password that passes ``check_password`` (slow on purpose: hash outside a lock)."""
    return _hasher.hash(check_password(password))


def store_password(
    *, session: Session, user: User, password_hash: str, keep_session: str | None = None, now: datetime | None = None
) -> int:
    """Give ``user`` this password hash and end their log-ins, all but the one whose token hash is
    ``keep_session``; returns how many ended. Callers audit the change."""
    user.password_hash = password_hash
    user.updated_at = now or utcnow()
    ended = delete(AuthSession).where(AuthSession.user_id == user.id)  # type: ignore[arg-type]
    if keep_session is not None:
        ended = ended.where(AuthSession.token_hash != keep_session)  # type: ignore[arg-type]
    result = session.execute(ended)
    session.flush()
    return int(result.rowcount or 0)


def set_password(*, session: Session, user_id: int, password: str, actor: Actor) -> None:
    """Set someone's password (the command line): every log-in of theirs ends."""
    user = _user(session, user_id)
    store_password(session=session, user=user, password_hash=hash_password(password))
    record(session, actor=actor, action="user.password", target=user.email)


def get_user_by_email(*, session: Session, email: str) -> User:
    user = session.execute(select(User).where(User.email == (email or "").strip().lower())).scalar_one_or_none()
    if user is None:
        raise NotFound(f"There is no account for {(email or '').strip()[:320]}: `users list` shows them all.")
    return user


def list_users(*, session: Session) -> list[UserPublic]:
    users = session.execute(select(User).order_by(User.email)).scalars().all()
    roles: dict[int, list[str]] = {}
    for user_id, role in session.execute(select(UserRole.user_id, UserRole.role).order_by(UserRole.role)):
        roles.setdefault(user_id, []).append(role)
    return [UserPublic.model_validate(u, update={"roles": tuple(roles.get(u.id or 0, []))}) for u in users]


def count_users(*, session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(User)).scalar_one())


# --- logging in ----------------------------------------------------------------------------------


def _recent_failures(session: Session, column: object, value: str, since: datetime) -> int:
    stmt = select(func.count()).where(
        column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.created_at > since
    )  # type: ignore[attr-defined]
    return int(session.execute(stmt).scalar_one())


def _lock(session: Session, *names: str) -> None:
    """PostgreSQL: take a transaction-level advisory lock per name, in this order (callers always pass
    the account before the address, so two attempts never wait on each other in a circle). SQLite needs
    none: ``run_write`` holds its only write lock from ``BEGIN IMMEDIATE`` on."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in names:
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


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
        _recent_failures(session, LoginAttempt.email, email, since) >= MAX_FAILURES_PER_ACCOUNT
        or _recent_failures(session, LoginAttempt.client_address, client_address, since) >= MAX_FAILURES_PER_ADDRESS
    ):
        raise LoginThrottled()
    attempt = LoginAttempt(email=email, client_address=client_address, succeeded=False, created_at=now)
    session.add(attempt)
    user = session.execute(select(User).where(User.email == email)).scalar_one_or_none()
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
    session.execute(update(LoginAttempt).where(LoginAttempt.id == claim.attempt_id).values(succeeded=True))  # type: ignore[arg-type]
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return start_session(session=session, user=user, client_address=client_address, user_agent=user_agent)


def _verify(password_hash: str, password: str) -> bool:
    if has_lone_surrogate(password):  # never a stored password (check_password refuses it), and not encodable
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


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
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=get_settings().session_hours),
            client_address=client_address[:64] or None,
            user_agent=user_agent[:300] or None,
        )
    )
    session.flush()
    record(session, actor=Actor(user.id, user.email), action="user.login")
    return sign_token(token, secret_key())


def identify(*, session: Session, cookie_value: str | None, now: datetime | None = None) -> Actor | None:
    """Who this cookie belongs to, if its session is live and its person active; refreshes the expiry."""
    token = verified_token(cookie_value, secret_key())
    if token is None:
        return None
    now = now or utcnow()
    row = session.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash == _token_hash(token))
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
        record(session, actor=Actor(user.id, user.email), action="user.logout")
    return True


def purge_expired(*, session: Session, now: datetime | None = None) -> int:
    now = now or utcnow()
    result = session.execute(delete(AuthSession).where(AuthSession.expires_at <= now))  # type: ignore[arg-type]
    session.execute(delete(LoginAttempt).where(LoginAttempt.created_at <= now - timedelta(days=30)))  # type: ignore[arg-type]
    return int(result.rowcount or 0)


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
    ok = _verify(claim.password_hash or _DUMMY_HASH, password[:PASSWORD_MAX])
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
    if claim.user_id != actor.user_id or not _verify(
        claim.password_hash or _DUMMY_HASH, current_password[:PASSWORD_MAX]
    ):
        raise WrongCurrentPassword()

    def change(session: Session) -> int:
        user = session.get(User, actor.user_id)
        if user is None or not user.is_active or user.password_hash != claim.password_hash:
            raise WrongCurrentPassword()  # deactivated, or the password changed meanwhile
        session.execute(update(LoginAttempt).where(LoginAttempt.id == claim.attempt_id).values(succeeded=True))  # type: ignore[arg-type]
        ended = store_password(
            session=session, user=user, password_hash=new_hash, keep_session=_token_hash(token), now=now
        )
        record(session, actor=actor, action="user.password_change", target=user.email, sessions_ended=ended)
        return ended

    return run_write(engine, change)
