"""One recipient's email of an update: the organizer's markdown as plain text, the recipient's own links, and the
one-click unsubscribe (a link in the body, and the ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` headers of
RFC 8058).

The organizer's markdown is untrusted: the message is plain text only, so nothing in it is ever rendered as HTML
by a mail client; links written ``[text](address)`` read as ``text (address)``. Every link a recipient gets is
listed by :func:`recipient_links`, the one place to add another (a question's answer link, say).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from campaigns.core import plain_text
from campaigns.core.mail import OutgoingMail
from campaigns.core.settings import Settings, get_settings
from campaigns.questions.links import AnswerLinks
from campaigns.sharing import links
from campaigns.updates import unsubscribe

_LINK = re.compile(r"!?\[([^\]\n]{0,500})\]\(([^)\s]{1,2000})(?:\s+\"[^\"\n]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")


@dataclass(frozen=True)
class UpdateMail:
    """What every recipient's copy shares: the update and its campaign."""

    update_id: int
    campaign_id: int
    campaign_slug: str
    campaign_title: str
    subject: str
    body: str  # organizer markdown
    links: unsubscribe.LinkMaker  # the public address links are built on, and the unsubscribe links' key
    question: AnswerLinks | None = None  # the campaign's open question when the batch was queued: each signer's link
    light_share_link: bool = False  # the campaign's spike mode: its link is the light sign page


def markdown_text(body: str) -> str:
    """Organizer markdown as readable plain text: links as ``text (address)``, headings and bold markers dropped."""
    text = body.replace("\r\n", "\n").strip()
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(1) else m.group(2), text)
    text = _HEADING.sub("", text)
    return plain_text.unescape(_EMPHASIS.sub(r"\2", text))  # "\(" reads "(": escapes are markdown's, not ours


def recipient_links(update: UpdateMail, signature_id: int) -> list[tuple[str, str]]:
    """The links one recipient's copy lists (label, address), the unsubscribe link aside: the place to add a
    per-recipient link. ``signature_id`` 0 is the organizer's preview or test copy (no signer's own links)."""
    base = update.links.base
    listed = []
    if update.question is not None:
        own = update.question.url(signature_id) if signature_id else "(each signer gets their own link here)"
        listed.append((f"Answer the question “{update.question.prompt}”", own))
    listed.append(
        (
            "The campaign",
            links.share_url(
                update.campaign_slug,
                light=update.light_share_link,
                base=base,
                utm_source="email",
                utm_medium="update",
            ),
        )
    )
    return listed


def compose(
    update: UpdateMail,
    *,
    signature_id: int,
    to_address: str,
    to_name: str,
    text: str | None = None,
    settings: Settings | None = None,
) -> OutgoingMail:
    """One recipient's message. ``text``: the body already turned to plain text (the fan-out does it once)."""
    settings = settings or get_settings()
    stop = update.links.url(signature_id=signature_id, campaign_id=update.campaign_id)
    listed = "\n".join(f"{label}: {url}" for label, url in recipient_links(update, signature_id))
    body = (
        f"{markdown_text(update.body) if text is None else text}\n\n"
        f"{listed}\n\n"
        "--\n"
        f"You get this because you signed “{update.campaign_title}” and agreed to hear about it from "
        f"{settings.org_name}.\n"
        f"Stop these emails (one click, no log-in): {stop}\n"
    )
    return OutgoingMail(
        to_address=to_address,
        to_name=to_name,
        reply_to_address="",
        reply_to_name="",
        subject=update.subject,
        body=body,
        headers=(("List-Unsubscribe", f"<{stop}>"), ("List-Unsubscribe-Post", unsubscribe.ONE_CLICK)),
    )
