"""Delivering letters: the signer's own text, to each of their targets, each delivery recorded once.

An outreach row is claimed (unique per letter, target and channel) before anything is sent,
so the same letter never reaches the same target twice, whatever is clicked or retried.
An email is queued in the outbox (``campaigns.core.outbox``) in the same transaction as its claim;
the outbox worker sends it once, retries failures, and mirrors what happened onto the outreach row.

What each row means (sent by Rally, downloaded, opened in the signer's mail app, an email waiting,
failed or uncertain) is ``campaigns.letters.deliveries``: the one home of the rule that only an email Rally
sent is a letter *sent*. The tallies here and everywhere else are built from it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from campaigns.core import outbox
from campaigns.core.db import dialect_insert, read_session
from campaigns.core.errors import InvalidInput, NotFound
from campaigns.core.mail import OutgoingMail, one_line
from campaigns.core.models import (
    Campaign,
    Letter,
    Outreach,
    OutreachChannel,
    OutreachStatus,
    Signature,
    SignatureStatus,
    Target,
    utcnow,
)
from campaigns.core.validation import find_bad_characters
from campaigns.letters.context import date_text
from campaigns.letters.deliveries import is_downloaded, is_email_in, is_opened, is_sent, letters_where
from campaigns.letters.pdf import LetterDoc
from campaigns.letters.targets import list_targets_for_region
from campaigns.letters.templates import CampaignView, LetterContext, SignerView, TargetView, render_source
from campaigns.regions.lookup import resolve_scheme
from campaigns.signatures.counts import count_by_region, count_total

BODY_MAX = 20_000
SUBJECT_MAX = 300


@dataclass(frozen=True)
class Delivery:
    target_id: int
    target_name: str
    channel: str
    status: str  # the email's outreach status: pending | sent | failed | uncertain
    error: str | None = None


def save_letter(
    *, session: Session, signature_id: int, target_id: int, subject: str, body: str, suggested: str | None = None
) -> Letter:
    """Store (or update, until it has been sent) the signer's letter to one target, in their own words."""
    subject = one_line(unicodedata.normalize("NFC", subject), len(subject or ""))
    body = unicodedata.normalize("NFC", (body or "").replace("\r\n", "\n")).strip()
    errors = {}
    if not subject:
        errors["subject"] = "Please give the letter a subject."
    elif len(subject) > SUBJECT_MAX:  # refused, never cut: the signer keeps what they typed and shortens it
        errors["subject"] = f"Please shorten the subject to at most {SUBJECT_MAX} characters (it has {len(subject)})."
    elif find_bad_characters(subject, allow_newlines=False):
        errors["subject"] = "The subject contains characters we can't send; please retype it."
    if not body:
        errors["body"] = "The letter is empty. Write a few words in your own voice."
    elif len(body) > BODY_MAX:
        errors["body"] = f"Please shorten the letter to at most {BODY_MAX:,} characters (it has {len(body):,})."
    elif find_bad_characters(body, allow_newlines=True):
        errors["body"] = "The letter contains control characters we can't send; please retype that part."
    if errors:
        raise InvalidInput(errors)
    if session.get(Signature, signature_id) is None:
        raise NotFound("That signature no longer exists.")
    letter = session.execute(
        select(Letter).where(col(Letter.signature_id) == signature_id, col(Letter.target_id) == target_id)
    ).scalar_one_or_none()
    now = utcnow()
    if letter is None:
        letter = Letter(signature_id=signature_id, target_id=target_id, subject=subject, body=body, created_at=now)
    elif _gone_out(session, letter.id or 0):
        return letter  # what was sent, downloaded or opened in a mail app stays what is stored
    letter.subject, letter.body, letter.updated_at = subject, body, now
    letter.edited = suggested is not None and body != suggested.strip()
    session.add(letter)
    session.flush()
    return letter


def _gone_out(session: Session, letter_id: int) -> bool:
    """The letter left Rally in its stored words: sent by email, downloaded, or opened in a mail app.

    (Not "sent": a download is a copy in the signer's hands, and it freezes the text all the same.)"""
    stmt = select(col(Outreach.id)).where(
        col(Outreach.letter_id) == letter_id, col(Outreach.status) == OutreachStatus.sent.value
    )
    return session.execute(stmt).first() is not None


def _claim(session: Session, letter_id: int, target_id: int, channel: str) -> int | None:
    """Insert the outreach row; None when this letter already went (or is going) to this target this way."""
    row = session.execute(
        dialect_insert(session, Outreach)
        .values(
            letter_id=letter_id,
            target_id=target_id,
            channel=channel,
            status=OutreachStatus.pending.value,
            attempts=0,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["letter_id", "target_id", "channel"])
        .returning(col(Outreach.id))
    ).first()
    return row[0] if row else None


def _letter_mail(session: Session, letter: Letter, target: Target) -> tuple[OutgoingMail, Signature]:
    signature = session.get(Signature, letter.signature_id)
    if signature is None or not target.email:
        raise NotFound("The letter or its target is gone.")
    mail = OutgoingMail(
        to_address=target.email,
        to_name=" ".join(p for p in (target.title, target.name) if p),
        reply_to_address=signature.email,
        reply_to_name=signature.full_name,
        subject=letter.subject,
        body=letter.body,
    )
    return mail, signature


def deliver_by_email(*, session: Session, letter_id: int) -> Delivery:
    """Queue the letter to its target in the outbox, once; asking again queues nothing and gives the same answer.

    A letter from a signature that does not count (yet) is held, and goes out once it counts.
    """
    letter = session.get(Letter, letter_id)
    target = session.get(Target, letter.target_id) if letter and letter.target_id else None
    if letter is None or target is None or not target.email:
        raise InvalidInput({"channel": "This target has no email address: download the letter instead."})
    outreach_id = _claim(session, letter_id, target.id or 0, OutreachChannel.email.value)
    if outreach_id is None:  # already delivered or on its way: nothing is sent twice
        status = session.execute(
            select(col(Outreach.status)).where(
                col(Outreach.letter_id) == letter_id, col(Outreach.channel) == OutreachChannel.email.value
            )
        ).scalar_one()
        return Delivery(target.id or 0, target.name, OutreachChannel.email.value, status)
    mail, signature = _letter_mail(session, letter, target)
    outbox.enqueue(
        session=session,
        kind="letter",
        mail=mail,
        campaign_id=signature.campaign_id,
        signature_id=signature.id,
        outreach_id=outreach_id,
        dedupe_key=f"outreach:{outreach_id}",
        held=signature.status != SignatureStatus.counted.value,
    )
    return Delivery(target.id or 0, target.name, OutreachChannel.email.value, OutreachStatus.pending.value)


def record_delivery(*, session: Session, letter_id: int, channel: str) -> None:
    """A download (PDF or text) or a mail-app open by the signer, recorded once per letter and channel.

    Stored with status ``sent`` meaning only "done": by ``campaigns.letters.deliveries`` it is *downloaded* or
    *opened*, never a letter sent."""
    if channel not in {c.value for c in OutreachChannel} or channel == OutreachChannel.email.value:
        raise InvalidInput({"channel": f"Unknown delivery channel “{channel}”."})
    letter = session.get(Letter, letter_id)
    if letter is None or letter.target_id is None:
        raise NotFound("That letter or its target no longer exists.")
    outreach_id = _claim(session, letter_id, letter.target_id, channel)
    if outreach_id is not None:
        outreach = session.get(Outreach, outreach_id)
        assert outreach is not None
        outreach.status, outreach.sent_at, outreach.attempts = OutreachStatus.sent.value, utcnow(), 1
        session.add(outreach)


@dataclass(frozen=True)
class TargetTally:
    """One target's letters, each kind counted apart (letters, not rows: a PDF and a text of one letter are 1)."""

    target_id: int
    target_name: str
    region_code: str | None
    sent: int  # sent by email by Rally (the only letters that certainly reached the target)
    downloaded: int  # downloaded by the signer as PDF or text
    opened: int  # opened in the signer's own mail app
    failed: int  # Rally's email gave up
    uncertain: int  # Rally's sender stopped mid-send: maybe delivered
    waiting: int  # Rally's email waiting in the outbox


def tally_letters(*, session: Session, campaign_id: int) -> list[TargetTally]:
    """Per target: letters sent by Rally, downloaded, opened in a mail app, and emails failed, uncertain, waiting."""
    counts = (
        letters_where(is_sent()),
        letters_where(is_downloaded()),
        letters_where(is_opened()),
        letters_where(is_email_in(OutreachStatus.failed)),
        letters_where(is_email_in(OutreachStatus.uncertain)),
        letters_where(is_email_in(OutreachStatus.pending)),
    )
    rows = session.execute(
        select(col(Target.id), col(Target.name), col(Target.region_code), *counts)
        .join(Outreach, col(Outreach.target_id) == Target.id, isouter=True)
        .where(col(Target.campaign_id) == campaign_id)
        .group_by(col(Target.id), col(Target.name), col(Target.region_code))
        .order_by(Target.region_code, Target.name)
    ).all()
    return [TargetTally(i, n, r, *(int(c) for c in rest)) for i, n, r, *rest in rows]


def list_failed_deliveries(*, session: Session, campaign_id: int) -> list[tuple[str, int, str | None, datetime]]:
    """(target name, attempts, last error, first tried) for Rally's emails that failed (never a download)."""
    return [
        (name, attempts, error, created)
        for name, attempts, error, created in session.execute(
            select(col(Target.name), col(Outreach.attempts), col(Outreach.last_error), col(Outreach.created_at))
            .join(Target, col(Target.id) == Outreach.target_id)
            .where(col(Target.campaign_id) == campaign_id, is_email_in(OutreachStatus.failed))
            .order_by(col(Outreach.created_at))
        )
    ]


@dataclass(frozen=True)
class SuggestedLetter:
    target_id: int
    target_name: str
    target_title: str
    target_email: str | None
    subject: str
    body: str
    target_address: str = ""  # the postal address block a printed letter carries


def build_letter_context(
    *, session: Session, signature: Signature, target: Target, campaign: Campaign
) -> LetterContext:
    region = resolve_scheme(session=session, scheme_id=campaign.region_scheme)
    region_name = region.get(signature.region_code).name if region.has(signature.region_code) else None
    return LetterContext(
        signer=SignerView(
            first_name=signature.full_name.split()[0] if signature.full_name.split() else signature.full_name,
            full_name=signature.full_name,
            region_name=region_name,
            postal_code=signature.postal_code,
            comment=signature.comment,
        ),
        target=TargetView(name=target.name, title=target.title, postal_address=target.postal_address),
        campaign=CampaignView(
            title=campaign.title,
            purpose=campaign.purpose,
            goal=campaign.goal,
            count=count_total(session=session, campaign_id=campaign.id or 0),
        ),
        today=date_text(),
    )


def fill_in(*, subject: str, template: str, context: LetterContext) -> tuple[str, str]:
    """The subject (one line) and the letter, filled in: for a signer, and for the organizer's preview alike."""
    return one_line(render_source(subject, context), SUBJECT_MAX), render_source(template, context).strip()


def suggest_letters(*, session: Session, signature_id: int) -> list[SuggestedLetter]:
    """The campaign's letter for this signer, addressed to each of their targets (empty without a template)."""
    signature = session.get(Signature, signature_id)
    if signature is None:
        raise NotFound("That signature no longer exists.")
    campaign = session.get(Campaign, signature.campaign_id)
    if campaign is None or not campaign.letter_template or not campaign.letter_subject:
        return []
    suggested = []
    for target in list_targets_for_region(
        session=session, campaign_id=campaign.id or 0, region_code=signature.region_code
    ):
        context = build_letter_context(session=session, signature=signature, target=target, campaign=campaign)
        subject, body = fill_in(subject=campaign.letter_subject, template=campaign.letter_template, context=context)
        suggested.append(
            SuggestedLetter(
                target_id=target.id or 0,
                target_name=target.name,
                target_title=target.title,
                target_email=target.email,
                target_address=target.postal_address,
                subject=subject,
                body=body,
            )
        )
    return suggested


@dataclass(frozen=True)
class Bundle:
    target: Target
    campaign: Campaign
    letter_count: int
    constituents: int  # signers in the target's region (everyone, for a target of the whole campaign)
    letters: Iterator[LetterDoc]


def _bundled(target_id: int) -> tuple[Any, ...]:
    """The letters a target's bundle prints: from signatures that still count and whose signer was not erased."""
    return (
        Letter.target_id == target_id,
        Signature.status == SignatureStatus.counted.value,
        col(Signature.erased_at).is_(None),
    )


def bundle_letters(*, engine: Engine, target_id: int) -> Bundle:
    """What a printable bundle for one target holds; the letters are read in pages, never all at once."""
    with read_session(engine) as session:
        target = session.get(Target, target_id)
        campaign = session.get(Campaign, target.campaign_id) if target else None
        if target is None or campaign is None:
            raise NotFound("That target no longer exists.")
        count = session.execute(
            select(func.count())
            .select_from(Letter)
            .join(Signature, col(Signature.id) == Letter.signature_id)
            .where(*_bundled(target_id))
        ).scalar_one()
        scheme = resolve_scheme(session=session, scheme_id=campaign.region_scheme)
        if target.region_code:
            constituents = count_by_region(session=session, campaign_id=target.campaign_id).get(target.region_code, 0)
        else:
            constituents = count_total(session=session, campaign_id=target.campaign_id)

    def letters(page: int = 500) -> Iterator[LetterDoc]:
        last_id = 0
        while True:
            with read_session(engine) as session:
                rows = session.execute(
                    select(
                        col(Letter.id),
                        col(Letter.subject),
                        col(Letter.body),
                        col(Signature.full_name),
                        col(Signature.region_code),
                    )
                    .join(Signature, col(Signature.id) == Letter.signature_id)
                    .where(*_bundled(target_id), col(Letter.id) > last_id)
                    .order_by(col(Letter.id))
                    .limit(page)
                ).all()
            if not rows:
                return
            for letter_id, subject, body, name, region_code in rows:
                region = scheme.get(region_code).name if scheme.has(region_code) else region_code
                yield LetterDoc(
                    campaign_title=campaign.title,
                    signer_name=name,
                    signer_region=region,
                    target_name=target.name,
                    target_title=target.title,
                    target_address=target.postal_address,
                    date_text=date_text(),
                    subject=subject,
                    body=body,
                )
                last_id = letter_id

    return Bundle(target, campaign, int(count), constituents, letters())
