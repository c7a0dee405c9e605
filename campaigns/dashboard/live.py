"""What the live dashboard shows, read from the aggregate rows (never by scanning signatures).

One campaign (``read_dashboard``) or every campaign a staff member may see (``read_all_campaigns``):
totals and progress, signatures by region (with population and signatures per 100,000), signatures
per hour, the last 24 hours, milestones with the hour each was reached, and letters per target
(sent by Rally, and apart from them downloads and mail-app opens).
Every number comes from one database snapshot, so the total, the regions and the hours always agree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, func, select
from sqlmodel import Session, col

from campaigns.catalog import listing
from campaigns.core.models import Campaign, CampaignStatus, Outreach, Target, utcnow
from campaigns.dashboard.overview import MILESTONES, milestone_signatures
from campaigns.letters import deliveries
from campaigns.regions.lookup import resolve_scheme
from campaigns.regions.schemes import RegionScheme, SchemeInfo
from campaigns.signatures import counts as signature_counts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Milestone:
    percent: int
    signatures: int
    reached_at: datetime | None  # the UTC hour the count crossed it; None if not reached


@dataclass(frozen=True)
class DashboardData:
    """Plain values and frames: safe to cache and share between viewers (nothing about any signer)."""

    title: str
    slug: str | None  # None for the all-campaigns view
    scheme: SchemeInfo  # the region scheme the map and the regions are on (the page need not resolve it again)
    goal: int
    status: str
    total: int
    last_24h: int
    regions: pd.DataFrame  # code, name, count, population, shape_id, per_100k, rank: every region, largest first
    hourly: pd.DataFrame  # hour (UTC), count: hours with signatures only
    milestones: list[Milestone]
    letters: pd.DataFrame  # LETTER_COLUMNS: target, title, region, sent (by Rally), downloaded, opened
    campaigns: pd.DataFrame  # slug, title, status, total, goal (the all-campaigns view; one row otherwise)
    read_at: datetime


@dataclass(frozen=True)
class _SchemeTable:
    """What never changes for a scheme: its regions in a frame, and arrays to place counts against them."""

    frame: pd.DataFrame  # code, name, population, shape_id in the scheme's order
    position: dict[str, int]  # region code -> row
    population: np.ndarray  # float, NaN where unknown or zero
    by_name: np.ndarray  # each row's place in name order (ties keep the scheme's order)


@lru_cache(maxsize=64)
def _scheme_table(scheme: RegionScheme) -> _SchemeTable:
    """Per scheme object: schemes are immutable and cached by their loaders, so the same object comes back."""
    rows = [(r.code, r.name, r.population, r.shape_id) for r in scheme.regions]
    frame = pd.DataFrame(rows, columns=["code", "name", "population", "shape_id"])
    population = frame["population"].to_numpy(dtype="float64", na_value=np.nan, copy=True)
    population[~(population > 0)] = np.nan
    by_name = np.empty(len(rows), dtype=np.int64)
    by_name[np.argsort(frame["name"].to_numpy(dtype=object), kind="stable")] = np.arange(len(rows))
    return _SchemeTable(frame, {code: i for i, (code, *_) in enumerate(rows)}, population, by_name)


def _region_table(maps: list[dict[str, int]], scheme: RegionScheme) -> pd.DataFrame:
    """Every region of the scheme with its count, population, signatures per 100,000 and shape id, from
    counts already read (one map of region code -> count per campaign, summed).

    Regions without signatures are included (the map shows them); counts under a code the scheme
    doesn't know (a scheme changed, or a region removed) are kept, named by their code, so the
    rows always add up to the total.
    """
    table = _scheme_table(scheme)
    counts = np.zeros(len(table.position), dtype=np.int64)
    unknown: dict[str, int] = {}
    for counted in maps:
        for code, n in counted.items():
            row = table.position.get(code)
            if row is None:
                unknown[code] = unknown.get(code, 0) + n
            else:
                counts[row] += n
    if unknown:
        return _region_table_with_unknown_codes(table, counts, unknown)
    # The page refreshes this table every few seconds for every campaign watched: computed on arrays
    # against the scheme's cached frame (sorting and ranking in pandas cost several times more).
    per_100k = np.round(counts * 100_000 / table.population, 2)
    ascending = np.sort(counts)
    rank = len(counts) - np.searchsorted(ascending, counts, side="right") + 1  # "min" rank, largest first
    order = np.lexsort((table.by_name, -counts))  # count descending, then name
    base = table.frame
    return pd.DataFrame(
        {
            "code": base["code"].array.take(order),
            "name": base["name"].array.take(order),
            "count": counts[order],
            "population": base["population"].array.take(order),
            "shape_id": base["shape_id"].array.take(order),
            "per_100k": per_100k[order],
            "rank": rank[order],
        }
    )


def region_table(*, counts: dict[str, int], scheme: RegionScheme) -> pd.DataFrame:
    """The dashboard's region frame for any per-region counts (a question's answers, say), so its map and bars
    draw them: every region of ``scheme`` with its count, population, per 100,000, shape id and rank."""
    return _region_table([counts], scheme)


def _region_table_with_unknown_codes(scheme: _SchemeTable, counts: np.ndarray, unknown: dict[str, int]) -> pd.DataFrame:
    """The rare case (a code the scheme no longer has): built row by row, the codes named by themselves."""
    known = scheme.frame[["code", "name", "population", "shape_id"]].astype(object).where(scheme.frame.notna(), None)
    rows = [
        (code, name, int(n), pop, shape)
        for (code, name, pop, shape), n in zip(known.itertuples(index=False), counts, strict=True)
    ]
    rows += [(code, code, int(n), None, None) for code, n in unknown.items()]
    frame = pd.DataFrame(rows, columns=["code", "name", "count", "population", "shape_id"])
    per = frame["count"] * 100_000 / frame["population"].where(frame["population"] > 0)
    frame["per_100k"] = per.astype("float64").round(2)  # float even when no population is known
    frame["rank"] = frame["count"].rank(method="min", ascending=False).astype(int)
    return frame.sort_values(["count", "name"], ascending=[False, True], ignore_index=True)


def milestones(hourly: pd.DataFrame, goal: int) -> list[Milestone]:
    """Each milestone (percent of the goal) with the hour the running count first reached it."""
    if goal <= 0:
        return []
    running = hourly["count"].to_numpy().cumsum()
    hours = hourly["hour"]
    result = []
    for percent in MILESTONES:
        needed = milestone_signatures(percent, goal)
        crossed = (running >= needed).nonzero()[0]
        when: datetime | None = hours.iat[crossed[0]].to_pydatetime() if len(crossed) else None  # type: ignore[union-attr, assignment]  # hours are Timestamps
        result.append(Milestone(percent, needed, when))
    return result


_PER_TARGET = (
    select(
        col(Outreach.target_id),
        deliveries.letters_where(deliveries.is_sent()).label("sent"),
        deliveries.letters_where(deliveries.is_downloaded()).label("downloaded"),
        deliveries.letters_where(deliveries.is_opened()).label("opened"),
    )
    .join(Target, col(Target.id) == Outreach.target_id)
    .where(col(Target.campaign_id).in_(bindparam("ids", expanding=True)))
    .group_by(col(Outreach.target_id))
    .subquery()
)
_LETTERS = (
    select(
        col(Target.name),
        col(Target.title),
        col(Target.region_code),
        func.coalesce(_PER_TARGET.c.sent, 0),
        func.coalesce(_PER_TARGET.c.downloaded, 0),
        func.coalesce(_PER_TARGET.c.opened, 0),
    )
    .outerjoin(_PER_TARGET, _PER_TARGET.c.target_id == Target.id)
    .where(col(Target.campaign_id).in_(bindparam("ids", expanding=True)))
    .order_by(func.coalesce(_PER_TARGET.c.sent, 0).desc(), Target.name)
)
LETTER_COLUMNS = ["target", "title", "region", "sent", "downloaded", "opened"]


def _letters_per_target(session: Session, campaign_ids: list[int]) -> pd.DataFrame:
    """Per target of these campaigns, most sent first: letters sent by Rally (email), and apart from them the
    letters signers downloaded (PDF or text) or opened in their own mail app, which Rally cannot know were sent.
    Each column counts letters, not deliveries (a letter downloaded as PDF and as text is one)."""
    rows = session.execute(_LETTERS, {"ids": campaign_ids}).all() if campaign_ids else []
    if not rows:
        return pd.DataFrame(columns=LETTER_COLUMNS)
    frame = pd.DataFrame(rows, columns=LETTER_COLUMNS)
    frame["region"] = frame["region"].fillna("Everyone")
    return frame


def read_dashboard(*, session: Session, slug: str, staff: bool = False, now: datetime | None = None) -> DashboardData:
    """One campaign's dashboard. The public sees published and closed campaigns; staff any but archived."""
    now = now or utcnow()
    campaign = listing.get_campaign_by_slug(session=session, slug=slug)
    if campaign is None or campaign.id is None or campaign.status == CampaignStatus.archived:
        raise listing.campaign_not_found(slug)
    if not staff and not listing.is_public(campaign):
        raise listing.campaign_not_found(slug)
    return _read(session, [campaign], campaign.title, campaign.slug, campaign.region_scheme, campaign.goal, now)


def list_schemes_in_use(*, session: Session) -> list[str]:
    """Region schemes of the campaigns in the all-campaigns view, most used first."""
    campaigns = _visible_campaigns(session)
    used: dict[str, int] = {}
    for c in campaigns:
        used[c.region_scheme] = used.get(c.region_scheme, 0) + 1
    return sorted(used, key=lambda s: (-used[s], s))


def read_all_campaigns(*, session: Session, scheme_id: str, now: datetime | None = None) -> DashboardData:
    """Staff: every campaign that is not a draft or archived, summed; the map covers those on ``scheme_id``."""
    now = now or utcnow()
    campaigns = _visible_campaigns(session)
    goal = sum(c.goal for c in campaigns)
    data = _read(session, campaigns, "All campaigns", None, scheme_id, goal, now)
    return data


def _visible_campaigns(session: Session) -> list[Campaign]:
    stmt = select(Campaign).where(listing.public_campaigns()).order_by(col(Campaign.id))
    return list(session.execute(stmt).scalars())


def _read(
    session: Session,
    campaigns: list[Campaign],
    title: str,
    slug: str | None,
    scheme_id: str,
    goal: int,
    now: datetime,
) -> DashboardData:
    ids = [c.id for c in campaigns if c.id is not None]
    # one statement: the totals and the map agree
    maps = signature_counts.count_by_region_of_campaigns(session=session, campaign_ids=ids)
    totals = {cid: sum(counted.values()) for cid, counted in maps.items()}
    on_scheme = [maps[c.id] for c in campaigns if c.id is not None and c.region_scheme == scheme_id]
    scheme = resolve_scheme(
        session=session, scheme_id=scheme_id
    )  # once per read: the regions and the page's map both use it
    regions = _region_table(on_scheme, scheme)
    hourly = _hourly(session, ids)
    status = listing.effective_status(campaigns[0], now) if slug and campaigns else CampaignStatus.published.value
    table = pd.DataFrame(
        [(c.slug, c.title, listing.effective_status(c, now), totals.get(c.id or 0, 0), c.goal) for c in campaigns],
        columns=["slug", "title", "status", "total", "goal"],
    )
    total = sum(totals.values())
    return DashboardData(
        title=title,
        slug=slug,
        scheme=scheme.info,
        goal=goal,
        status=status,
        total=total,
        last_24h=sum(signature_counts.count_last_24_hours(session=session, campaign_ids=ids, now=now).values()),
        regions=regions,
        hourly=hourly,
        milestones=milestones(hourly, goal),
        letters=_letters_per_target(session, ids),
        campaigns=table,
        read_at=now,
    )


def _hourly(session: Session, ids: list[int]) -> pd.DataFrame:
    frames = [signature_counts.count_by_hour(session=session, campaign_id=cid) for cid in ids]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({"hour": pd.Series(dtype="datetime64[us, UTC]"), "count": pd.Series(dtype="int64")})
    if len(frames) == 1:
        return frames[0]  # one campaign: already one row per hour, in order
    merged = pd.concat(frames).groupby("hour", as_index=False)["count"].sum()
    return merged.sort_values("hour", ignore_index=True)  # type: ignore[call-overload]  # as_index=False: a DataFrame, not a Series


def series(hourly: pd.DataFrame, *, daily: bool, until: datetime | None = None) -> pd.DataFrame:
    """Signatures per hour or per day with the running total, gaps filled with zeros: columns
    ``time``, ``count``, ``cumulative``."""
    if hourly.empty:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"), "count": [], "cumulative": []})
    freq = "D" if daily else "h"
    counts = hourly.set_index("hour")["count"].resample(freq).sum()
    if until is not None:
        end = pd.Timestamp(until).floor(freq)
        if end > counts.index[-1]:
            counts = counts.reindex(pd.date_range(counts.index[0], end, freq=freq), fill_value=0)
    frame = counts.rename_axis("time").reset_index()
    frame["cumulative"] = frame["count"].cumsum()
    return frame


def list_campaign_choices(*, session: Session) -> list[tuple[str, str]]:
    """Staff: (slug, title) of every campaign that is not archived, open ones first."""
    order = {CampaignStatus.published.value: 0, CampaignStatus.closed.value: 1, CampaignStatus.draft.value: 2}
    campaigns = session.execute(
        select(col(Campaign.slug), col(Campaign.title), col(Campaign.status)).where(
            col(Campaign.status) != CampaignStatus.archived.value
        )
    ).all()
    ranked = sorted(campaigns, key=lambda c: (order.get(c.status, 3), c.title.casefold()))
    return [(c.slug, c.title if c.status != CampaignStatus.draft.value else f"{c.title} (draft)") for c in ranked]


def read_region_trend(*, session: Session, slug: str, region_code: str, now: datetime | None = None) -> pd.DataFrame:
    """One region's signatures per UTC day, quiet days filled with zeros up to today: ``day``, ``count``."""
    campaign = listing.get_campaign_by_slug(session=session, slug=slug)
    if campaign is None or campaign.id is None:
        raise listing.campaign_not_found(slug)
    days = signature_counts.count_region_by_day(session=session, campaign_id=campaign.id, region_code=region_code)
    if days.empty:
        return days
    until = pd.Timestamp(signature_counts.day_of(now or utcnow()))
    index = pd.date_range(days["day"].iloc[0], max(until, days["day"].iloc[-1]), freq="D")
    filled = days.set_index("day")["count"].reindex(index, fill_value=0)
    return filled.rename_axis("day").reset_index()
