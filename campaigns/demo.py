"""Demo data: campaigns with realistic, clearly synthetic signers (all at example.org).

Loading is idempotent: the i-th demo signer of a campaign always has the same email,
and signatures are inserted with ON CONFLICT DO NOTHING, so running it again adds
only what is missing. Signers are spread over regions by population and over the
last two weeks with a growing pace, like a real campaign.

Each demo campaign also gets its targets, imported from ``data/demo/targets-<slug>.csv`` through the real
targets import (one fictional decision-maker per region, all at example.org), and a letter from a stock
template saved through the real save-time checks; both only when the campaign has none yet, so running the
demo again, or after an organizer changed them, changes nothing. One demo signer in ten (``LETTER_PERCENT``)
wrote their letter, saved and downloaded or opened as the letter step does it, so the organizer's tally and
printable bundles have letters; never a letter for anyone who signed a demo campaign for real.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from campaigns.catalog.lifecycle import publish_campaign, set_letter
from campaigns.catalog.listing import create_campaign, get_campaign_by_slug
from campaigns.core.audit import CLI
from campaigns.core.db import dialect_insert, run_write
from campaigns.core.models import (
    Campaign,
    CampaignCreate,
    CommentStatus,
    Letter,
    OutreachChannel,
    Signature,
    SignatureStatus,
    utcnow,
)
from campaigns.core.settings import PROJECT_ROOT
from campaigns.core.validation import canonical_email
from campaigns.letters.outreach import record_delivery, save_letter, suggest_letters
from campaigns.letters.targets import import_targets, list_targets
from campaigns.letters.templates import stock_templates
from campaigns.regions.schemes import Region, get_scheme
from campaigns.signatures.count_writes import rebuild_counts

DEMO_DIR = PROJECT_ROOT / "data" / "demo"
BATCH = 5_000
# The day the demo campaigns were created (drafted), whenever the demo runs: before the dates in the shipped
# example of paper signatures (data/demo/paper-signatures-example.csv, March 2026), which a paper import refuses
# when they fall before the campaign was created. They are published two weeks before the demo runs.
DEMO_CREATED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class DemoCampaign:
    slug: str
    title: str
    purpose: str
    body: str
    goal: int
    region_scheme: str
    share: float  # fraction of the requested signers this campaign gets
    days_left: int


DEMO_CAMPAIGNS = (
    DemoCampaign(
        slug="save-our-libraries",
        title="Keep our public libraries open on weekends",
        purpose=(
            "Branch libraries are closing on Saturdays and Sundays, the only days many working families can visit. "
            "We ask every state's library board to restore weekend hours."
        ),
        body=(
            "## Why this matters\n\nLibraries are free, open to everyone, and often the only place with free internet, "
            "homework help and a warm room. Weekend closures hit the people with the fewest alternatives.\n\n"
            "## What we ask\n\n1. Restore weekend opening hours at every branch.\n"
            "2. Fund them in next year's budget.\n"
        ),
        goal=10_000,
        region_scheme="us-states",
        share=1.0,
        days_left=45,
    ),
    DemoCampaign(
        slug="clean-air-for-schools",
        title="Clean air for every school",
        purpose="Children breathe the air outside their schools all day. We ask governments to monitor it and act.",
        body="Air-quality monitors at every school gate, published data, and traffic-free streets at drop-off times.",
        goal=5_000,
        region_scheme="world-countries",
        share=0.3,
        days_left=90,
    ),
)

# The stock template (letter_templates/<name>.j2) each demo campaign's letter starts from: the one to a legislator
# fits both (a board or a minister is asked to "vote in favour"; the local council's speaks of "the council").
DEMO_LETTERS = {"save-our-libraries": "legislator-bill", "clean-air-for-schools": "legislator-bill"}
LETTER_PERCENT = 10  # of the demo signers wrote their letter and downloaded it or opened it in their mail app
LETTERS_MAX = 1_000  # demo letters a campaign at most (about a second for every 300), however many signers
LETTER_BATCH = 200  # demo signers' letters per transaction, so the app's own writes never wait long
_CHANNELS = (
    OutreachChannel.pdf,
    OutreachChannel.pdf,
    OutreachChannel.pdf,
    OutreachChannel.mailto,
    OutreachChannel.text,
)


@cache
def _words(name: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in (DEMO_DIR / name).read_text("utf-8").splitlines() if line.strip())


def _weighted_regions(scheme_id: str) -> tuple[list[Region], list[float]]:
    regions = list(get_scheme(scheme_id).regions)
    known = [r.population for r in regions if r.population]
    floor = (min(known) if known else 1) / 2
    return regions, [float(r.population or floor) for r in regions]


def demo_rows(campaign_id: int, demo: DemoCampaign, count: int, now: datetime, seed: int = 7) -> list[dict]:
    """The first ``count`` demo signers of a campaign (the i-th is the same on every run)."""
    firsts, lasts, comments = _words("first_names.txt"), _words("last_names.txt"), _words("comments.txt")
    regions, weights = _weighted_regions(demo.region_scheme)
    chosen = random.Random(f"{seed}-{demo.slug}-regions").choices(regions, weights=weights, k=count)
    sources = [("newsletter", "email"), ("facebook", "social"), ("mastodon", "social"), (None, None), (None, None)]
    rows = []
    for i in range(count):
        rng = random.Random(f"{seed}-{demo.slug}-{i}")
        first, last = rng.choice(firsts), rng.choice(lasts)
        email = f"{first}.{last}.{i}@example.org".lower().replace("'", "").replace(" ", "")
        # pace grows toward now: ages drawn from a skewed distribution over 14 days
        created = now - timedelta(seconds=14 * 86_400 * rng.random() ** 1.8)
        consent = rng.random() < 0.6
        comment = rng.choice(comments) if rng.random() < 0.1 else None
        utm_source, utm_medium = rng.choice(sources)
        rows.append(
            {
                "campaign_id": campaign_id,
                "full_name": f"{first} {last}",
                "email": email,
                "email_canonical": canonical_email(email),
                "region_code": chosen[i].code,
                "postal_code": None,
                "comment": comment,
                "comment_status": CommentStatus.pending.value if comment else None,
                "contact_consent": consent,
                "consent_hash": None,  # filled by the caller (the campaign's wording)
                "consent_at": created if consent else None,
                "utm_source": utm_source,
                "utm_medium": utm_medium,
                "utm_campaign": "demo" if utm_source else None,
                "referrer": None,
                "status": SignatureStatus.counted.value,
                "created_at": created,
            }
        )
    return rows


def _ensure_campaign(engine: Engine, demo: DemoCampaign, now: datetime) -> tuple[int, str]:
    def work(session):
        campaign = get_campaign_by_slug(session=session, slug=demo.slug)
        if campaign is None:
            campaign = create_campaign(
                session=session,
                campaign_create=CampaignCreate(
                    slug=demo.slug,
                    title=demo.title,
                    purpose=demo.purpose,
                    body=demo.body,
                    goal=demo.goal,
                    deadline=now + timedelta(days=demo.days_left),
                    region_scheme=demo.region_scheme,
                ),
                now=min(DEMO_CREATED, now - timedelta(days=15)),
            )
            publish_campaign(session=session, campaign_id=campaign.id, now=now - timedelta(days=14))  # type: ignore[arg-type]  # created: it has an id
        return campaign.id, campaign.consent_hash

    return run_write(engine, work)


def targets_file(demo: DemoCampaign) -> Path:
    """The demo campaign's targets CSV (columns as in the README's targets table)."""
    return DEMO_DIR / f"targets-{demo.slug}.csv"


def _ensure_targets_and_letter(engine: Engine, demo: DemoCampaign, campaign_id: int) -> None:
    """Import the campaign's demo targets and save its demo letter, each only if the campaign has none yet."""
    stock = {t.name: t for t in stock_templates()}[DEMO_LETTERS[demo.slug]]

    def work(session):
        if not list_targets(session=session, campaign_id=campaign_id):
            data = targets_file(demo).read_bytes()
            import_targets(session=session, campaign_id=campaign_id, data=data, actor=CLI)
        campaign = session.get(Campaign, campaign_id)
        if campaign is not None and not campaign.letter_template:
            set_letter(session=session, campaign_id=campaign_id, subject=stock.subject, template=stock.body, actor=CLI)

    run_write(engine, work)


def writes_letter(email_canonical: str) -> bool:
    """Whether this demo signer wrote their letter (the same signers on every run)."""
    return zlib.crc32(email_canonical.encode()) % 100 < LETTER_PERCENT


def _ensure_signer_letters(engine: Engine, campaign_id: int, rows: list[dict]) -> None:
    """Some demo signers' letters, saved and downloaded (or opened) as the letter step does it, so the organizer's
    tally and printable bundles have letters; only demo signers (never anyone who signed the demo for real), only
    those without a letter yet, at most :data:`LETTERS_MAX` a campaign, :data:`LETTER_BATCH` per transaction."""
    writers = [row["email_canonical"] for row in rows if writes_letter(row["email_canonical"])][:LETTERS_MAX]

    def work(session, emails: list[str]) -> None:
        found = session.execute(
            select(col(Signature.id), col(Signature.email_canonical)).where(
                col(Signature.campaign_id) == campaign_id, col(Signature.email_canonical).in_(emails)
            )
        ).all()
        ids = [signature_id for signature_id, _ in found]
        written = set(
            session.execute(select(col(Letter.signature_id)).where(col(Letter.signature_id).in_(ids))).scalars()
        )
        for signature_id, email in found:
            if signature_id in written:
                continue
            channel = _CHANNELS[zlib.crc32(email.encode(), 1) % len(_CHANNELS)]
            for suggested in suggest_letters(session=session, signature_id=signature_id):
                letter = save_letter(
                    session=session,
                    signature_id=signature_id,
                    target_id=suggested.target_id,
                    subject=suggested.subject,
                    body=suggested.body,
                    suggested=suggested.body,
                )
                record_delivery(session=session, letter_id=letter.id, channel=channel.value)  # type: ignore[arg-type]  # saved: it has an id

    for start in range(0, len(writers), LETTER_BATCH):
        run_write(engine, lambda s, emails=writers[start : start + LETTER_BATCH]: work(s, emails))  # type: ignore[misc]  # mypy can't type a lambda with a default


def load_demo(engine: Engine, *, signatures: int = 3_000, now: datetime | None = None) -> dict[str, int]:
    """Create the demo campaigns, their targets, letters and signers; returns each campaign's total."""
    now = now or utcnow()
    totals: dict[str, int] = {}
    for demo in DEMO_CAMPAIGNS:
        campaign_id, consent = _ensure_campaign(engine, demo, now)
        _ensure_targets_and_letter(engine, demo, campaign_id)
        rows = demo_rows(campaign_id, demo, round(signatures * demo.share), now)
        for row in rows:
            row["consent_hash"] = consent if row["contact_consent"] else None
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            run_write(
                engine,
                lambda s, batch=batch: s.execute(  # type: ignore[misc]  # mypy can't type a lambda with a default
                    dialect_insert(s, Signature).on_conflict_do_nothing(
                        index_elements=["campaign_id", "email_canonical"]
                    ),
                    batch,
                ),
            )
        totals[demo.slug] = run_write(engine, lambda s, cid=campaign_id: rebuild_counts(session=s, campaign_id=cid))  # type: ignore[misc]  # mypy can't type a lambda with a default
        _ensure_signer_letters(engine, campaign_id, rows)
    return totals
