"""Finding a region scheme by id, as campaigns name theirs: the stock ones (``schemes``) without the database,
those organizers uploaded (``custom-*``) from it, and their shapes for the map.

Uploaded schemes are immutable once created, so a loaded one is cached in this process, keyed by id and
creation time: each resolve costs one primary-key query, and a database that was reset (or another database
with the same id) is never served stale regions. Nothing here reads uploaded files (that is ``custom``), so
signing, counting and exporting do not depend on upload parsing.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from campaigns.core.errors import UnknownRegionScheme
from campaigns.core.models import CustomRegion, CustomRegionScheme
from campaigns.regions.geometry import drawn_codes, for_vega
from campaigns.regions.schemes import Region, RegionScheme, SchemeInfo, get_scheme, list_schemes

CUSTOM_PREFIX = "custom-"
_CACHE_MAX = 64


_HEAD = select(
    col(CustomRegionScheme.id),
    col(CustomRegionScheme.name),
    col(CustomRegionScheme.region_label),
    col(CustomRegionScheme.shape_kind),
    col(CustomRegionScheme.shape_object),
    col(CustomRegionScheme.created_at),
)
_cache: OrderedDict[tuple[str, datetime], RegionScheme] = OrderedDict()
_cache_lock = threading.Lock()


def _info(head: Any) -> SchemeInfo:
    return SchemeInfo(
        id=head.id,
        name=head.name,
        region_label=head.region_label,
        shape_kind=head.shape_kind,
        shape_object=head.shape_object,
    )


def _key(scheme_id: str) -> str:
    return str(scheme_id or "").strip().lower()


def list_custom_schemes(*, session: Session) -> list[SchemeInfo]:
    """Every uploaded scheme, by name."""
    heads = session.execute(_HEAD.order_by(CustomRegionScheme.name, CustomRegionScheme.id)).all()
    return [_info(head) for head in heads]


def _build(session: Session, head: Any) -> RegionScheme:
    rows = session.execute(
        select(col(CustomRegion.code), col(CustomRegion.name), col(CustomRegion.population)).where(
            col(CustomRegion.scheme_id) == head.id
        )
    ).all()
    drawn = drawn_codes(head.shape_kind, head.shape_object, get_custom_shapes(session=session, scheme_id=head.id))
    regions = [
        Region(code, name, population, shape_id=code if code in drawn else None) for code, name, population in rows
    ]
    return RegionScheme(_info(head), regions)


def load_custom_scheme(*, session: Session, scheme_id: str) -> RegionScheme:
    """An uploaded scheme with its regions (``Region.shape_id`` is the code for regions that have a shape)."""
    head = session.execute(_HEAD.where(col(CustomRegionScheme.id) == _key(scheme_id))).first()
    if head is None:
        raise UnknownRegionScheme(str(scheme_id))
    cache_key = (head.id, head.created_at)
    with _cache_lock:
        scheme = _cache.get(cache_key)
        if scheme is not None:
            _cache.move_to_end(cache_key)
            return scheme
    scheme = _build(session, head)
    with _cache_lock:
        _cache[cache_key] = scheme
        while len(_cache) > _CACHE_MAX:
            _cache.popitem(last=False)
    return scheme


def get_custom_shapes(*, session: Session, scheme_id: str) -> str | None:
    """The uploaded GeoJSON/TopoJSON text of a custom scheme (None without shapes, or for a shipped scheme)."""
    key = _key(scheme_id)
    if not key.startswith(CUSTOM_PREFIX):
        return None
    row = session.execute(select(col(CustomRegionScheme.shapes)).where(col(CustomRegionScheme.id) == key)).first()
    if row is None:
        raise UnknownRegionScheme(str(scheme_id))
    return row[0]


def get_custom_map_shapes(*, session: Session, scheme_id: str) -> bytes | None:
    """An uploaded scheme's shapes as the dashboard's map reads them (see ``geometry.for_vega``); None without."""
    key = _key(scheme_id)
    if not key.startswith(CUSTOM_PREFIX):
        return None
    head = session.execute(
        select(
            col(CustomRegionScheme.shape_kind), col(CustomRegionScheme.shape_object), col(CustomRegionScheme.shapes)
        ).where(col(CustomRegionScheme.id) == key)
    ).first()
    if head is None or not head.shape_kind or not head.shapes:
        return None
    return json.dumps(for_vega(head.shape_kind, head.shape_object, head.shapes), separators=(",", ":")).encode()


def resolve_scheme(*, session: Session, scheme_id: str) -> RegionScheme:
    """Any scheme by id: ``custom-*`` from the database, the shipped ones without touching it."""
    if _key(scheme_id).startswith(CUSTOM_PREFIX):
        return load_custom_scheme(session=session, scheme_id=scheme_id)
    return get_scheme(scheme_id)


def list_all_schemes(*, session: Session) -> list[SchemeInfo]:
    """Uploaded schemes first (by name), then the shipped ones."""
    return [*list_custom_schemes(session=session), *list_schemes()]
