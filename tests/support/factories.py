"""Small builders for test data: a campaign in a given state, a signer with overrides."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from campaigns.catalog.lifecycle import close_campaign, publish_campaign
from campaigns.catalog.listing import create_campaign
from campaigns.core.db import run_write
from campaigns.core.models import Campaign, CampaignCreate, User, utcnow
from campaigns.signatures.signing import SignerInput

_seq = itertools.count(1)


def make_campaign(
    engine: Engine,
    *,
    slug: str | None = None,
    status: str = "published",
    region_scheme: str = "us-states",
    goal: int = 100,
    deadline: datetime | None = None,
    title: str = "Fund the libraries",
    require_confirmation: bool = False,
) -> Campaign:
    slug = slug or f"campaign-{next(_seq)}"

    def work(session):  # type: ignore[no-untyped-def]
        campaign = create_campaign(
            session=session,
            campaign_create=CampaignCreate(
                slug=slug,
                title=title,
                purpose="Keep every branch library open on weekends.",
                body="## Why\nLibraries are where communities meet.",
                goal=goal,
                deadline=deadline,
                region_scheme=region_scheme,
                require_confirmation=require_confirmation,
            ),
        )
        if status in ("published", "closed"):
            publish_campaign(session=session, campaign_id=campaign.id)
        if status == "closed":
            close_campaign(session=session, campaign_id=campaign.id)
        return campaign

    return run_write(engine, work)


def signer(**overrides: object) -> SignerInput:
    n = next(_seq)
    values: dict[str, object] = {
        "full_name": f"Ada Lovelace {n}",
        "email": f"ada{n}@example.org",
        "region_code": "US-CA",
        "contact_consent": False,
    }
    values.update(overrides)
    return SignerInput(**values)  # type: ignore[arg-type]


def past(days: int = 1) -> datetime:
    return utcnow() - timedelta(days=days)


def future(days: int = 30) -> datetime:
    return utcnow() + timedelta(days=days)


PASSWORD = "correct horse battery staple"


def make_user(engine: Engine, *, email: str, roles: list[str], password: str = PASSWORD) -> User:
    """A staff account with these roles, created as the command line would."""
    from campaigns.core.audit import CLI
    from campaigns.people import staff

    return run_write(
        engine, lambda s: staff.create_user(session=s, email=email, password=password, roles=roles, actor=CLI)
    )


LETTER = "Dear {{ target.title }} {{ target.name }},\n\nPlease act on {{ campaign.title }}.\n\n{{ signer.full_name }}"


def make_letter_campaign(
    engine: Engine,
    *,
    slug: str,
    title: str,
    template: str = LETTER,
    target: dict[str, str],
    require_confirmation: bool = False,
) -> Campaign:
    """A published campaign with a letter and one senator-style target (``region_code``, ``name``, ``email``)."""
    from campaigns.catalog.lifecycle import set_letter
    from campaigns.core.audit import CLI
    from campaigns.letters import targets

    campaign = make_campaign(engine, slug=slug, title=title, require_confirmation=require_confirmation)
    run_write(
        engine,
        lambda s: set_letter(
            session=s, campaign_id=campaign.id, subject="About {{ campaign.title }}", template=template, actor=CLI
        ),
    )
    run_write(
        engine, lambda s: targets.add_target(session=s, campaign_id=campaign.id, title="Senator", actor=CLI, **target)
    )
    return campaign


def sign_from(engine: Engine, slug: str, *, address: str | None = None, now: datetime | None = None, **overrides):  # type: ignore[no-untyped-def]
    """Sign ``slug`` as a new signer (``overrides`` as for ``signer``) from the client ``address``."""
    from campaigns.signatures.signing import sign

    who = signer(**overrides)
    return run_write(engine, lambda s: sign(session=s, campaign_slug=slug, signer=who, client_address=address, now=now))


def status_counts(engine: Engine, campaign_id: int) -> dict[str, int]:
    """How many of a campaign's signatures are in each status."""
    from sqlalchemy import func, select

    from campaigns.core.db import read_session
    from campaigns.core.models import Signature

    with read_session(engine) as session:
        rows = session.execute(
            select(Signature.status, func.count())
            .where(Signature.campaign_id == campaign_id)
            .group_by(Signature.status)
        ).all()
    return {status: int(n) for status, n in rows}
