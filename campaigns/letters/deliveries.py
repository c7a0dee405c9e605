"""What an outreach row means: the one home of the rule that a letter is *sent*.

A letter is **sent** only when Rally emailed it and the mail server took it: channel ``email``,
status ``sent`` (:func:`is_sent` in SQL, :func:`delivery_kind` in Python: the same rule, checked
against each other by the tests). Everything else is something else and is counted apart:

* an email of Rally's *waiting* in the outbox (status ``pending``, also while its signature does not
  count yet), *failed* (the outbox gave up; an organizer sees the server's answer and may resend it)
  or *uncertain* (the sender stopped mid-send: maybe delivered);
* a letter the signer *downloaded* (channels ``pdf`` and ``text``) or *opened* in their own mail app
  (``mailto``). Rally cannot know whether a download was posted or a mail-app draft was sent, so
  these are never "sent". They are stored with status ``sent``, meaning only "done": the channel
  says what was done.

Kept apart from ``campaigns.letters.outreach`` (which imports the PDF and template machinery) so the export,
the dashboard and "your data" can use the rule without loading any of that.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func
from sqlmodel import col

from campaigns.core.models import Outreach, OutreachChannel, OutreachStatus


class DeliveryKind(enum.StrEnum):
    """What one outreach row says happened to a letter."""

    sent = "sent"  # emailed by Rally, accepted by the mail server
    waiting = "waiting"  # an email in the outbox, not sent yet (or held until the signature counts)
    failed = "failed"  # Rally's email gave up; an organizer sees why and may resend it
    uncertain = "uncertain"  # Rally's sender stopped mid-send: maybe delivered; an organizer may resend it
    downloaded = "downloaded"  # the signer downloaded it (PDF or text): Rally does not know if it was sent
    opened = "opened"  # the signer opened it in their own mail app: Rally does not know if it was sent


DOWNLOAD_CHANNELS = (OutreachChannel.pdf.value, OutreachChannel.text.value)
_EMAIL_KINDS = {
    OutreachStatus.sent.value: DeliveryKind.sent,
    OutreachStatus.pending.value: DeliveryKind.waiting,
    OutreachStatus.failed.value: DeliveryKind.failed,
    OutreachStatus.uncertain.value: DeliveryKind.uncertain,
}


def delivery_kind(channel: str, status: str) -> DeliveryKind:
    """The meaning of one outreach row: sent only for an email Rally sent; a download or mail-app open otherwise."""
    if channel == OutreachChannel.email.value:
        return _EMAIL_KINDS.get(status, DeliveryKind.waiting)
    if channel in DOWNLOAD_CHANNELS:
        return DeliveryKind.downloaded
    return DeliveryKind.opened


def is_sent() -> ColumnElement[bool]:
    """SQL: the outreach row is a letter *sent*: Rally emailed it and the mail server took it.

    The tallies use these conditions inside ``CASE`` rather than as a ``WHERE``, so their queries stay
    driven by the letter and target indexes (a ``WHERE`` on status lets SQLite pick the status index)."""
    return and_(col(Outreach.channel) == OutreachChannel.email.value, col(Outreach.status) == OutreachStatus.sent.value)


def is_email_in(status: OutreachStatus) -> ColumnElement[bool]:
    """SQL: a Rally email in this state (pending: waiting; failed; uncertain)."""
    return and_(col(Outreach.channel) == OutreachChannel.email.value, col(Outreach.status) == status.value)


def is_downloaded() -> ColumnElement[bool]:
    """SQL: the signer downloaded the letter (PDF or text)."""
    return col(Outreach.channel).in_(DOWNLOAD_CHANNELS)


def is_opened() -> ColumnElement[bool]:
    """SQL: the signer opened the letter in their own mail app."""
    return col(Outreach.channel) == OutreachChannel.mailto.value


def is_taken_by_signer() -> ColumnElement[bool]:
    """SQL: downloaded or opened in the signer's mail app: the signer took it away, Rally sent nothing."""
    return col(Outreach.channel).in_((*DOWNLOAD_CHANNELS, OutreachChannel.mailto.value))


def letters_where(condition: ColumnElement[bool]) -> Any:
    """SQL aggregate: how many distinct letters have a row meeting ``condition`` (a PDF and a text of one letter: 1)."""
    return func.count(func.distinct(case((condition, Outreach.letter_id))))
