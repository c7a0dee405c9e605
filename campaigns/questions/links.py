"""The signed per-recipient answer link: ``/answer?t=<question>.<signature>.<mac>``.

An update email to a signer carries one (part of the mail that proves the mailbox): the question and the
signature, signed with an HMAC (SHA-256) under a key derived from the app's secret. Nobody can make one
for another signature without that key, and a link changed by one character is refused. It needs no expiry
of its own: it stops taking answers when its question closes, or its signature no longer counts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field

from campaigns.core.errors import RallyError
from campaigns.people.logins import secret_key
from campaigns.sharing import links

PAGE_PATH = "answer"
_PURPOSE = b"rally answer link v1"
_TOKEN = re.compile(r"^([1-9][0-9]{0,11})\.([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{43})$")


class AnswerLinkInvalid(RallyError):
    def __init__(self) -> None:
        super().__init__(
            "This answer link doesn't work: it may have been cut short when copied. Open it again from the email, "
            "or answer from your receipt link."
        )


@dataclass(frozen=True)
class AnswerGrant:
    """What a valid link proves: the holder reads the mailbox of this signature, for this question."""

    question_id: int
    signature_id: int


def _key() -> bytes:
    return hmac.new(secret_key(), _PURPOSE, hashlib.sha256).digest()


def _mac(question_id: int, signature_id: int, key: bytes | None = None) -> str:
    digest = hmac.new(key or _key(), f"{question_id}.{signature_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(*, question_id: int, signature_id: int) -> str:
    return f"{question_id}.{signature_id}.{_mac(question_id, signature_id)}"


def answer_link(*, question_id: int, signature_id: int, base: str | None = None) -> str:
    """The link to put in this signer's email (on the public address, or ``base``)."""
    return links.page_url(PAGE_PATH, base=base, t=make_token(question_id=question_id, signature_id=signature_id))


@dataclass(frozen=True)
class AnswerLinks:
    """One question's answer links for many recipients (an update's fan-out): the key and the address found once."""

    question_id: int
    prompt: str
    base: str
    key: bytes = field(repr=False)

    def url(self, signature_id: int) -> str:
        token = f"{self.question_id}.{signature_id}.{_mac(self.question_id, signature_id, self.key)}"
        return links.page_url(PAGE_PATH, base=self.base, t=token)


def answer_links(*, question_id: int, prompt: str, base: str | None = None) -> AnswerLinks:
    return AnswerLinks(question_id=question_id, prompt=prompt, base=base or links.public_base(), key=_key())


def read_token(token: str | None) -> AnswerGrant:
    """The question and signature a link names, if its signature is right; ``AnswerLinkInvalid`` otherwise."""
    match = _TOKEN.match(token or "")
    if match is None:
        raise AnswerLinkInvalid()
    question_id, signature_id = int(match[1]), int(match[2])
    if not hmac.compare_digest(match[3], _mac(question_id, signature_id)):
        raise AnswerLinkInvalid()
    return AnswerGrant(question_id=question_id, signature_id=signature_id)
