"""Email confirmation (double opt-in): a signature counts once its signer follows the link emailed to them.

**The link.** Random (``tokens.new_token``), stored only as its SHA-256 on the signature, works for
``RALLY_CONFIRM_LINK_DAYS`` days and once: :func:`confirm` is one atomic ``UPDATE ... WHERE confirmed_at
IS NULL AND the link has not expired``, and moves the counts in the same transaction. A newer link (a
resend, the reminder) replaces the older one. Mail scanners that pre-open links do not confirm: the page
only confirms when it runs in a browser session (its script runs over the websocket, never on a plain GET).

**Repeats.** Signing again with an address that is still pending re-sends the link (at most every
:data:`RESEND_MINUTES`, :data:`MAX_SENDS` times in all); with an address that signed and confirmed, the
owner is emailed "you have already signed" (at most once a day). The screen says the same to everyone.

**Reminder and expiry** (the worker's upkeep): one reminder ``RALLY_CONFIRM_REMINDER_HOURS`` after the
link was sent, with a fresh link; a signature never confirmed is deleted :data:`PENDING_GRACE_DAYS` days
after its link expired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, and_, case, delete, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigns.core import outbox
from campaigns.core.db import run_write
from campaigns.core.errors import RallyError
from campaigns.core.mail import OutgoingMail
from campaigns.core.models import Campaign, CampaignStatus, Signature, SignatureStatus, utcnow
from campaigns.core.settings import Settings, get_settings
from campaigns.core.tokens import hash_token, new_token
from campaigns.questions import answering
from campaigns.sharing import links
from campaigns.signatures.count_writes import bump_counts

RESEND_MINUTES = 10
MAX_SENDS = 5
PENDING_GRACE_DAYS = 7
PAGE_PATH = "confirm"
BATCH = 500

_S = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_C = Campaign.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_AWAITING = (SignatureStatus.pending.value, SignatureStatus.flagged.value)  # flagged ones may confirm too


class ConfirmRefused(RallyError):
    """A confirmation link that is unknown, used, expired, or for a signature that can no longer count."""


class AlreadyConfirmed(ConfirmRefused):
    """The link was used before: the signature is confirmed already."""


def fresh_link(token: str | None, now: datetime, settings: Settings | None = None) -> dict[str, Any]:
    """The signature columns for a new confirmation link (all empty when the campaign does not confirm)."""
    if token is None:
        return {"confirm_hash": None, "confirm_sent_at": None, "confirm_expires_at": None, "confirm_sends": 0}
    days = (settings or get_settings()).confirm_link_days
    return {
        "confirm_hash": hash_token(token),
        "confirm_sent_at": now,
        "confirm_expires_at": now + timedelta(days=days),
        "confirm_sends": 1,
    }


def link_url(token: str) -> str:
    """The confirmation link, on the address of the request that queues it (the worker's: the default one)."""
    return links.page_url(PAGE_PATH, token=token)


def compose_mail(
    to: str, name: str, title: str, token: str, *, reminder: bool = False, settings: Settings | None = None
) -> OutgoingMail:
    """The email carrying one confirmation link (``reminder``: the one reminder, with a fresh link)."""
    settings = settings or get_settings()
    days = settings.confirm_link_days
    opening = (
        f"A reminder: your signature on “{title}” does not count yet."
        if reminder
        else f"Thank you for signing “{title}”."
    )
    body = (
        f"Hello {name},\n\n"
        f"{opening} To count it, please confirm that this is your email address by opening this link\n"
        f"(it works once, within {days} days of the first email):\n\n"
        f"{link_url(token)}\n\n"
        "If you did not sign, ignore this email: nothing is counted, and the signature is deleted.\n\n"
        f"{settings.org_name}\n"
    )
    subject = f"{'Reminder: please' if reminder else 'Please'} confirm your signature: {title}"
    return OutgoingMail(to_address=to, to_name=name, reply_to_address="", reply_to_name="", subject=subject, body=body)


def _already_mail(
    to: str, name: str, title: str, slug: str, settings: Settings | None = None, *, light: bool = False
) -> OutgoingMail:
    settings = settings or get_settings()
    body = (
        f"Hello {name},\n\n"
        f"Someone (we hope you) just tried to sign “{title}” with this email address. You have already signed it,\n"
        "and your signature counts once: nothing was changed.\n\n"
        f"To see, withdraw or erase your signature: {links.page_url('my-data')}\n"
        f"To share the campaign: {links.share_url(slug, light=light)}\n\n"
        f"{settings.org_name}\n"
    )
    return OutgoingMail(
        to_address=to,
        to_name=name,
        reply_to_address="",
        reply_to_name="",
        subject=f"You have already signed: {title}",
        body=body,
    )


def queue_link(
    *,
    session: Session,
    signature_id: int,
    campaign: Any,
    row: Mapping[str, Any] | RowMapping,
    token: str,
    now: datetime,
    reminder: bool = False,
) -> None:
    """Queue the confirmation email for a signature, in the caller's transaction."""
    outbox.enqueue(
        session=session,
        kind="confirmation-reminder" if reminder else "confirmation",
        mail=compose_mail(row["email"], row["full_name"], campaign.title, token, reminder=reminder),
        recipient_canonical=row["email_canonical"],
        campaign_id=campaign.id,
        signature_id=signature_id,
        dedupe_key=f"confirm:{signature_id}:{hash_token(token)[:32]}",  # one email per link
        now=now,
    )


def answer_repeat(*, session: Session, campaign: Any, email_canonical: str, now: datetime) -> None:
    """Someone signed again with an address that signed this campaign: the owner hears of it by email."""
    row = session.execute(
        select(
            _S.c.id,
            _S.c.status,
            _S.c.email,
            _S.c.email_canonical,
            _S.c.full_name,
            _S.c.confirmed_at,
            _S.c.confirm_hash,
            _S.c.confirm_sent_at,
            _S.c.confirm_sends,
        )
        .where(_S.c.campaign_id == campaign.id, _S.c.email_canonical == email_canonical)
        .with_for_update()
    ).first()
    if row is None or row.status in (SignatureStatus.invalidated.value, SignatureStatus.withdrawn.value):
        return
    if row.confirmed_at is None and row.status in _AWAITING:
        recent = row.confirm_sent_at is not None and now - row.confirm_sent_at < timedelta(minutes=RESEND_MINUTES)
        if row.confirm_sends >= MAX_SENDS or recent:
            return  # rate-limited: the newest link they have still works
        token = new_token()
        sends = row.confirm_sends + 1
        session.execute(
            update(_S).where(_S.c.id == row.id).values(**{**fresh_link(token, now), "confirm_sends": sends})
        )
        queue_link(session=session, signature_id=row.id, campaign=campaign, row=row._mapping, token=token, now=now)
        return
    outbox.enqueue(
        session=session,
        kind="already-signed",
        mail=_already_mail(row.email, row.full_name, campaign.title, campaign.slug, light=campaign.light_share_link),
        recipient_canonical=row.email_canonical,
        campaign_id=campaign.id,
        signature_id=row.id,
        dedupe_key=f"already:{row.id}:{now:%Y-%m-%d}",  # at most one a day
        now=now,
    )


@dataclass(frozen=True)
class Confirmed:
    """What the confirmation page may show: the link proved the mailbox, so the signature's own details."""

    signature_id: int
    campaign_slug: str
    full_name: str
    region_code: str
    counts: bool  # False: held for review (flagged); it counts if organizers accept it (the signer isn't told)


def confirm(*, session: Session, token: str, now: datetime | None = None) -> Confirmed:
    """Use a confirmation link once: the signature is confirmed and counts (counts move in this transaction)."""
    now = now or utcnow()
    digest = hash_token(token)
    claimed = session.execute(
        update(_S)
        .where(
            _S.c.confirm_hash == digest,
            _S.c.confirmed_at.is_(None),
            _S.c.confirm_expires_at > now,
            _S.c.status.in_(_AWAITING),
        )
        .values(
            confirmed_at=now,
            status=case(
                (_S.c.status == SignatureStatus.pending.value, SignatureStatus.counted.value), else_=_S.c.status
            ),
        )
        .returning(_S.c.id, _S.c.status, _S.c.campaign_id, _S.c.region_code, _S.c.created_at, _S.c.full_name)
    ).first()
    if claimed is None:
        raise _refusal(session, digest, now)
    counts = claimed.status == SignatureStatus.counted.value
    if counts:
        bump_counts(
            session=session,
            campaign_id=claimed.campaign_id,
            region_code=claimed.region_code,
            signed_at=claimed.created_at,
        )
        outbox.release_held(session=session, signature_ids=[claimed.id], now=now)
        answering.count_held_answers(session=session, signature_ids=[claimed.id])  # one a review let through, held
    slug = session.execute(select(_C.c.slug).where(_C.c.id == claimed.campaign_id)).scalar_one()
    return Confirmed(
        signature_id=int(claimed.id),
        campaign_slug=slug,
        full_name=claimed.full_name,
        region_code=claimed.region_code,
        counts=counts,
    )


def _refusal(session: Session, digest: str, now: datetime) -> ConfirmRefused:
    row = session.execute(
        select(_S.c.status, _S.c.confirmed_at, _S.c.confirm_expires_at).where(_S.c.confirm_hash == digest)
    ).first()
    if row is None:
        return ConfirmRefused(
            "This confirmation link isn't valid: a newer one may have replaced it (use the newest email), it may "
            "have been cut short when copied, or the signature was erased. Signing again sends a new link."
        )
    if row.confirmed_at is not None:
        return AlreadyConfirmed("Your signature is confirmed already, and it counts. Thank you!")
    if row.status == SignatureStatus.withdrawn.value:
        return ConfirmRefused("You withdrew this signature, so there is nothing to confirm. Sign again to count.")
    if row.status not in _AWAITING:
        return ConfirmRefused("This signature can no longer be confirmed.")
    days = get_settings().confirm_link_days
    return ConfirmRefused(f"This link has expired: links work for {days} days. Sign again and we'll send a new one.")


# --- the worker's upkeep -------------------------------------------------------------------------------


def _unconfirmed() -> Any:
    """Signatures still waiting for their signer (the partial index ``ix_signature_unconfirmed`` holds these)."""
    return and_(_S.c.confirmed_at.is_(None), _S.c.confirm_hash.is_not(None), _S.c.status.in_(_AWAITING))


def send_reminders(*, engine: Engine, now: datetime | None = None) -> int:
    """One reminder, with a fresh link, to each signer still unconfirmed RALLY_CONFIRM_REMINDER_HOURS after
    the link was sent (on campaigns still open). Returns how many were queued."""
    settings = get_settings()
    hours = settings.confirm_reminder_hours
    if not hours:
        return 0
    now = now or utcnow()

    def batch(session: Session) -> int:
        rows = session.execute(
            select(
                _S.c.id,
                _S.c.email,
                _S.c.email_canonical,
                _S.c.full_name,
                _S.c.confirm_sends,
                _C.c.id.label("campaign_id"),
                _C.c.title,
            )
            .join(_C, _C.c.id == _S.c.campaign_id)
            .where(
                _unconfirmed(),
                _S.c.reminded_at.is_(None),
                _S.c.confirm_sent_at < now - timedelta(hours=hours),
                _S.c.confirm_expires_at > now + timedelta(hours=1),
                _C.c.status == CampaignStatus.published.value,
            )
            .limit(BATCH)
            .with_for_update(of=_S)
        ).all()
        for row in rows:
            token = new_token()
            session.execute(update(_S).where(_S.c.id == row.id).values(confirm_hash=hash_token(token), reminded_at=now))
            campaign = _CampaignRef(row.campaign_id, row.title)
            queue_link(
                session=session,
                signature_id=row.id,
                campaign=campaign,
                row=row._mapping,
                token=token,
                now=now,
                reminder=True,
            )
        return len(rows)

    return _in_batches(engine, batch)


def _in_batches(engine: Engine, work: Callable[[Session], int]) -> int:
    """Run ``work`` (one batch of at most BATCH rows per transaction) until a batch comes back short."""
    total = 0
    while True:
        done = run_write(engine, work)
        total += done
        if done < BATCH:
            return total


@dataclass(frozen=True)
class _CampaignRef:
    id: int
    title: str


def delete_expired(*, engine: Engine, now: datetime | None = None) -> int:
    """Signatures never confirmed are deleted PENDING_GRACE_DAYS after their link expired (their mail with them)."""
    cutoff = (now or utcnow()) - timedelta(days=PENDING_GRACE_DAYS)

    def work(session: Session) -> int:
        ids = select(_S.c.id).where(_unconfirmed(), _S.c.confirm_expires_at < cutoff).limit(BATCH)
        return int(session.execute(delete(_S).where(_S.c.id.in_(ids.scalar_subquery()))).rowcount or 0)  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult

    return _in_batches(engine, work)


def remind_and_expire(engine: Engine) -> None:
    """The worker's task (``upkeep.TASKS``): reminders first, then the signatures whose time is up."""
    send_reminders(engine=engine)
    delete_expired(engine=engine)
