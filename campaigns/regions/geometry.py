"""Region shapes as stored: the code each shape names, its polygons, which regions are drawn, and the shapes
as the dashboard's map (Vega, d3-geo) reads them.

Pure: no database, no upload parsing. The checks an uploaded file passes before it is stored are in
``shapes``, which reads shapes with these same functions.
"""

from __future__ import annotations

import itertools
import json
from typing import Any


def shape_code(item: Any) -> str | None:
    """A feature's region code: ``properties.code``, else its ``id``; upper-case, as codes are stored."""
    if not isinstance(item, dict):
        return None
    properties = item.get("properties")
    raw = properties.get("code") if isinstance(properties, dict) else None
    raw = item.get("id") if raw is None or raw == "" else raw
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    return str(raw).strip().upper() or None


def polygons(kind: Any, value: Any) -> list[Any] | None:
    """The polygons of a Polygon/MultiPolygon (each a list of rings); None for another kind, or none there."""
    if kind not in ("Polygon", "MultiPolygon"):
        return None
    found = [value] if kind == "Polygon" else value
    if not isinstance(found, list) or not found or not all(isinstance(p, list) and p for p in found):
        return None
    return found


def geometries(topology_object: Any) -> list[Any]:
    """The geometries of a TopoJSON object, as they are (not all of them need be objects)."""
    if not isinstance(topology_object, dict):
        return []
    if topology_object.get("type") == "GeometryCollection":
        items = topology_object.get("geometries")
        return items if isinstance(items, list) else []
    return [topology_object]


def drawn_codes(kind: str | None, object_name: str | None, text: str | None) -> frozenset[str]:
    """Region codes that have a shape in a stored (already checked) shapes file."""
    if not kind or not text:
        return frozenset()
    doc = json.loads(text)
    items = doc["features"] if kind == "geojson" else geometries(doc["objects"].get(object_name))
    return frozenset(code for item in items if isinstance(item, dict) and (code := shape_code(item)))


def ring_area(ring: list[Any]) -> float:
    """Twice the signed planar area of a ring of [lon, lat] positions (positive: counter-clockwise)."""
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring))


def _rewound(polygon: list[Any]) -> list[Any]:
    """d3-geo (and so Vega) wants the opposite of RFC 7946: outer rings clockwise, holes counter-clockwise.

    An outer ring in RFC 7946 order would be read as the whole globe minus the region, which
    fills the entire chart; so every ring is turned the way d3 expects.
    """
    rings = []
    for index, ring in enumerate(polygon):
        clockwise = ring_area(ring) < 0
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
            code = shape_code(feature) if isinstance(feature, dict) else None
            geometry = feature.get("geometry") if code else None
            if not isinstance(geometry, dict):
                continue
            kind_ = geometry.get("type")
            found = polygons(kind_, geometry.get("coordinates"))
            if found is None:
                continue
            rewound = [_rewound(p) for p in found]
            coordinates = rewound[0] if kind_ == "Polygon" else rewound
            features.append({"type": "Feature", "id": code, "geometry": {"type": kind_, "coordinates": coordinates}})
        return {"type": "FeatureCollection", "features": features}
    for geometry in geometries(doc["objects"].get(object_name)):
        if isinstance(geometry, dict) and (code := shape_code(geometry)):
            geometry["id"] = code
    return doc
