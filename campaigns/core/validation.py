"""Cleaning and checking what people type: names, emails, free text.

Every function returns the cleaned value or raises ``InvalidInput`` for one field with
a message that says what to change. Text is NFC-normalized (so "é" typed two ways is
one name) and otherwise kept exactly as typed.
"""

from __future__ import annotations

import html
import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from campaigns.core.errors import InvalidInput

NAME_MAX = 200
COMMENT_MAX = 1000
EMAIL_MAX = 254
UTM_MAX = 200
REFERRER_MAX = 500

# Characters that reorder text on screen (Trojan Source, CVE-2021-42574): never wanted in a name.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Characters drawn as nothing: allowed inside a name (emoji sequences, Persian ZWNJ, variation selectors) but a
# name needs at least one visible character. Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties:
# soft hyphen, joiners, Hangul fillers, Mongolian separators, variation selectors, tag characters...), plus
# letters and symbols whose glyph is blank (Braille pattern blank, the musical null notehead).
_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D159, 0x1D159),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Categories with no glyph of their own: combining marks (alone they mark nothing), format and control characters,
# surrogates, private-use and unassigned code points, and separators (spaces).
_UNSEEN_CATEGORIES = frozenset({"Mn", "Mc", "Me", "Cf", "Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
# Providers where dots and +tags in the local part reach the same mailbox.
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


LONE_SURROGATE = "a broken character (half of an emoji or symbol)"


def find_bad_characters(value: str, *, allow_newlines: bool) -> str | None:
    """What in ``value`` cannot be stored or shown safely, in words for a message; None when it is all fine.

    Lone surrogates (half of a UTF-16 pair, e.g. from a cut emoji or undecodable bytes) cannot be encoded as
    UTF-8 at all: no database, file or mail could hold them.
    """
    for ch in value:
        if ch in BIDI_CONTROLS:
            return "text-direction control characters"
        if ch == "\x00":
            return "a NUL byte"
        category = unicodedata.category(ch)
        if category == "Cs":
            return LONE_SURROGATE
        if category == "Cc" and not (allow_newlines and ch in "\n\t\r"):
            return "control characters"
    return None


def has_lone_surrogate(value: str) -> bool:
    """True when ``value`` cannot be encoded as UTF-8 (for text that may hold anything else, like a password)."""
    return any("\ud800" <= ch <= "\udfff" for ch in value)


def is_visible(ch: str) -> bool:
    """Whether a character draws something on its own."""
    if unicodedata.category(ch) in _UNSEEN_CATEGORIES or ch.isspace():
        return False
    code = ord(ch)
    return not any(low <= code <= high for low, high in _IGNORABLE)


def has_visible_text(value: str) -> bool:
    """At least one character of ``value`` can be seen: not only spaces, fillers, joiners or marks."""
    return any(is_visible(ch) for ch in value)


def clean_text(
    raw: str, *, field: str, limit: int, required: bool = False, newlines: bool = False, label: str | None = None
) -> str:
    """A text value (a form field, an uploaded cell), NFC-normalized and stripped; InvalidInput({field: ...}),
    naming the field ("postal_address": "The postal address ...", or ``label`` when the form calls it otherwise),
    when it is missing but ``required``, longer than ``limit``, or holds characters that cannot be stored or would
    reorder text on screen."""
    value = unicodedata.normalize("NFC", raw.strip())
    label = label or field.replace("_", " ")
    if required and not has_visible_text(value):
        raise InvalidInput({field: f"The {label} is missing."})
    if len(value) > limit:
        raise InvalidInput({field: f"The {label} has {len(value)} characters; at most {limit} are allowed."})
    bad = find_bad_characters(value, allow_newlines=newlines)
    if bad:
        raise InvalidInput({field: f"The {label} contains {bad}; please retype it."})
    return value


def clean_name(raw: str | None, *, field: str = "full_name") -> str:
    """A person's name as typed (NFC): refused when it has no visible character, is too long, or holds
    characters that cannot be stored or would reorder text on screen."""
    value = unicodedata.normalize("NFC", (raw or "").strip())
    bad = find_bad_characters(value, allow_newlines=False)
    if bad:
        raise InvalidInput({field: f"Your name contains {bad}, which we can't store. Please type it again."})
    if not has_visible_text(value):
        raise InvalidInput({field: "Please enter your name."})
    if len(value) > NAME_MAX:
        raise InvalidInput({field: f"Please shorten your name to at most {NAME_MAX} characters (it has {len(value)})."})
    return value


def clean_comment(raw: str | None, *, field: str = "comment") -> str | None:
    value = unicodedata.normalize("NFC", (raw or "").strip()).replace("\r\n", "\n")
    bad = find_bad_characters(value, allow_newlines=True)
    if bad:
        raise InvalidInput({field: f"Your comment contains {bad}, which we can't store. Please retype it."})
    if not has_visible_text(value):
        return None
    if len(value) > COMMENT_MAX:
        raise InvalidInput(
            {field: f"Please shorten your comment to at most {COMMENT_MAX:,} characters (it has {len(value):,})."}
        )
    return value


def clean_email(raw: str | None, *, field: str = "email") -> tuple[str, str]:
    """Return (the address as given, normalized; its canonical form for dedupe)."""
    value = unicodedata.normalize("NFC", (raw or "").strip())
    if not value:
        raise InvalidInput({field: "Please enter your email address."})
    if len(value) > EMAIL_MAX:
        raise InvalidInput(
            {field: f"An email address has at most {EMAIL_MAX} characters; this one has {len(value)}. Please check it."}
        )
    if find_bad_characters(value, allow_newlines=False):
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


# --- organizer markdown: images from other sites ------------------------------------------------------------

IMAGE_URL_SHOWN = 80
# ![alt](url "title"), the alt text may hold balanced brackets; the address may be in <angle brackets>.
_INLINE_IMAGE = re.compile(r"!\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]\(\s*(<[^>\n]*>|[^\s)]+)")
# ![alt][label], ![label][] and ![label], each resolved through a definition "[label]: url" anywhere in the text.
_REFERENCE_IMAGE = re.compile(r"!\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\](?!\()(?:\[([^\[\]\n]*)\])?")
_DEFINITION = re.compile(r"^ {0,3}\[([^\]\n]+)\]:[ \t]*\n?[ \t]*(<[^>\n]*>|\S+)", re.MULTILINE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*:")


def _label(text: str) -> str:
    return " ".join(text.split()).casefold()


def _destination(raw: str) -> str:
    """What a browser would fetch for a markdown link destination: brackets, entities, escapes and
    the tabs and newlines that URL parsing drops all taken out."""
    url = raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw
    url = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", html.unescape(url))
    return "".join(ch for ch in url if ch not in "\t\n\r").strip()


def is_external_url(url: str) -> bool:
    """True for an address another site serves: any scheme but ``data:``, or a host (``//host``; ``/\\host``)."""
    folded = url.strip().lower().replace("\\", "/")
    if folded.startswith("//"):
        return True
    return bool(_SCHEME.match(folded)) and not folded.startswith("data:")


def find_external_images(markdown: str) -> list[str]:
    """The addresses of images in ``markdown`` that every reader's browser would fetch from another site."""
    definitions: dict[str, str] = {}
    for label, raw in _DEFINITION.findall(markdown):
        definitions.setdefault(_label(label), _destination(raw))
    urls = [_destination(raw) for _, raw in _INLINE_IMAGE.findall(markdown)]
    for alt, label in _REFERENCE_IMAGE.findall(markdown):
        url = definitions.get(_label(label or alt))
        if url is not None:
            urls.append(url)
    return list(dict.fromkeys(url for url in urls if is_external_url(url)))


def external_image_error(markdown: str, what: str) -> str | None:
    """A message naming the first image in ``what`` that would be fetched from another site; None when there is none.

    Such an image leaks every reader's address (and that they read this campaign) to that site; Rally's pages
    also refuse to load it (Content-Security-Policy ``img-src 'self' data:``), so it would only show as broken.
    """
    found = find_external_images(markdown)
    if not found:
        return None
    url = found[0] if len(found[0]) <= IMAGE_URL_SHOWN else found[0][:IMAGE_URL_SHOWN] + "…"
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return (
        f"The {what} shows an image from another site, “{url}”{more}: every visitor's browser would fetch it and "
        "tell that site who reads this campaign, so Rally won't show it. Remove the image, link to it instead "
        "([text](address), without the !), or use an image on this site (an address starting with /)."
    )
