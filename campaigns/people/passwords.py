"""Staff passwords: the one rule every password must meet, and argon2id hashes (never the password, never logged).

A password is checked (:func:`check_password`) wherever it is chosen: the admin's form, a set-password link, the
command line, one's own Account page. Hashing is slow on purpose, so callers hash before taking any lock.
Storing a new hash (:func:`store_password`) ends that person's log-ins.
"""

from __future__ import annotations

import string
from datetime import datetime
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete
from sqlmodel import Session, col

from campaigns.core.errors import InvalidInput
from campaigns.core.models import AuthSession, User, utcnow
from campaigns.core.settings import PROJECT_ROOT
from campaigns.core.validation import LONE_SURROGATE, has_lone_surrogate

PASSWORD_MIN = 12
PASSWORD_MAX = 1024
COMMON_PASSWORDS = PROJECT_ROOT / "data" / "passwords" / "common-passwords.txt"
PASSWORD_RULE = f"at least {PASSWORD_MIN} characters, not a common password"  # stated beside every password form
_AROUND_NOT_DIGITS = string.punctuation + string.whitespace
_AROUND = string.digits + _AROUND_NOT_DIGITS

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password: equalizes timing for unknown emails")


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
    ended = delete(AuthSession).where(col(AuthSession.user_id) == user.id)
    if keep_session is not None:
        ended = ended.where(col(AuthSession.token_hash) != keep_session)
    result = session.execute(ended)
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``. None (no such account, or a deactivated one) is checked
    against a dummy hash all the same and never matches: the answer takes as long either way."""
    password = password[:PASSWORD_MAX]  # no stored password is longer
    if has_lone_surrogate(password):  # never a stored password (check_password refuses it), and not encodable
        return False
    try:
        matches = _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and password_hash is not None


def rehash(password_hash: str, password: str) -> str | None:
    """A new hash of the (right) ``password`` when argon2's parameters changed since ``password_hash``; else None."""
    return _hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else None
