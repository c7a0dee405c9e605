"""Region schemes uploaded by organizers: a CSV of codes and names, and optionally their shapes.

A custom scheme's id is ``custom-<slug of its name>``. Schemes are immutable once created, so a
loaded scheme is cached in this process, keyed by id and creation time: each resolve costs one
primary-key query, and a database that was reset (or another database with the same id) is never
served stale regions. Shipped schemes (``regions.get_scheme``) never touch the database.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.errors import InvalidInput, UnknownRegionScheme
from campaigns.core.models import CustomRegion, CustomRegionScheme, utcnow
from campaigns.core.uploads import (
    RowError,
    UploadRowsError,
    check_cells,
    clean_cell,
    read_csv,
    row_errors,
)
from campaigns.regions.schemes import Region, RegionScheme, SchemeInfo, get_scheme, list_schemes
from campaigns.regions.shapes import Shapes, check_shapes, drawn_codes, for_vega

CUSTOM_PREFIX = "custom-"
CODE_MAX = 32
NAME_MAX = 200
LABEL_MAX = 40
POPULATION_MAX = 2_147_483_647  # the column is a 32-bit integer on PostgreSQL
_ID_MAX = 64
_CODE_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_CACHE_MAX = 64


@dataclass(frozen=True)
class CreatedScheme:
    id: str  # "custom-<slug>", what a campaign's region_scheme is set to
    regions: int
    with_shape: int  # regions drawn on maps
    without_shape: int  # regions in the CSV that have no shape: listed in forms, not drawn


# --- the regions file ---------------------------------------------------------------------------


def _code(value: str) -> str:
    code = value.strip()
    if not code:
        raise InvalidInput({"code": "The code is missing."})
    if len(code) > CODE_MAX:
        raise InvalidInput({"code": f"The code has {len(code)} characters; at most {CODE_MAX} are allowed."})
    if not _CODE_RE.match(code):
        raise InvalidInput({"code": 'A code may only contain letters A-Z, digits, "-", "_" and ".".'})
    return code.upper()


def _population(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        raise InvalidInput({"population": "The population must be a whole number of 0 or more, digits only."})
    if int(value) > POPULATION_MAX:
        raise InvalidInput({"population": f"The population can be at most {POPULATION_MAX:,}."})
    return int(value)


def _check_regions(data: bytes) -> list[dict[str, Any]]:
    """The regions of a ``code,name[,population]`` CSV; UploadRowsError lists every wrong row."""
    errors: list[RowError] = []
    regions: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for row in read_csv(data, required=["code", "name"], optional=["population"], what="regions file"):
        problem = row.problem_error()
        if problem is not None:
            errors.append(problem)
            continue
        checks = {"code": _code, "name": lambda v: clean_cell(v, "name", NAME_MAX, required=True)}
        cleaned, field_errors = check_cells(row.values, {**checks, "population": _population})
        errors.extend(row_errors(row, field_errors))
        code = cleaned.get("code")
        if code is not None and seen.setdefault(code, row.line) != row.line:
            errors.append(RowError(row.line, "code", row.values["code"], f"Same code as line {seen[code]}."))
        elif not field_errors:
            regions.append(cleaned)
    if errors:
        raise UploadRowsError(errors, what="regions file")
    return regions


# --- creating ---------------------------------------------------------------------------------


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[: _ID_MAX - len(CUSTOM_PREFIX) - 4].rstrip("-") or "scheme"  # room for "-999"


def _insert_scheme(session: Session, name: str, values: dict[str, Any]) -> str:
    """Insert the scheme row under the first free id: custom-<slug>, custom-<slug>-2, ..."""
    base = CUSTOM_PREFIX + _slug(name)
    taken = set(
        session.execute(select(col(CustomRegionScheme.id)).where(col(CustomRegionScheme.id).startswith(base))).scalars()
    )
    n = 1
    while True:
        candidate = base if n == 1 else f"{base}-{n}"
        n += 1
        if candidate in taken:
            continue
        try:
            with session.begin_nested():  # a concurrent creator may take the same id first
                session.add(CustomRegionScheme(id=candidate, name=name, **values))
                session.flush()
            return candidate
        except IntegrityError:
            taken.add(candidate)


def create_custom_scheme(
    *,
    session: Session,
    name: str,
    regions_csv: bytes,
    shapes: bytes | None,
    actor: Actor,
    region_label: str = "Region",
) -> CreatedScheme:
    """Store a new region scheme from a ``code,name[,population]`` CSV and optional GeoJSON/TopoJSON shapes.

    Returns the new scheme's id and how many of its regions have a shape. Raises InvalidInput for
    the name, label, a whole file (``file``/``shapes``), or UploadRowsError listing each wrong row.
    """
    labels, errors = check_cells(
        {"name": name, "region_label": region_label},
        {
            "name": lambda v: clean_cell(v, "name", NAME_MAX, required=True),
            "region_label": lambda v: clean_cell(v, "region_label", LABEL_MAX, required=True),
        },
    )
    if errors:
        raise InvalidInput(errors)
    regions = _check_regions(regions_csv)
    codes = frozenset(r["code"] for r in regions)
    checked: Shapes | None = check_shapes(shapes, codes) if shapes else None
    values = {
        "region_label": labels["region_label"],
        "shape_kind": checked.kind if checked else None,
        "shape_object": checked.object_name if checked else None,
        "shapes": checked.text if checked else None,
        "created_by": actor.user_id,
        "created_at": utcnow(),
    }
    scheme_id = _insert_scheme(session, labels["name"], values)
    session.execute(insert(CustomRegion), [{**r, "scheme_id": scheme_id} for r in regions])
    with_shape = len(codes & checked.codes) if checked else 0
    audit.record(
        session,
        actor=actor,
        action="regions.create_scheme",
        scheme_id=scheme_id,
        name=labels["name"],
        regions=len(regions),
        shape_kind=values["shape_kind"],
    )
    return CreatedScheme(
        id=scheme_id, regions=len(regions), with_shape=with_shape, without_shape=len(codes) - with_shape
    )


# --- reading ----------------------------------------------------------------------------------

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


def list_custom_schemes(session: Session) -> list[SchemeInfo]:
    """Every uploaded scheme, by name."""
    heads = session.execute(_HEAD.order_by(CustomRegionScheme.name, CustomRegionScheme.id)).all()
    return [_info(head) for head in heads]


def _build(session: Session, head: Any) -> RegionScheme:
    rows = session.execute(
        select(col(CustomRegion.code), col(CustomRegion.name), col(CustomRegion.population)).where(
            col(CustomRegion.scheme_id) == head.id
        )
    ).all()
    drawn = drawn_codes(head.shape_kind, head.shape_object, custom_shapes(session, head.id))
    regions = [
        Region(code, name, population, shape_id=code if code in drawn else None) for code, name, population in rows
    ]
    return RegionScheme(_info(head), regions)


def load_custom_scheme(session: Session, scheme_id: str) -> RegionScheme:
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


def custom_shapes(session: Session, scheme_id: str) -> str | None:
    """The uploaded GeoJSON/TopoJSON text of a custom scheme (None without shapes, or for a shipped scheme)."""
    key = _key(scheme_id)
    if not key.startswith(CUSTOM_PREFIX):
        return None
    row = session.execute(select(col(CustomRegionScheme.shapes)).where(col(CustomRegionScheme.id) == key)).first()
    if row is None:
        raise UnknownRegionScheme(str(scheme_id))
    return row[0]


def custom_map_shapes(session: Session, scheme_id: str) -> bytes | None:
    """An uploaded scheme's shapes as the dashboard's map reads them (see ``shapes.for_vega``); None without."""
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


def resolve_scheme(session: Session, scheme_id: str) -> RegionScheme:
    """Any scheme by id: ``custom-*`` from the database, the shipped ones without touching it."""
    if _key(scheme_id).startswith(CUSTOM_PREFIX):
        return load_custom_scheme(session, scheme_id)
    return get_scheme(scheme_id)


def all_schemes(session: Session) -> list[SchemeInfo]:
    """Uploaded schemes first (by name), then the shipped ones."""
    return [*list_custom_schemes(session), *list_schemes()]
