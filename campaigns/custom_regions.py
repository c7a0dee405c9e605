"""Region schemes uploaded by organizers: a CSV of codes and names, and optionally their shapes.

A custom scheme's id is ``custom-<slug of its name>``. Schemes are immutable once created, so a
loaded scheme is cached in this process, keyed by id and creation time: each resolve costs one
primary-key query, and a database that was reset (or another database with the same id) is never
served stale regions. Shipped schemes (``regions.get_scheme``) never touch the database.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from campaigns import audit
from campaigns.audit import Actor
from campaigns.errors import InvalidInput, UnknownRegionScheme
from campaigns.models import CustomRegion, CustomRegionScheme, utcnow
from campaigns.regions import Region, RegionScheme, SchemeInfo, get_scheme, list_schemes
from campaigns.uploads import (
    RowError,
    UploadRowsError,
    check_cells,
    check_size,
    clean_cell,
    read_csv,
    row_errors,
    shown,
)

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


# --- shapes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shapes:
    kind: str  # "geojson" | "topojson"
    object_name: str | None  # the TopoJSON object whose geometries are the regions
    text: str  # the JSON as uploaded
    codes: frozenset[str]  # region codes that have a shape


def _shape_code(item: Any) -> str | None:
    """A feature's region code: ``properties.code``, else its ``id``; upper-case, as codes are stored."""
    properties = item.get("properties")
    raw = properties.get("code") if isinstance(properties, dict) else None
    raw = item.get("id") if raw is None or raw == "" else raw
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    return str(raw).strip().upper() or None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positions_problem(positions: Any) -> str | None:
    if not isinstance(positions, list) or not positions:
        return "has an empty or missing list of coordinates"
    for position in positions:
        if not isinstance(position, list) or len(position) < 2 or not all(_is_number(v) for v in position):
            return "has coordinates that are not pairs of numbers"
        if not all(math.isfinite(v) for v in position):
            return "has coordinates that are not finite numbers (NaN or Infinity)"
    return None


def _polygons(kind: Any, value: Any) -> list[Any] | str:
    """The polygons of a Polygon/MultiPolygon (each a list of rings), or what is wrong."""
    if kind not in ("Polygon", "MultiPolygon"):
        named = f'is a "{shown(str(kind), 30)}"' if kind else "has no geometry"
        return f"{named}: only Polygon and MultiPolygon shapes can be regions"
    polygons = [value] if kind == "Polygon" else value
    if not isinstance(polygons, list) or not polygons or not all(isinstance(p, list) and p for p in polygons):
        return "has no rings"
    return polygons


def _geojson_problem(feature: Any) -> str | None:
    geometry = feature.get("geometry")
    geometry = geometry if isinstance(geometry, dict) else {}
    polygons = _polygons(geometry.get("type"), geometry.get("coordinates"))
    if isinstance(polygons, str):
        return polygons
    return next((p for ring in itertools.chain(*polygons) if (p := _positions_problem(ring))), None)


def _topojson_problem(geometry: Any, arc_count: int) -> str | None:
    if geometry.get("type") in ("Polygon", "MultiPolygon") and "arcs" not in geometry:
        return "has no arcs"
    polygons = _polygons(geometry.get("type"), geometry.get("arcs"))
    if isinstance(polygons, str):
        return polygons
    for ring in itertools.chain(*polygons):
        if not isinstance(ring, list) or not ring:
            return "has an empty ring"
        if not all(isinstance(i, int) and not isinstance(i, bool) and -arc_count <= i < arc_count for i in ring):
            return f"refers to arcs that don't exist (the file has {arc_count})"
    return None


class _Findings:
    """What is wrong with a shapes file's features, summed up in one message."""

    def __init__(self, codes: frozenset[str]) -> None:
        self.codes = codes
        self.found: set[str] = set()
        self.unknown: list[str] = []
        self.without_code: list[int] = []
        self.broken: list[str] = []

    def add(self, number: int, item: Any, problem: str | None) -> None:
        code = _shape_code(item)
        if code is None:
            self.without_code.append(number)
        elif code not in self.codes:
            self.unknown.append(code)
        else:
            self.found.add(code)
        if problem:
            self.broken.append(f"shape {number}" + (f' ("{shown(code, 32)}")' if code else "") + f" {problem}")

    def check(self) -> frozenset[str]:
        parts = []
        if self.unknown:
            unknown = sorted(set(self.unknown))
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            listed = ", ".join(shown(c, 32) for c in unknown[:10])
            parts.append(f"Shapes have codes that are not in the regions file: {listed}{more}.")
        if self.without_code:
            listed = ", ".join(str(n) for n in self.without_code[:10])
            parts.append(f"Shapes without a region code (properties.code or id): number {listed}.")
        if self.broken:
            parts.append("Some shapes can't be drawn: " + "; ".join(self.broken[:5]) + ".")
        if parts:
            raise InvalidInput({"shapes": "The shapes file was not saved. " + " ".join(parts)})
        return frozenset(self.found)


def _check_geojson(doc: dict[str, Any], codes: frozenset[str]) -> frozenset[str]:
    features = doc.get("features")
    if not isinstance(features, list) or not features:
        raise InvalidInput({"shapes": "The GeoJSON FeatureCollection has no features."})
    findings = _Findings(codes)
    for number, feature in enumerate(features, 1):
        feature = feature if isinstance(feature, dict) else {}
        findings.add(number, feature, _geojson_problem(feature))
    return findings.check()


def _geometries(topology_object: Any) -> list[Any]:
    if not isinstance(topology_object, dict):
        return []
    if topology_object.get("type") == "GeometryCollection":
        items = topology_object.get("geometries")
        return [g if isinstance(g, dict) else {} for g in items] if isinstance(items, list) else []
    return [topology_object]


def _pick_object(objects: dict[str, Any], codes: frozenset[str]) -> str:
    """The object with the most geometries whose codes are regions of the CSV (the first, on a tie)."""
    return max(objects, key=lambda name: sum(_shape_code(g) in codes for g in _geometries(objects[name])))


def _check_topojson(doc: dict[str, Any], codes: frozenset[str]) -> tuple[str, frozenset[str]]:
    objects, arcs = doc.get("objects"), doc.get("arcs")
    if not isinstance(objects, dict) or not objects:
        raise InvalidInput({"shapes": "The TopoJSON Topology has no objects."})
    if not isinstance(arcs, list):
        raise InvalidInput({"shapes": 'The TopoJSON Topology has no "arcs" list.'})
    for number, arc in enumerate(arcs):
        problem = _positions_problem(arc)
        if problem:
            raise InvalidInput({"shapes": f"The TopoJSON's arc {number} {problem}."})
    transform = doc.get("transform", {})
    for key in ("scale", "translate"):
        if not isinstance(transform, dict) or _positions_problem([transform.get(key, [0, 0])]):
            raise InvalidInput({"shapes": f'The TopoJSON\'s transform "{key}" must be two finite numbers.'})
    name = _pick_object(objects, codes)
    geometries = _geometries(objects[name])
    if not geometries:
        raise InvalidInput({"shapes": f'The TopoJSON object "{shown(name, 40)}" has no geometries.'})
    findings = _Findings(codes)
    for number, geometry in enumerate(geometries, 1):
        findings.add(number, geometry, _topojson_problem(geometry, len(arcs)))
    return name, findings.check()


def _parse_json(data: bytes) -> tuple[str, Any]:
    check_size(data, what="shapes file", field="shapes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput({"shapes": "The shapes file is not UTF-8 text: export it again as GeoJSON."}) from None
    try:
        return text, json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"The shapes file is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        raise InvalidInput({"shapes": message}) from None
    except RecursionError:
        raise InvalidInput({"shapes": "The shapes file is nested too deeply to be GeoJSON or TopoJSON."}) from None


def check_shapes(data: bytes, codes: frozenset[str]) -> Shapes:
    """Check an uploaded GeoJSON FeatureCollection or TopoJSON Topology against the scheme's region codes."""
    text, doc = _parse_json(data)
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind == "FeatureCollection":
        return Shapes("geojson", None, text, _check_geojson(doc, codes))
    if kind == "Topology":
        name, found = _check_topojson(doc, codes)
        return Shapes("topojson", name, text, found)
    found_kind = f'a "{shown(kind, 30)}"' if isinstance(kind, str) and kind else "something else"
    message = f"The shapes file must be a GeoJSON FeatureCollection or a TopoJSON Topology; it is {found_kind}."
    raise InvalidInput({"shapes": message})


def _drawn_codes(kind: str | None, object_name: str | None, text: str | None) -> frozenset[str]:
    """Region codes that have a shape in a stored (already checked) shapes file."""
    if not kind or not text:
        return frozenset()
    doc = json.loads(text)
    items = doc["features"] if kind == "geojson" else _geometries(doc["objects"].get(object_name))
    return frozenset(code for item in items if isinstance(item, dict) and (code := _shape_code(item)))


# --- creating ---------------------------------------------------------------------------------


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[: _ID_MAX - len(CUSTOM_PREFIX) - 4].rstrip("-") or "scheme"  # room for "-999"


def _insert_scheme(session: Session, name: str, values: dict[str, Any]) -> str:
    """Insert the scheme row under the first free id: custom-<slug>, custom-<slug>-2, ..."""
    base = CUSTOM_PREFIX + _slug(name)
    taken = set(session.execute(select(CustomRegionScheme.id).where(CustomRegionScheme.id.startswith(base))).scalars())  # type: ignore[attr-defined]
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
    CustomRegionScheme.id,
    CustomRegionScheme.name,
    CustomRegionScheme.region_label,
    CustomRegionScheme.shape_kind,
    CustomRegionScheme.shape_object,
    CustomRegionScheme.created_at,
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
        select(CustomRegion.code, CustomRegion.name, CustomRegion.population).where(CustomRegion.scheme_id == head.id)
    ).all()
    drawn = _drawn_codes(head.shape_kind, head.shape_object, custom_shapes(session, head.id))
    regions = [
        Region(code, name, population, shape_id=code if code in drawn else None) for code, name, population in rows
    ]
    return RegionScheme(_info(head), regions)


def load_custom_scheme(session: Session, scheme_id: str) -> RegionScheme:
    """An uploaded scheme with its regions (``Region.shape_id`` is the code for regions that have a shape)."""
    head = session.execute(_HEAD.where(CustomRegionScheme.id == _key(scheme_id))).first()
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
    row = session.execute(select(CustomRegionScheme.shapes).where(CustomRegionScheme.id == key)).first()
    if row is None:
        raise UnknownRegionScheme(str(scheme_id))
    return row[0]


def resolve_scheme(session: Session, scheme_id: str) -> RegionScheme:
    """Any scheme by id: ``custom-*`` from the database, the shipped ones without touching it."""
    if _key(scheme_id).startswith(CUSTOM_PREFIX):
        return load_custom_scheme(session, scheme_id)
    return get_scheme(scheme_id)


def all_schemes(session: Session) -> list[SchemeInfo]:
    """Uploaded schemes first (by name), then the shipped ones."""
    return [*list_custom_schemes(session), *list_schemes()]
