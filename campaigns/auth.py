"""Staff accounts: passwords, log-in sessions, roles, rate limiting.

Passwords are hashed with argon2id and never logged. A log-in creates a server-side
session row; the browser gets a random token in an HttpOnly cookie, signed with the
app's secret key, and the database keeps only the token's SHA-256. Logging out,
expiry or deactivating the person ends the session everywhere. Failed log-ins are
limited per account and per client address; the answer and its timing are the same
whether or not the email has an account.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigns.audit import Actor, record
from campaigns.db import run_write
from campaigns.errors import InvalidInput, NotFound, RallyError
from campaigns.models import AuthSession, LoginAttempt, Role, User, UserRole, utcnow
from campaigns.settings import PROJECT_ROOT, Settings, get_settings
from campaigns.validation import LONE_SURROGATE, clean_email, clean_name, find_bad_characters, has_lone_surrogate

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


@dataclass(frozen=True)
class UserInfo:
    id: int
    email: str
    display_name: str
    roles: tuple[str, ...]
    is_active: bool
    created_at: datetime


# --- passwords and accounts ----------------------------------------------------------------------


def check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise InvalidInput({"password": f"Use at least {PASSWORD_MIN} characters (a few words make a good one)."})
    if len(password) > PASSWORD_MAX:
        raise InvalidInput({"password": f"Use at most {PASSWORD_MAX} characters."})
    if has_lone_surrogate(password):
        raise InvalidInput({"password": f"The password contains {LONE_SURROGATE}; please type it again."})
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


def user_roles(session: Session, user_id: int) -> tuple[str, ...]:
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


def set_password(*, session: Session, user_id: int, password: str, actor: Actor) -> None:
    user = _user(session, user_id)
    user.password_hash = _hasher.hash(check_password(password))
    user.updated_at = utcnow()
    session.execute(delete(AuthSession).where(AuthSession.user_id == user_id))  # type: ignore[arg-type]
    session.flush()
    record(session, actor=actor, action="user.password", target=user.email)


def list_users(session: Session) -> list[UserInfo]:
    users = session.execute(select(User).order_by(User.email)).scalars().all()
    roles: dict[int, list[str]] = {}
    for user_id, role in session.execute(select(UserRole.user_id, UserRole.role).order_by(UserRole.role)):
        roles.setdefault(user_id, []).append(role)
    return [
        UserInfo(u.id or 0, u.email, u.display_name, tuple(roles.get(u.id or 0, [])), u.is_active, u.created_at)
        for u in users
    ]


def count_users(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(User)).scalar_one())


# --- logging in ----------------------------------------------------------------------------------


def _recent_failures(session: Session, column: object, value: str, since: datetime) -> int:
    stmt = select(func.count()).where(
        column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.created_at > since
    )  # type: ignore[attr-defined]
    return int(session.execute(stmt).scalar_one())


def authenticate(
    *, session: Session, email: str, password: str, client_address: str, now: datetime | None = None
) -> User:
    """The active user with these credentials; LoginFailed or LoginThrottled otherwise (same wording for all)."""
    now = now or utcnow()
    email = (email or "").strip().lower()[:320]
    if find_bad_characters(email, allow_newlines=False):
        email = ""  # no account has such an address, and the database may refuse to store it in the attempt
    client_address = (client_address or "unknown")[:64]
    since = now - FAILED_LOGIN_WINDOW
    if (
        _recent_failures(session, LoginAttempt.email, email, since) >= MAX_FAILURES_PER_ACCOUNT
        or _recent_failures(session, LoginAttempt.client_address, client_address, since) >= MAX_FAILURES_PER_ADDRESS
    ):
        raise LoginThrottled()
    user = session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    # verify even for unknown emails, so the answer takes as long either way
    ok = _verify(user.password_hash if user else _DUMMY_HASH, password[:PASSWORD_MAX])
    ok = ok and user is not None and user.is_active
    session.add(LoginAttempt(email=email, client_address=client_address, succeeded=ok, created_at=now))
    session.flush()
    if not ok or user is None:
        raise LoginFailed()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


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
    return Actor(user_id=user.id, email=user.email, roles=frozenset(user_roles(session, user.id or 0)))


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


def log_in(*, engine: Engine, email: str, password: str, client_address: str, user_agent: str = "") -> str:
    """Check the credentials and open a session; returns the signed cookie value.

    The attempt is committed whether it succeeds or not (rate limiting counts failures),
    then LoginFailed or LoginThrottled is raised for a refused one.
    """

    def attempt(session: Session) -> str | None:
        try:
            user = authenticate(session=session, email=email, password=password, client_address=client_address)
        except LoginFailed:
            return None  # the failed attempt is already added: let the transaction commit it
        return start_session(session=session, user=user, client_address=client_address, user_agent=user_agent)

    cookie = run_write(engine, attempt)
    if cookie is None:
        raise LoginFailed()
    return cookie
