"""What a campaign's target answered, as organizers record it: record, edit and delete a response (audited), and
read them for the campaign's page.

A response is plain text (never markup), the day it came (never a future one) and, when there is one, a link to
the document itself: an ``http``/``https`` address only, shown as a link and never fetched by Rally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlmodel import Session, col

from campaigns.core import audit, plain_text
from campaigns.core.audit import Actor
from campaigns.core.errors import CampaignNotFound, InvalidInput, NotFound
from campaigns.core.models import Campaign, Target, TargetResponse, utcnow
from campaigns.core.validation import clean_text
from campaigns.updates import updates

TEXT_MAX = 10_000
URL_MAX = 2000
# A day counts as "today" wherever the organizer is: the earliest time zone is UTC+14.
_EARLIEST_ZONE = timedelta(hours=14)
_URL_REFUSED = re.compile(r"[\s<>\"'`\\\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ResponseInput:
    """What an organizer typed for one response, before any checking."""

    text: str
    responded_on: date
    attachment_url: str = ""
    target_id: int | None = None


@dataclass(frozen=True)
class PublicResponse:
    """One response as the campaign's page shows it (plain values: safe to cache and share)."""

    response_id: int
    text: str
    responded_on: date
    attachment_url: str | None
    target: str  # "Senator Jane Doe", or "" when the response is from no particular target
    target_id: int | None = None


def clean_attachment_url(raw: str | None) -> str | None:
    """The attachment's address, or None when none was given: ``http://`` or ``https://`` with a host only
    (no ``javascript:``, ``data:``, ``file:`` or relative links), at most ``URL_MAX`` characters."""
    value = (raw or "").strip()
    if not value:
        return None
    if len(value) > URL_MAX:
        raise InvalidInput({"attachment_url": f"The link has {len(value):,} characters; at most {URL_MAX:,} work."})
    if _URL_REFUSED.search(value):
        raise InvalidInput(
            {"attachment_url": "The link contains spaces, quotes or angle brackets; paste the address alone."}
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host, parts = None, None
    if parts is None or parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(
            {"attachment_url": "Link to the document with an address that starts with https:// (or http://)."}
        )
    if not host:
        raise InvalidInput({"attachment_url": "The link has no site in it: paste the full address, https://..."})
    return value


def _check(session: Session, campaign_id: int, given: ResponseInput, now: datetime) -> dict[str, object]:
    errors: dict[str, str] = {}
    values: dict[str, object] = {}
    try:
        values["text"] = clean_text(given.text, field="text", limit=TEXT_MAX, required=True, newlines=True)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if not isinstance(given.responded_on, date) or isinstance(given.responded_on, datetime):
        errors["responded_on"] = "Give the day the response came."
    elif given.responded_on > (now + _EARLIEST_ZONE).date():
        errors["responded_on"] = "The response's date is in the future: give the day it came."
    else:
        values["responded_on"] = given.responded_on
    try:
        values["attachment_url"] = clean_attachment_url(given.attachment_url)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if given.target_id is not None:
        target = session.get(Target, given.target_id)
        if target is None or target.campaign_id != campaign_id:
            errors["target_id"] = "That target is not this campaign's (it may have been removed): choose again."
    values["target_id"] = given.target_id
    if errors:
        raise InvalidInput(errors)
    return values


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(str(campaign_id))
    return campaign


def _response(session: Session, response_id: int) -> TargetResponse:
    response = session.get(TargetResponse, response_id, with_for_update=True)
    if response is None:
        raise NotFound("We couldn't find that response. It may have been deleted; reload the page.")
    return response


def record_response(
    *, session: Session, campaign_id: int, response: ResponseInput, actor: Actor, now: datetime | None = None
) -> TargetResponse:
    """Record a target's response; InvalidInput names each wrong field (text, responded_on, attachment_url,
    target_id)."""
    now = now or utcnow()
    campaign = _campaign(session, campaign_id)
    values = _check(session, campaign_id, response, now)
    row = TargetResponse(campaign_id=campaign_id, recorded_by=actor.user_id, recorded_at=now, **values)  # type: ignore[arg-type]  # checked values, typed per field above
    session.add(row)
    campaign.updated_at = now
    session.add(campaign)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="response.record",
        campaign_id=campaign_id,
        at=now,
        response_id=row.id,
        responded_on=row.responded_on.isoformat(),
    )
    return row


def edit_response(
    *, session: Session, response_id: int, response: ResponseInput, actor: Actor, now: datetime | None = None
) -> TargetResponse:
    """Change a recorded response, checked as a new one."""
    now = now or utcnow()
    row = _response(session, response_id)
    values = _check(session, row.campaign_id, response, now)
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    if not changed:
        return row
    for name in changed:
        setattr(row, name, values[name])
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="response.edit",
        campaign_id=row.campaign_id,
        at=now,
        response_id=row.id,
        fields=changed,
    )
    return row


def delete_response(*, session: Session, response_id: int, actor: Actor) -> TargetResponse:
    """Remove a response recorded by mistake (the audit log keeps that it was); returns what was removed."""
    row = _response(session, response_id)
    campaign_id = row.campaign_id
    session.delete(row)
    session.flush()
    audit.record(
        session=session, actor=actor, action="response.delete", campaign_id=campaign_id, response_id=response_id
    )
    return row


def target_label(target: Target | None) -> str:
    if target is None:
        return ""
    return f"{target.title} {target.name}".strip()


def list_responses(*, session: Session, campaign_id: int) -> list[PublicResponse]:
    """A campaign's responses, newest first (by the day they came, then as recorded)."""
    rows = session.execute(
        select(TargetResponse, Target)
        .join(Target, col(Target.id) == col(TargetResponse.target_id), isouter=True)
        .where(col(TargetResponse.campaign_id) == campaign_id)
        .order_by(col(TargetResponse.responded_on).desc(), col(TargetResponse.id).desc())
    ).all()
    return [
        PublicResponse(
            response_id=response.id or 0,
            text=response.text,
            responded_on=response.responded_on,
            attachment_url=response.attachment_url,
            target=target_label(target),
            target_id=response.target_id,
        )
        for response, target in rows
    ]


escape_markdown = plain_text.escape  # plain text inside a markdown message (one rule with the pages' widgets.plain)


def fit_subject(subject: str) -> str:
    """An update's subject within its limit (a long campaign title is cut, with an ellipsis)."""
    return subject if len(subject) <= updates.SUBJECT_MAX else subject[: updates.SUBJECT_MAX - 1].rstrip() + "…"


def response_update(*, session: Session, response_id: int) -> tuple[str, str]:
    """The subject and markdown body of the update that tells signers of this response (for the updates part's
    ``draft_update``); the response's text is escaped, its link given as a link."""
    row = session.get(TargetResponse, response_id)
    if row is None:
        raise NotFound("We couldn't find that response. It may have been deleted; reload the page.")
    campaign = _campaign(session, row.campaign_id)
    who = target_label(session.get(Target, row.target_id) if row.target_id is not None else None)
    subject = f"{campaign.title}: {who or 'the target'} has responded"
    quoted = "\n".join(f"> {line}" if line else ">" for line in escape_markdown(row.text).split("  \n"))
    body = [
        f"{escape_markdown(who or 'The target')} responded to the campaign on {row.responded_on:%-d %B %Y}:",
        "",
        quoted,
    ]
    if row.attachment_url:
        body += ["", f"[Read the full response](<{row.attachment_url}>)"]
    body += ["", "Thank you for signing: your name is part of why they answered."]
    return fit_subject(subject), "\n".join(body)
