"""What a printed letter shows around the signer's words, and where on an A4 page (no fpdf here: plain rules).

The PDF owns the letterhead: the sender at the top right, the recipient's address block where a window
envelope shows it, the date once (right-aligned, below the address), the subject. The letter's text (what the
template rendered and the signer edited) owns the salutation, the words and the sign-off, so an emailed letter
reads the same as a printed one. Two rules keep anything from printing twice:

* **Nothing above the salutation twice.** Lines at the top of the text that repeat what the letterhead prints
  (a line that is only a date, the recipient's name, title or address lines) are left out of the body.
* **One signature.** When one of the text's last three lines is the signer's name (all of it, part of it, or
  initials: "Amara Okafor", "Amara", "A. Okafor"), the text is signed and the PDF adds nothing but room to sign
  by hand above that line; otherwise the PDF signs it: a line to sign on, the name, the region.

Positions follow DIN 5008 form B (a DL or C5/6 envelope with a left window, 20 mm from the left edge and 45 to
90 mm from the top), which also fits the window of a US #10 envelope holding a page folded in three: the address
block starts 25 mm from the left and 62.7 mm from the top and holds six lines. Fold marks at 105 and 210 mm and
a hole mark at 148.5 mm are drawn at the left edge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SENDER_TOP = 22.0  # mm from the top of the page: the sender block, right-aligned
ADDRESS_TOP = 62.7  # the recipient's address block (DIN 5008 form B's address zone: 62.7 to 90 mm)
ADDRESS_LINES = 6  # the lines that zone holds
ADDRESS_LINE = 4.23  # mm per address line (12 pt leading)
ADDRESS_SIZE = 10.0  # pt
DATE_TOP = 97.0  # the date, right-aligned, once the address block is above it
FOLD_MARKS = (105.0, 210.0)  # where an A4 letter is folded in three (form B)
HOLE_MARK = 148.5  # the middle of the page, for a hole punch
SIGNED_LINES = 3  # how many of the text's last lines are looked at for the signer's name
SIGN_ROOM = 8.0  # mm left above a signed text's name, to sign by hand

_MONTHS = "january february march april may june july august september october november december".split()
_MONTH = "(?:" + "|".join(f"{m[:3]}(?:{m[3:]})?\\.?" for m in _MONTHS) + ")"
# A line that is only a date: "22 November 2026", "22. Nov 2026", "November 22, 2026", "2026-11-22", "22/11/2026".
_DATE_LINE = re.compile(
    rf"(?:\d{{1,2}}\.? {_MONTH},? \d{{4}}|{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4})",
    re.IGNORECASE,
)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*\.?|\S", re.UNICODE)


@dataclass(frozen=True)
class LetterParts:
    """A letter as it is printed, top to bottom (every text already cleaned by the caller)."""

    sender: list[str]  # the signer's name and region, top right
    recipient: list[str]  # the address block: name, title, address lines
    date: str
    subject: str
    paragraphs: list[str]  # the letter's own text, less any top lines that repeat the letterhead
    signed_at: int | None  # the paragraph that starts with the signer's name (room to sign is left above it)
    signature: list[str]  # what the PDF signs with ([] when the text is signed already): name, region


def letter_parts(
    *,
    signer_name: str,
    signer_region: str,
    target_name: str,
    target_title: str,
    target_address: str,
    date_text: str,
    subject: str,
    body: str,
) -> LetterParts:
    """Split a letter into what the PDF prints where, by the two rules in this module's docstring."""
    name, region, date = signer_name.strip(), signer_region.strip(), date_text.strip()
    recipient = [t for t in (s.strip() for s in (target_name, target_title, *target_address.splitlines())) if t]
    repeated = [*recipient, f"{target_title.strip()} {target_name.strip()}", date]
    lines = strip_letterhead(body, repeated=repeated).splitlines()
    signed = signature_line("\n".join(lines), signer_name=name)
    above = paragraphs_of("\n".join(lines[:signed]))
    return LetterParts(
        sender=[t for t in (name, region) if t],
        recipient=recipient,
        date=date,
        subject=subject.strip(),
        paragraphs=above if signed is None else above + paragraphs_of("\n".join(lines[signed:])),
        signed_at=None if signed is None else len(above),
        signature=[t for t in (name, region) if t] if signed is None else [],
    )


def paragraphs_of(text: str) -> list[str]:
    """The text's paragraphs (split at blank lines), each without trailing space; empty ones dropped."""
    return [p.rstrip() for p in _PARAGRAPH_BREAK.split(text.strip()) if p.strip()]


def _key(line: str) -> str:
    return " ".join(line.split()).casefold()


def is_date_line(line: str) -> bool:
    """The line is only a date, in one of the ways letters write one."""
    return _DATE_LINE.fullmatch(" ".join(line.split())) is not None


def strip_letterhead(body: str, *, repeated: Iterable[str]) -> str:
    """The text less its top lines that are only a date or one of ``repeated`` (case and spacing aside).

    It stops at the first other line (the salutation, usually), so nothing the signer wrote below it is touched.
    """
    known = {_key(r) for r in repeated if r.strip()}
    lines = body.strip().splitlines()
    start = 0
    while start < len(lines):
        line = lines[start]
        if line.strip() and _key(line) not in known and not is_date_line(line):
            break
        start += 1
    return "\n".join(lines[start:]).strip()


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def signature_line(body: str, *, signer_name: str) -> int | None:
    """Where the text is signed: the index (in ``body.splitlines()``) of the first of its last
    :data:`SIGNED_LINES` lines that is the signer's name, part of it, or its initials; None when unsigned."""
    names = [w.rstrip(".") for w in _words(signer_name) if w.rstrip(".")]
    if not names:
        return None
    initials = {n[0] for n in names}
    lines = body.splitlines()
    last = [i for i, line in enumerate(lines) if line.strip()][-SIGNED_LINES:]
    for i in last:
        words = [w.rstrip(".") for w in _words(lines[i]) if w not in {",", "-", "–", "—"}]
        if words and all(w in names or (len(w) == 1 and w in initials) for w in words):
            return i
    return None


def is_signed(body: str, *, signer_name: str) -> bool:
    """One of the text's last :data:`SIGNED_LINES` lines is the signer's name, part of it, or its initials."""
    return signature_line(body, signer_name=signer_name) is not None
