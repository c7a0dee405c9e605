"""Signers for the export tests: tricky names, every formula trigger, and people who must never be exported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from campaigns.core.db import run_write
from campaigns.core.models import Letter, Outreach, Signature, Target
from tests.support.factories import make_campaign

START = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
FIXED_NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def person(full_name: str, email: str, region_code: str = "US-CA", **fields: Any) -> dict[str, Any]:
    """One signer's own fields (a Signature's keywords): counted, consenting, nothing optional unless given."""
    defaults = {"contact_consent": True, "status": "counted"}
    return {"full_name": full_name, "email": email, "region_code": region_code, **defaults, **fields}


PEOPLE = [
    person(
        'Zoë "Q" O\'Brien, Jr',
        "zoe@example.org",
        postal_code="94110",
        comment="Line one\nLine two, with a comma",
        utm_source="newsletter",
        utm_medium="email",
        utm_campaign="spring",
        referrer="https://news.example/a?b=1&c=2",
    ),
    person("José García Márquez", "jose@example.org", "US-NY"),
    person(
        '=HYPERLINK("http://evil.example","click")',
        "h@example.org",
        "US-TX",
        comment="=1+1",
        utm_source="+44 20 7946 0958",
        utm_medium="-5",
        utm_campaign="@SUM(A1)",
    ),
    person("\tTabbed Name", "t@example.org", comment="\rcarriage return first"),
    person(
        "山田太郎",
        "yamada@example.jp",
        "US-WA",
        comment='<r><t>x</t></r></is></c><c r="Z9"><f>1+1</f></c>',
        source="paper",
    ),
    person("Pending Person", "pending@example.org", status="pending"),
    person("Quiet Person", "quiet@example.org", comment="Do not contact me", contact_consent=False),
    person("Withdrawn Person", "withdrawn@example.org", status="withdrawn", withdrawn_at=START),
    person("", "erased-1@invalid", erased_at=START),
]
EXPORTED_BY_DEFAULT = 5  # the counted, consenting, not withdrawn or erased people


def load_people(engine: Engine, slug: str = "fund-libraries") -> int:
    """A campaign with PEOPLE (one hour apart from START), another campaign's signer, and letters; its id."""
    campaign = make_campaign(engine, slug=slug, title="Fund the libraries")
    other = make_campaign(engine, slug=f"{slug}-other", title="Another campaign")

    def work(session):  # type: ignore[no-untyped-def]
        ids = []
        for n, fields in enumerate(PEOPLE):
            at = START + timedelta(hours=n)
            consent = fields["contact_consent"]
            row = Signature(
                campaign_id=campaign.id,
                email_canonical=fields["email"].lower(),
                comment_status="pending" if fields.get("comment") else None,
                consent_hash=campaign.consent_hash if consent else None,
                consent_at=at if consent else None,
                created_at=at,
                **fields,
            )
            session.add(row)
            session.flush()
            ids.append(row.id)
        session.add(
            Signature(
                campaign_id=other.id,
                full_name="Other Campaign",
                email="other@example.org",
                email_canonical="other@example.org",
                region_code="US-CA",
                contact_consent=True,
                consent_hash=other.consent_hash,
                consent_at=START,
                created_at=START,
            )
        )
        targets = []
        for name in ("Senator A", "Senator B", "Senator C"):
            target = Target(campaign_id=campaign.id, name=name, email=f"{name[-1].lower()}@senate.example")
            session.add(target)
            session.flush()
            targets.append(target)
        # Zoë: two letters sent by Rally, one failed; she also downloaded one of the sent ones and opened the
        # failed one in her mail app. José only downloaded his. letters_sent counts Rally's emails alone.
        deliveries = [
            (ids[0], targets[0], [("email", "sent"), ("pdf", "sent")]),
            (ids[0], targets[1], [("email", "sent")]),
            (ids[0], targets[2], [("email", "failed"), ("mailto", "sent")]),
            (ids[1], targets[0], [("pdf", "sent"), ("text", "sent")]),
        ]
        for signature_id, target, rows in deliveries:
            letter = Letter(signature_id=signature_id, target_id=target.id, subject="Libraries", body="Please.")
            session.add(letter)
            session.flush()
            for channel, status in rows:
                session.add(Outreach(letter_id=letter.id, target_id=target.id, channel=channel, status=status))
        return campaign.id

    return run_write(engine, work)
