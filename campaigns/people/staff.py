"""Staff accounts: who may log in and with which roles (admin, organizer, coordinator).

Creating an account, changing its roles, deactivating it (which ends its log-ins at once) and setting its
password from the command line are audited. Passwords are ``campaigns.people.passwords``; logging in is
``campaigns.people.logins``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from campaigns.core.audit import Actor, record
from campaigns.core.errors import InvalidInput, NotFound, RallyError
from campaigns.core.models import AuthSession, Role, User, UserPublic, UserRole, utcnow
from campaigns.core.validation import clean_email, clean_name
from campaigns.people.passwords import check_password, hash_password, store_password

ROLES = tuple(r.value for r in Role)
T = TypeVar("T")


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
    if checked_email and session.execute(select(col(User.id)).where(col(User.email) == checked_email)).first():
        errors["email"] = f"{checked_email} already has an account."
    if errors:
        raise InvalidInput(errors)
    assert checked_email is not None and chosen is not None
    user = User(email=checked_email, display_name=name or "", password_hash=hash_password(password))
    session.add(user)
    session.flush()
    for role in chosen:
        session.add(UserRole(user_id=user.id, role=role))  # type: ignore[arg-type]  # flushed: it has an id
    session.flush()
    record(session=session, actor=actor, action="user.create", target=checked_email, roles=chosen)
    return user


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("There is no such person.")
    return user


def get_user_roles(*, session: Session, user_id: int) -> tuple[str, ...]:
    rows = session.execute(
        select(col(UserRole.role)).where(col(UserRole.user_id) == user_id).order_by(col(UserRole.role))
    )
    return tuple(rows.scalars())


def set_roles(*, session: Session, user_id: int, roles: list[str], actor: Actor) -> tuple[str, ...]:
    user = _user(session, user_id)
    chosen = _check_roles(roles)
    if actor.user_id == user_id and Role.admin.value not in chosen:
        raise InvalidInput({"roles": "You can't remove your own admin role; ask another admin."})
    session.execute(delete(UserRole).where(col(UserRole.user_id) == user_id))
    for role in chosen:
        session.add(UserRole(user_id=user_id, role=role))
    user.updated_at = utcnow()
    session.flush()
    record(session=session, actor=actor, action="user.roles", target=user.email, roles=chosen)
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
        session.execute(delete(AuthSession).where(col(AuthSession.user_id) == user_id))
    session.flush()
    record(session=session, actor=actor, action="user.activate" if active else "user.deactivate", target=user.email)


def set_password(*, session: Session, user_id: int, password: str, actor: Actor) -> None:
    """Set someone's password (the command line): every log-in of theirs ends."""
    user = _user(session, user_id)
    store_password(session=session, user=user, password_hash=hash_password(password))
    record(session=session, actor=actor, action="user.password", target=user.email)


def get_user_by_email(*, session: Session, email: str) -> User:
    user = session.execute(select(User).where(col(User.email) == (email or "").strip().lower())).scalar_one_or_none()
    if user is None:
        raise NotFound(f"There is no account for {(email or '').strip()[:320]}: `users list` shows them all.")
    return user


def list_users(*, session: Session) -> list[UserPublic]:
    users = session.execute(select(User).order_by(User.email)).scalars().all()
    roles: dict[int, list[str]] = {}
    for user_id, role in session.execute(
        select(col(UserRole.user_id), col(UserRole.role)).order_by(col(UserRole.role))
    ):
        roles.setdefault(user_id, []).append(role)
    return [UserPublic.model_validate(u, update={"roles": tuple(roles.get(u.id or 0, []))}) for u in users]


def count_users(*, session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(User)).scalar_one())
