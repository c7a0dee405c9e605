"""Checking uploaded region shapes: GeoJSON FeatureCollections and TopoJSON Topologies.

Every feature must name a region code the scheme knows and carry polygon geometry made of
finite numbers (TopoJSON: arcs that exist); the first problems found are reported plainly.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

from campaigns.errors import InvalidInput
from campaigns.uploads import check_size, shown


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


def drawn_codes(kind: str | None, object_name: str | None, text: str | None) -> frozenset[str]:
    """Region codes that have a shape in a stored (already checked) shapes file."""
    if not kind or not text:
        return frozenset()
    doc = json.loads(text)
    items = doc["features"] if kind == "geojson" else _geometries(doc["objects"].get(object_name))
    return frozenset(code for item in items if isinstance(item, dict) and (code := _shape_code(item)))


def _ring_area(ring: list[Any]) -> float:
    """Twice the signed planar area of a ring of [lon, lat] positions (positive: counter-clockwise)."""
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring))


def _rewound(polygon: list[Any]) -> list[Any]:
    """d3-geo (and so Vega) wants the opposite of RFC 7946: outer rings clockwise, holes counter-clockwise.

    An outer ring in RFC 7946 order would be read as the whole globe minus the region, which
    fills the entire chart; so every ring is turned the way d3 expects.
    """
    rings = []
    for index, ring in enumerate(polygon):
        clockwise = _ring_area(ring) < 0
        want_clockwise = index == 0
        rings.append(ring if clockwise == want_clockwise else list(reversed(ring)))
    return rings


def for_vega(kind: str, object_name: str | None, text: str) -> dict[str, Any]:
    """A stored (already checked) shapes file as the dashboard's map reads it.

    GeoJSON: a FeatureCollection whose features carry the region code as ``id`` and rings wound
    for d3-geo. TopoJSON: the topology with each region geometry's ``id`` set to its code (arcs as
    uploaded: TopoJSON tools write them the way d3 expects).
    """
    doc = json.loads(text)
    if kind == "geojson":
        features = []
        for feature in doc["features"]:
            code = _shape_code(feature) if isinstance(feature, dict) else None
            geometry = feature.get("geometry") if code else None
            if not isinstance(geometry, dict):
                continue
            kind_ = geometry.get("type")
            polygons = _polygons(kind_, geometry.get("coordinates"))
            if isinstance(polygons, str):
                continue
            rewound = [_rewound(p) for p in polygons]
            coordinates = rewound[0] if kind_ == "Polygon" else rewound
            features.append({"type": "Feature", "id": code, "geometry": {"type": kind_, "coordinates": coordinates}})
        return {"type": "FeatureCollection", "features": features}
    for geometry in _geometries(doc["objects"].get(object_name)):
        if isinstance(geometry, dict) and (code := _shape_code(geometry)):
            geometry["id"] = code
    return doc
