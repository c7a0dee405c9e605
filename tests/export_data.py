"""Signers for the export tests: tricky names, every formula trigger, and people who must never be exported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from campaigns.db import run_write
from campaigns.models import Letter, Outreach, Signature, Target
from tests.factories import make_campaign

START = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
FIXED_NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

# (full_name, email, region, postal, comment, consent, utm_source, utm_medium, utm_campaign, referrer, status, extra)
PEOPLE = [
    (
        'Zoë "Q" O\'Brien, Jr',
        "zoe@example.org",
        "US-CA",
        "94110",
        "Line one\nLine two, with a comma",
        True,
        "newsletter",
        "email",
        "spring",
        "https://news.example/a?b=1&c=2",
        "counted",
        {},
    ),
    ("José García Márquez", "jose@example.org", "US-NY", None, None, True, None, None, None, None, "counted", {}),
    (
        '=HYPERLINK("http://evil.example","click")',
        "h@example.org",
        "US-TX",
        None,
        "=1+1",
        True,
        "+44 20 7946 0958",
        "-5",
        "@SUM(A1)",
        None,
        "counted",
        {},
    ),
    (
        "\tTabbed Name",
        "t@example.org",
        "US-CA",
        None,
        "\rcarriage return first",
        True,
        None,
        None,
        None,
        None,
        "counted",
        {},
    ),
    (
        "山田太郎",
        "yamada@example.jp",
        "US-WA",
        None,
        '<r><t>x</t></r></is></c><c r="Z9"><f>1+1</f></c>',
        True,
        None,
        None,
        None,
        None,
        "counted",
        {"source": "paper"},
    ),
    ("Pending Person", "pending@example.org", "US-CA", None, None, True, None, None, None, None, "pending", {}),
    (
        "Quiet Person",
        "quiet@example.org",
        "US-CA",
        None,
        "Do not contact me",
        False,
        None,
        None,
        None,
        None,
        "counted",
        {},
    ),
    (
        "Withdrawn Person",
        "withdrawn@example.org",
        "US-CA",
        None,
        None,
        True,
        None,
        None,
        None,
        None,
        "withdrawn",
        {"withdrawn_at": START},
    ),
    ("", "erased-1@invalid", "US-CA", None, None, True, None, None, None, None, "counted", {"erased_at": START}),
]
EXPORTED_BY_DEFAULT = 5  # the counted, consenting, not withdrawn or erased people


def load_people(engine: Engine, slug: str = "fund-libraries") -> int:
    """A campaign with PEOPLE (one hour apart from START), another campaign's signer, and sent letters; its id."""
    campaign = make_campaign(engine, slug=slug, title="Fund the libraries")
    other = make_campaign(engine, slug=f"{slug}-other", title="Another campaign")

    def work(session):  # type: ignore[no-untyped-def]
        ids = []
        for n, person in enumerate(PEOPLE):
            name, email, region, postal, comment, consent, us, um, uc, ref, status, extra = person
            at = START + timedelta(hours=n)
            row = Signature(
                campaign_id=campaign.id,
                full_name=name,
                email=email,
                email_canonical=email.lower(),
                region_code=region,
                postal_code=postal,
                comment=comment,
                comment_status="pending" if comment else None,
                contact_consent=consent,
                consent_hash=campaign.consent_hash if consent else None,
                consent_at=at if consent else None,
                utm_source=us,
                utm_medium=um,
                utm_campaign=uc,
                referrer=ref,
                status=status,
                created_at=at,
                **extra,
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
        for target, status in zip(targets, ("sent", "sent", "failed"), strict=True):
            letter = Letter(signature_id=ids[0], target_id=target.id, subject="Libraries", body="Please.")
            session.add(letter)
            session.flush()
            session.add(Outreach(letter_id=letter.id, target_id=target.id, channel="email", status=status))
        return campaign.id

    return run_write(engine, work)
