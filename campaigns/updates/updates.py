"""Organizers' updates to a campaign's signers: drafts, the preview and test send, starting the send once, its
progress, and the public timeline.

**Started once.** :func:`start_sending` turns a draft into *sending* with one conditional ``UPDATE ... WHERE
status = 'draft'``, under a lock on the campaign row (PostgreSQL; SQLite has one writer at a time): a double
click or a second tab starts it once, and two drafts of one campaign cannot both pass the rate limit.
**Rate limit.** A campaign starts at most one update every ``RALLY_UPDATE_MIN_DAYS`` days (0: no limit).
**Recipients.** Signatures that count now and agreed to be contacted, not erased, in the update's regions if it
names any (:func:`recipients_filter`, the one definition the count and the fan-out share). The messages are
queued in the background by ``updates.fanout``, with links on the address the organizer's page was using when
the update started (stored on the update: the mail worker answers no request).
**Progress** is counted from the outbox while the update is going out; once every message has gone, the
upkeep stores its final counts on the update (``fanout.settle_finished``) and they are read from then on (a
signer erased or unsubscribed later takes their message out of the outbox, not out of the numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlmodel import Session

from campaigns.catalog import listing
from campaigns.core import audit, outbox
from campaigns.core.audit import Actor
from campaigns.core.errors import InvalidInput, NotFound, RallyError
from campaigns.core.mail import MailError, mail_mode
from campaigns.core.models import (
    Campaign,
    OutboxMessage,
    OutboxStatus,
    Signature,
    SignatureStatus,
    SignerUpdate,
    UpdateKind,
    UpdateStatus,
    utcnow,
)
from campaigns.core.settings import Settings, get_settings
from campaigns.core.validation import clean_text
from campaigns.questions import asking
from campaigns.questions.links import answer_links
from campaigns.regions.lookup import resolve_scheme
from campaigns.sharing import links
from campaigns.updates import message, unsubscribe

SUBJECT_MAX = 200
BODY_MAX = 20_000
_U = SignerUpdate.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_S = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_C = Campaign.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_O = OutboxMessage.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


class UpdateTooSoon(RallyError):
    """The campaign sent an update less than RALLY_UPDATE_MIN_DAYS ago."""


class UpdateAlreadyStarted(RallyError):
    """The update is not a draft any more (sent already, or being sent)."""

    def __init__(self) -> None:
        super().__init__(
            "This update has already started sending (another click or tab started it): it goes to each signer "
            "once. Reload the page to see its progress."
        )


class CampaignNotPublic(RallyError):
    """Drafts and archived campaigns send no updates."""


class NoRecipients(RallyError):
    """Nobody to send to."""


def _regions(session: Session, campaign: Campaign, codes: list[str] | str | None) -> str:
    """The region codes, checked against the campaign's scheme, as stored (comma-separated, upper case)."""
    raw = codes.split(",") if isinstance(codes, str) else list(codes or [])
    wanted = list(dict.fromkeys(c.strip().upper() for c in raw if c.strip()))
    if not wanted:
        return ""
    scheme = resolve_scheme(session=session, scheme_id=campaign.region_scheme)
    unknown = [c for c in wanted if not scheme.has(c)]
    if unknown:
        raise InvalidInput(
            {"regions": f"{', '.join(unknown[:5])} is not a region of this campaign. Pick from the list."}
        )
    return ",".join(wanted)


def _checked(subject: str, body: str) -> tuple[str, str]:
    subject = clean_text(subject, field="subject", limit=SUBJECT_MAX, required=True)
    body = clean_text(body.replace("\r\n", "\n"), field="text", limit=BODY_MAX, required=True, newlines=True)
    return subject, body


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("That campaign is gone. Reload the page.")
    return campaign


def draft_update(
    *,
    session: Session,
    campaign_id: int,
    subject: str,
    body: str,
    actor: Actor,
    kind: str = UpdateKind.news.value,
    region_codes: list[str] | str | None = None,
    now: datetime | None = None,
) -> int:
    """A new draft (organizers edit it before sending; other parts pre-fill one: "the target answered")."""
    now = now or utcnow()
    campaign = _campaign(session, campaign_id)
    subject, body = _checked(subject, body)
    if kind not in {k.value for k in UpdateKind}:
        raise InvalidInput({"kind": f"An update is one of {', '.join(k.value for k in UpdateKind)}."})
    row = SignerUpdate(
        campaign_id=campaign_id,
        kind=kind,
        subject=subject,
        body=body,
        region_codes=_regions(session, campaign, region_codes),
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return int(row.id or 0)


def edit_update(
    *,
    session: Session,
    update_id: int,
    subject: str,
    body: str,
    region_codes: list[str] | str | None = None,
    now: datetime | None = None,
) -> SignerUpdate:
    """Change a draft's subject, body and regions (a started update is never changed)."""
    row = get_update(session=session, update_id=update_id)
    subject, body = _checked(subject, body)
    regions = _regions(session, _campaign(session, row.campaign_id), region_codes)
    changed = session.execute(
        update(_U)
        .where(_U.c.id == update_id, _U.c.status == UpdateStatus.draft.value)
        .values(subject=subject, body=body, region_codes=regions, updated_at=now or utcnow())
    ).rowcount  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
    if not changed:
        raise UpdateAlreadyStarted()
    session.refresh(row)
    return row


def delete_draft(*, session: Session, update_id: int) -> None:
    gone = session.execute(_U.delete().where(_U.c.id == update_id, _U.c.status == UpdateStatus.draft.value)).rowcount  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
    if not gone:
        raise UpdateAlreadyStarted()


def get_update(*, session: Session, update_id: int) -> SignerUpdate:
    row = session.get(SignerUpdate, update_id)
    if row is None:
        raise NotFound("That update is gone (deleted in another tab?). Reload the page.")
    return row


def list_updates(*, session: Session, campaign_id: int) -> list[SignerUpdate]:
    """Every update of a campaign for its organizers: drafts first, then the sent ones, newest first."""
    rows = session.execute(select(SignerUpdate).where(_U.c.campaign_id == campaign_id)).scalars().all()
    return sorted(
        rows, key=lambda r: (r.status != UpdateStatus.draft.value, -(r.started_at or r.created_at).timestamp())
    )


def region_list(row: SignerUpdate) -> list[str]:
    return [c for c in row.region_codes.split(",") if c]


def recipients_filter(campaign_id: int, region_codes: str) -> list[Any]:
    """Who an update reaches: counted signatures of the campaign that agreed to be contacted, not erased, in its
    regions when it names some. The one definition the count and the fan-out share."""
    where = [
        _S.c.campaign_id == campaign_id,
        _S.c.contact_consent.is_(True),
        _S.c.status == SignatureStatus.counted.value,
        _S.c.erased_at.is_(None),
    ]
    codes = [c for c in region_codes.split(",") if c]
    if codes:
        where.append(_S.c.region_code.in_(codes))
    return where


def count_recipients(*, session: Session, campaign_id: int, region_codes: list[str] | str | None = None) -> int:
    """How many signers an update to these regions (none: all) would reach now."""
    regions = _regions(session, _campaign(session, campaign_id), region_codes)
    return int(session.execute(select(func.count()).where(*recipients_filter(campaign_id, regions))).scalar_one())


def mail_of(session: Session, row: SignerUpdate) -> message.UpdateMail:
    campaign = _campaign(session, row.campaign_id)
    asked = asking.open_question(session=session, campaign_id=row.campaign_id)
    maker = unsubscribe.link_maker(row.link_base or None)  # a draft's preview: the page's own address
    return message.UpdateMail(
        update_id=int(row.id or 0),
        campaign_id=row.campaign_id,
        campaign_slug=campaign.slug,
        light_share_link=campaign.light_share_link,
        campaign_title=campaign.title,
        subject=row.subject,
        body=row.body,
        links=maker,
        question=answer_links(question_id=asked.id, prompt=asked.prompt, base=maker.base) if asked else None,
    )


def preview_text(*, session: Session, update_id: int) -> str:
    """The email's text as a signer gets it (with a sample unsubscribe link, which unsubscribes nobody)."""
    mail = message.compose(
        mail_of(session, get_update(session=session, update_id=update_id)),
        signature_id=0,
        to_address="signer@example.org",
        to_name="A signer",
    )
    return mail.body


def send_test(*, session: Session, update_id: int, actor: Actor) -> int:
    """Queue the update to the acting staff member's own address (its unsubscribe link unsubscribes nobody)."""
    row = get_update(session=session, update_id=update_id)
    composed = message.compose(mail_of(session, row), signature_id=0, to_address=actor.email, to_name=actor.email)
    test = replace(composed, subject=f"[Test] {row.subject}")
    queued = outbox.enqueue(session=session, kind="update-test", mail=test, campaign_id=row.campaign_id)
    session.execute(update(_U).where(_U.c.id == update_id).values(tested_at=utcnow()))
    return int(queued or 0)


def tested(row: SignerUpdate) -> bool:
    """Its organizer sent themselves a test of this version (after its last edit): the editor's rule for "Send"."""
    return row.tested_at is not None and row.tested_at >= row.updated_at


def next_allowed_at(*, session: Session, campaign_id: int, settings: Settings | None = None) -> datetime | None:
    """When this campaign may start its next update (None: now)."""
    days = (settings or get_settings()).update_min_days
    if days <= 0:
        return None
    last = session.execute(
        select(func.max(_U.c.started_at)).where(_U.c.campaign_id == campaign_id, _U.c.started_at.is_not(None))
    ).scalar_one()
    return last + timedelta(days=days) if last is not None else None


def start_sending(
    *, session: Session, update_id: int, actor: Actor, now: datetime | None = None, settings: Settings | None = None
) -> SignerUpdate:
    """Start sending a draft to its recipients (counted now); the fan-out queues their messages in the background.

    Raises UpdateAlreadyStarted (a second click), CampaignNotPublic (a draft or archived campaign), UpdateTooSoon
    (the rate limit, saying when the next may go), NoRecipients, or MailError when mail is off."""
    settings = settings or get_settings()
    now = now or utcnow()
    row = get_update(session=session, update_id=update_id)
    session.execute(select(_C.c.id).where(_C.c.id == row.campaign_id).with_for_update())  # one start at a time
    session.refresh(row)  # as committed by whoever held the lock before
    if row.status != UpdateStatus.draft.value:
        raise UpdateAlreadyStarted()
    if not listing.is_public(_campaign(session, row.campaign_id)):
        raise CampaignNotPublic(
            "Updates go to the signers of a published or closed campaign; this one is a draft or archived."
        )
    if mail_mode(settings) is None:
        raise MailError("Email is not configured (set RALLY_SMTP_HOST, or RALLY_MAIL_OUTBOX for development).")
    allowed = next_allowed_at(session=session, campaign_id=row.campaign_id, settings=settings)
    if allowed is not None and allowed > now:
        last = allowed - timedelta(days=settings.update_min_days)
        raise UpdateTooSoon(
            f"This campaign's last update started sending on {last:%d %b %Y at %H:%M} UTC. To spare its members, "
            f"the next may go from {allowed:%d %b %Y at %H:%M} UTC (at most one update every "
            f"{settings.update_min_days} days: RALLY_UPDATE_MIN_DAYS)."
        )
    total = int(
        session.execute(select(func.count()).where(*recipients_filter(row.campaign_id, row.region_codes))).scalar_one()
    )
    if total == 0:
        raise NoRecipients(
            "No signer of this campaign who agreed to be contacted is in these regions: nobody would get it."
        )
    started = session.execute(
        update(_U)
        .where(_U.c.id == update_id, _U.c.status == UpdateStatus.draft.value)
        .values(
            status=UpdateStatus.sending.value,
            started_at=now,
            recipients=total,
            updated_at=now,
            link_base=links.public_base(),  # the organizer's request address: the fan-out runs with none
        )
    ).rowcount  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
    if not started:
        raise UpdateAlreadyStarted()
    audit.record(
        session=session,
        actor=actor,
        action="update.send",
        campaign_id=row.campaign_id,
        at=now,
        update_id=update_id,
        recipients=total,
        regions=row.region_codes or "all",
    )
    session.refresh(row)
    return row


@dataclass(frozen=True)
class UpdateProgress:
    status: str
    recipients: int  # counted when it started
    queued: int  # messages queued so far by the fan-out
    sent: int
    failed: int  # failed, or uncertain (maybe delivered): on the Mail page
    waiting: int  # queued, not sent yet

    @property
    def done(self) -> bool:
        return self.status == UpdateStatus.sent.value and self.waiting == 0


def get_progress(*, session: Session, update_id: int) -> UpdateProgress:
    """Where an update is: its final counts once settled (no outbox read), else counted live from the outbox."""
    row = get_update(session=session, update_id=update_id)
    if row.final_sent is not None:
        return UpdateProgress(row.status, row.recipients, row.queued, row.final_sent, row.final_failed or 0, 0)
    by_status = dict(
        session.execute(
            select(_O.c.status, func.count()).where(_O.c.update_id == update_id).group_by(_O.c.status)
        ).all()
    )
    failed = int(by_status.get(OutboxStatus.failed.value, 0)) + int(by_status.get(OutboxStatus.uncertain.value, 0))
    sent = int(by_status.get(OutboxStatus.sent.value, 0))
    waiting = sum(int(n) for s, n in by_status.items()) - sent - failed
    return UpdateProgress(row.status, row.recipients, row.queued, sent, failed, waiting)


# --- the public timeline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicUpdate:
    """An update as the campaign page shows it (organizer markdown, rendered without HTML)."""

    id: int
    kind: str
    subject: str
    body: str
    published_at: datetime


def list_public_updates(*, session: Session, campaign_id: int, limit: int = 3, offset: int = 0) -> list[PublicUpdate]:
    """A campaign's updates that started sending, newest first, a page at a time (``limit`` + 1 tells "more")."""
    rows = session.execute(
        select(_U.c.id, _U.c.kind, _U.c.subject, _U.c.body, _U.c.started_at)
        .where(
            and_(
                _U.c.campaign_id == campaign_id, _U.c.status.in_([UpdateStatus.sending.value, UpdateStatus.sent.value])
            )
        )
        .order_by(_U.c.started_at.desc(), _U.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [PublicUpdate(int(i), k, s, b, at) for i, k, s, b, at in rows]
