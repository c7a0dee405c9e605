"""What the live dashboard shows, read from the aggregate rows (never by scanning signatures)."""

from __future__ import annotations

import pandas as pd
from sqlmodel import Session

from campaigns.custom_regions import resolve_scheme
from campaigns.stats import region_counts


def region_table(session: Session, campaign_id: int, scheme_id: str) -> pd.DataFrame:
    """Every region of the scheme with its count, population, signatures per 100,000 and shape id.

    Regions without signatures are included (the map shows them); counts under a code the scheme
    doesn't know (a scheme changed, or a region removed) are kept, named by their code, so the
    rows always add up to the total.
    """
    scheme = resolve_scheme(session, scheme_id)
    counts = dict(region_counts(session, campaign_id, scheme_id)[["code", "count"]].itertuples(index=False))
    rows = [(r.code, r.name, int(counts.pop(r.code, 0)), r.population, r.shape_id) for r in scheme.regions]
    rows += [(code, code, int(n), None, None) for code, n in counts.items()]
    frame = pd.DataFrame(rows, columns=["code", "name", "count", "population", "shape_id"])
    per = frame["count"] * 100_000 / frame["population"].where(frame["population"] > 0)
    frame["per_100k"] = per.round(2)
    frame["rank"] = frame["count"].rank(method="min", ascending=False).astype(int)
    return frame.sort_values(["count", "name"], ascending=[False, True], ignore_index=True)
