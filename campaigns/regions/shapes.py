"""Checking uploaded region shapes: GeoJSON FeatureCollections and TopoJSON Topologies.

Every feature must name a region code the scheme knows and carry polygon geometry made of
numbers (TopoJSON: arcs that exist); the first problems found are reported plainly. What a map
may cost is bounded (``upload_json.read_json`` and the ``uploads.MAX_*`` bounds): at most
``MAX_SHAPES`` shapes and ``MAX_POINTS`` points drawn, a TopoJSON arc counted each time a shape
uses it (as a browser draws it), so that no upload can freeze the browsers of a dashboard's viewers.
Shapes once stored are read by ``geometry``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from campaigns.core.errors import InvalidInput
from campaigns.core.upload_json import read_json
from campaigns.core.uploads import MAX_POINTS, MAX_SHAPES, shown
from campaigns.regions.geometry import geometries, polygons, shape_code

_SIMPLIFY = (
    f"A map may have at most {MAX_SHAPES:,} shapes and draw at most {MAX_POINTS:,} points: simplify the shapes "
    "(for example with mapshaper's -simplify) and export them again."
)


@dataclass(frozen=True)
class Shapes:
    kind: str  # "geojson" | "topojson"
    object_name: str | None  # the TopoJSON object whose geometries are the regions
    text: str  # the JSON as uploaded
    codes: frozenset[str]  # region codes that have a shape


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positions_problem(positions: Any) -> str | None:
    if not isinstance(positions, list) or not positions:
        return "has an empty or missing list of coordinates"
    for position in positions:
        if not isinstance(position, list) or len(position) < 2 or not all(_is_number(v) for v in position):
            return "has coordinates that are not pairs of numbers"
    return None  # numbers are finite and of a sane length: read_json checked them


def _polygons(kind: Any, value: Any) -> list[Any] | str:
    """The polygons of a Polygon/MultiPolygon (each a list of rings), or what is wrong."""
    found = polygons(kind, value)
    if found is not None:
        return found
    if kind not in ("Polygon", "MultiPolygon"):
        named = f'is a "{shown(str(kind), 30)}"' if kind else "has no geometry"
        return f"{named}: only Polygon and MultiPolygon shapes can be regions"
    return "has no rings"


def _geojson_problem(feature: Any) -> tuple[str | None, int]:
    """What is wrong with a feature's geometry, or None and how many points it has."""
    geometry = feature.get("geometry")
    geometry = geometry if isinstance(geometry, dict) else {}
    polygons = _polygons(geometry.get("type"), geometry.get("coordinates"))
    if isinstance(polygons, str):
        return polygons, 0
    points = 0
    for ring in itertools.chain(*polygons):
        problem = _positions_problem(ring)
        if problem:
            return problem, 0
        points += len(ring)
    return None, points


def _topojson_problem(geometry: Any, arc_points: list[int]) -> tuple[str | None, int]:
    """What is wrong with a geometry's arcs, or None and how many points drawing it takes (``arc_points``:
    the points of each arc of the file; an arc is drawn each time a ring refers to it)."""
    if geometry.get("type") in ("Polygon", "MultiPolygon") and "arcs" not in geometry:
        return "has no arcs", 0
    polygons = _polygons(geometry.get("type"), geometry.get("arcs"))
    if isinstance(polygons, str):
        return polygons, 0
    arc_count, points = len(arc_points), 0
    for ring in itertools.chain(*polygons):
        if not isinstance(ring, list) or not ring:
            return "has an empty ring", 0
        if not all(isinstance(i, int) and not isinstance(i, bool) and -arc_count <= i < arc_count for i in ring):
            return f"refers to arcs that don't exist (the file has {arc_count})", 0
        points += sum(arc_points[i if i >= 0 else ~i] for i in ring)  # -1 (~0) is arc 0 reversed
    return None, points


class _Findings:
    """What is wrong with a shapes file's features, summed up in one message."""

    def __init__(self, codes: frozenset[str]) -> None:
        self.codes = codes
        self.found: set[str] = set()
        self.unknown: list[str] = []
        self.without_code: list[int] = []
        self.broken: list[str] = []

    def add(self, number: int, item: Any, problem: str | None) -> None:
        code = shape_code(item)
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


def _check_count(shapes: int, what: str) -> None:
    if shapes > MAX_SHAPES:
        raise InvalidInput(
            {"shapes": f"The {what} has {shapes:,} shapes; at most {MAX_SHAPES:,} are allowed. {_SIMPLIFY}"}
        )


def _check_points(points: int, said: str) -> None:
    """Refuse more than ``MAX_POINTS`` points; ``said`` says what has them, with ``{points}`` for the count."""
    if points > MAX_POINTS:
        raise InvalidInput({"shapes": said.format(points=f"{points:,}") + " " + _SIMPLIFY})


def _check_geojson(doc: dict[str, Any], codes: frozenset[str]) -> frozenset[str]:
    features = doc.get("features")
    if not isinstance(features, list) or not features:
        raise InvalidInput({"shapes": "The GeoJSON FeatureCollection has no features."})
    _check_count(len(features), "GeoJSON FeatureCollection")
    findings = _Findings(codes)
    points = 0
    for number, feature in enumerate(features, 1):
        feature = feature if isinstance(feature, dict) else {}
        problem, feature_points = _geojson_problem(feature)
        findings.add(number, feature, problem)
        points += feature_points
    _check_points(points, "The GeoJSON's shapes have {points} points.")
    return findings.check()


def _pick_object(objects: dict[str, Any], codes: frozenset[str]) -> str:
    """The object with the most geometries whose codes are regions of the CSV (the first, on a tie)."""
    return max(objects, key=lambda name: sum(shape_code(g) in codes for g in geometries(objects[name])))


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
    arc_points = [len(arc) for arc in arcs]
    _check_points(sum(arc_points), "The TopoJSON's arcs have {points} points.")
    transform = doc.get("transform", {})
    for key in ("scale", "translate"):
        if not isinstance(transform, dict) or _positions_problem([transform.get(key, [0, 0])]):
            raise InvalidInput({"shapes": f'The TopoJSON\'s transform "{key}" must be two finite numbers.'})
    name = _pick_object(objects, codes)
    regions = geometries(objects[name])
    if not regions:
        raise InvalidInput({"shapes": f'The TopoJSON object "{shown(name, 40)}" has no geometries.'})
    _check_count(len(regions), f'TopoJSON object "{shown(name, 40)}"')
    findings = _Findings(codes)
    points = 0
    for number, geometry in enumerate(regions, 1):
        geometry = geometry if isinstance(geometry, dict) else {}
        problem, geometry_points = _topojson_problem(geometry, arc_points)
        findings.add(number, geometry, problem)
        points += geometry_points
    _check_points(points, "The TopoJSON's shapes draw {points} points (an arc counts each time a shape uses it).")
    return name, findings.check()


def check_shapes(data: bytes, codes: frozenset[str]) -> Shapes:
    """Check an uploaded GeoJSON FeatureCollection or TopoJSON Topology against the scheme's region codes."""
    text, doc = read_json(data, what="shapes file", field="shapes", hint=_SIMPLIFY)
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind == "FeatureCollection":
        return Shapes("geojson", None, text, _check_geojson(doc, codes))
    if kind == "Topology":
        name, found = _check_topojson(doc, codes)
        return Shapes("topojson", name, text, found)
    found_kind = f'a "{shown(kind, 30)}"' if isinstance(kind, str) and kind else "something else"
    message = f"The shapes file must be a GeoJSON FeatureCollection or a TopoJSON Topology; it is {found_kind}."
    raise InvalidInput({"shapes": message})
