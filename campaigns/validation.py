"""Cleaning and checking what people type: names, emails, free text.

Every function returns the cleaned value or raises ``InvalidInput`` for one field with
a message that says what to change. Text is NFC-normalized (so "é" typed two ways is
one name) and otherwise kept exactly as typed.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from campaigns.errors import InvalidInput

NAME_MAX = 200
COMMENT_MAX = 1000
EMAIL_MAX = 254
UTM_MAX = 200
REFERRER_MAX = 500

# Characters that reorder text on screen (Trojan Source, CVE-2021-42574): never wanted in a name.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Invisible characters: allowed inside a name (emoji sequences, Persian ZWNJ) but not as all of it.
INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e")
# Providers where dots and +tags in the local part reach the same mailbox.
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def find_bad_characters(value: str, *, allow_newlines: bool) -> str | None:
    for ch in value:
        if ch in BIDI_CONTROLS:
            return "text-direction control characters"
        if ch == "\x00":
            return "a NUL byte"
        if unicodedata.category(ch) == "Cc" and not (allow_newlines and ch in "\n\t\r"):
            return "control characters"
    return None


def _is_blank(value: str) -> bool:
    return all(ch.isspace() or ch in INVISIBLE for ch in value)


def clean_name(raw: str | None, *, field: str = "full_name") -> str:
    value = unicodedata.normalize("NFC", (raw or "").strip())
    if _is_blank(value):
        raise InvalidInput({field: "Please enter your name."})
    if len(value) > NAME_MAX:
        raise InvalidInput({field: f"Please shorten your name to at most {NAME_MAX} characters (it has {len(value)})."})
    bad = find_bad_characters(value, allow_newlines=False)
    if bad:
        raise InvalidInput({field: f"Your name contains {bad}, which we can't store. Please type it again."})
    return value


def clean_comment(raw: str | None, *, field: str = "comment") -> str | None:
    value = unicodedata.normalize("NFC", (raw or "").strip()).replace("\r\n", "\n")
    if _is_blank(value):
        return None
    if len(value) > COMMENT_MAX:
        raise InvalidInput(
            {field: f"Please shorten your comment to at most {COMMENT_MAX} characters (it has {len(value)})."}
        )
    bad = find_bad_characters(value, allow_newlines=True)
    if bad:
        raise InvalidInput({field: f"Your comment contains {bad}, which we can't store. Please retype it."})
    return value


def clean_email(raw: str | None, *, field: str = "email") -> tuple[str, str]:
    """Return (the address as given, normalized; its canonical form for dedupe)."""
    value = unicodedata.normalize("NFC", (raw or "").strip())
    if not value:
        raise InvalidInput({field: "Please enter your email address."})
    if len(value) > EMAIL_MAX or find_bad_characters(value, allow_newlines=False):
        raise InvalidInput({field: "That doesn't look like an email address. Please check it."})
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput({field: f"That email address isn't valid: {exc}"}) from None
    return checked.normalized, canonical_email(checked.normalized)


def canonical_email(address: str) -> str:
    """The form two addresses share when they reach the same mailbox.

    Lower-cased whole; for Gmail (and googlemail.com, the same service) dots and any
    ``+tag`` in the local part are dropped and the domain is unified. Other providers
    keep dots and tags: there they can be different mailboxes.
    """
    local, _, domain = unicodedata.normalize("NFC", address.strip()).rpartition("@")
    local, domain = local.lower(), domain.lower().rstrip(".")
    if domain in GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def clean_short(raw: str | None, *, limit: int) -> str | None:
    """Tracking values from a link (utm_*, referrer): trimmed, cut to size, control characters dropped."""
    if raw is None:
        return None
    value = "".join(ch for ch in unicodedata.normalize("NFC", str(raw)) if ch.isprintable() and ch not in BIDI_CONTROLS)
    value = value.strip()[:limit]
    return value or None
