"""Region schemes: the sets of regions a campaign counts its signatures by.

Three schemes ship as CSV files under ``data/regions/`` (US states, countries of the world,
UK constituencies); every country with ISO 3166-2 subdivisions also gets a
``subdivisions-xx`` scheme built from pycountry. Pure Python: no database, no streamlit.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import pycountry

from campaigns.core.errors import InvalidInput, UnknownRegionScheme
from campaigns.core.settings import PROJECT_ROOT

DATA_DIR = PROJECT_ROOT / "data"
_SUBDIVISIONS_PREFIX = "subdivisions-"
_MAX_POSTAL_LENGTH = 20


@dataclass(frozen=True)
class Region:
    code: str  # what we store on a signature, e.g. "US-CA", "FR", "E14000530", "DE-BY"
    name: str
    population: int | None
    shape_id: str | None  # feature id in the scheme's shapes file, if any


@dataclass(frozen=True)
class SchemeInfo:
    id: str
    name: str
    region_label: str  # what to call one region in a form: "State", "Country", ...
    postal_code_label: str | None = None  # "ZIP code" when the scheme can look regions up by postal code
    shapes: str | None = None  # file name under data/shapes/
    shape_kind: str | None = None  # "topojson" | "hexjson" | None
    shape_object: str | None = None  # TopoJSON object name, or None
    attribution: str = ""  # credit line to show next to maps and figures; "" if none is needed


_SHIPPED: dict[str, SchemeInfo] = {
    info.id: info
    for info in (
        SchemeInfo(
            id="us-states",
            name="US states",
            region_label="State",
            postal_code_label="ZIP code",
            shapes="us-states-10m.json",
            shape_kind="topojson",
            shape_object="states",
            attribution="Boundaries and population: US Census Bureau.",
        ),
        SchemeInfo(
            id="world-countries",
            name="Countries of the world",
            region_label="Country",
            shapes="countries-110m.json",
            shape_kind="topojson",
            shape_object="countries",
            attribution="Population data: World Bank, CC BY 4.0. Boundaries: Natural Earth.",
        ),
        SchemeInfo(
            id="uk-constituencies",
            name="UK parliamentary constituencies (2010–2024)",
            region_label="Constituency",
            shapes="uk-constituencies.hexjson",
            shape_kind="hexjson",
            attribution="Hex map: ODI Leeds. Population figures are electorates.",
        ),
    )
}


def fold_text(text: str) -> str:
    """Lower-case, accent-free, straight-quoted text for matching and sorting."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def _printable(text: str) -> bool:
    return all(unicodedata.category(c)[0] != "C" for c in text)


def _shown(text: str) -> str:
    """The input quoted back to the person, or "" when it is too odd to repeat."""
    return f" “{text}”" if text and len(text) <= 40 and _printable(text) else ""


def _int_or_none(cell: str | None) -> int | None:
    cell = (cell or "").strip()
    return int(cell) if cell else None


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / "regions" / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _regions_from_csv(name: str) -> list[Region]:
    return [
        Region(
            code=row["code"].strip().upper(),
            name=row["name"].strip(),
            population=_int_or_none(row.get("population")),
            shape_id=(row.get("shape_id") or "").strip() or None,
        )
        for row in _read_csv(name)
    ]


class RegionScheme:
    """One scheme's regions, with lookups for forms (by code, by name, by postal code)."""

    def __init__(self, info: SchemeInfo, regions: list[Region], zip3: dict[str, str] | None = None) -> None:
        self.info = info
        self.regions: tuple[Region, ...] = tuple(sorted(regions, key=lambda r: (fold_text(r.name), r.code)))
        self._by_code = {r.code: r for r in self.regions}
        self._folded = [(fold_text(r.name), r) for r in self.regions]
        self._zip3 = zip3  # 3-digit ZIP prefix -> region code; None when there is no postal lookup

    def __repr__(self) -> str:
        return f"RegionScheme({self.info.id!r}, {len(self.regions)} regions)"

    @property
    def _label(self) -> str:
        return self.info.region_label.lower()

    @property
    def _postal_label(self) -> str:
        return self.info.postal_code_label or "postal code"

    def get(self, code: str) -> Region:
        raw = str(code or "").strip()
        region = self._by_code.get(raw.upper())
        if region is not None:
            return region
        if not raw:
            raise InvalidInput({"region": f"Please pick your {self._label}."})
        label = self._label
        message = f"We don't recognise the {label}{_shown(raw)}. Please pick your {label} from the list."
        raise InvalidInput({"region": message})

    def has(self, code: str) -> bool:
        return str(code or "").strip().upper() in self._by_code

    def search(self, text: str, limit: int = 20) -> list[Region]:
        """Regions whose code is ``text`` (or ends in "-TEXT"), then names starting with it, then containing it."""
        if limit <= 0:
            return []
        needle = fold_text(str(text or ""))
        if not needle:
            return list(self.regions[:limit])
        code = needle.upper()
        exact = [r for r in self.regions if r.code == code or r.code.endswith("-" + code)]
        rest = [(folded, r) for folded, r in self._folded if needle in folded and r not in exact]
        prefix = [r for folded, r in rest if folded.startswith(needle)]
        inside = [r for folded, r in rest if not folded.startswith(needle)]
        return (exact + prefix + inside)[:limit]

    def region_for_postal_code(self, postal_code: str) -> Region | None:
        if self._zip3 is None:
            return None
        raw = str(postal_code or "").strip()
        self._check_postal_shape(raw)
        digits = raw.replace(" ", "")
        well_formed = digits.isascii() and (
            (len(digits) == 5 and digits.isdigit())
            or (len(digits) == 10 and digits[5] == "-" and digits[:5].isdigit() and digits[6:].isdigit())
        )
        if not well_formed:
            raise InvalidInput(
                {
                    "postal_code": f"“{raw}” doesn't look like a ZIP code: use 5 digits, like 90210 "
                    f"(or ZIP+4, like 90210-1234). Or leave it empty and pick your {self._label}."
                }
            )
        code = self._zip3.get(digits[:3])
        if code is None or code not in self._by_code:
            raise InvalidInput(
                {
                    "postal_code": f"We don't recognise the ZIP code “{raw}”. "
                    f"Check it, or leave it empty and pick your {self._label}."
                }
            )
        return self._by_code[code]

    def _check_postal_shape(self, raw: str) -> None:
        if len(raw) > _MAX_POSTAL_LENGTH:
            raise InvalidInput(
                {"postal_code": f"That {self._postal_label} is too long. Please enter just the {self._postal_label}."}
            )
        if not _printable(raw):
            raise InvalidInput(
                {"postal_code": f"That {self._postal_label} contains characters we can't use. Please type it again."}
            )

    def check_postal_code(self, postal_code: str | None, region_code: str | None) -> Region | None:
        """The region to store for a form's postal code and region fields; InvalidInput says what to fix."""
        postal = str(postal_code or "").strip()
        picked = str(region_code or "").strip()
        if postal:
            self._check_postal_shape(postal)
        if not postal and not picked:
            raise InvalidInput({"region": f"Please pick your {self._label}."})
        if not postal:
            return self.get(picked)
        if self._zip3 is None and not picked:
            raise InvalidInput(
                {"region": f"Please pick your {self._label}: we can't tell it from a {self._postal_label} alone."}
            )
        errors: dict[str, str] = {}
        region = looked_up = None
        if picked:
            try:
                region = self.get(picked)
            except InvalidInput as exc:
                errors.update(exc.errors)
        try:
            looked_up = self.region_for_postal_code(postal)
        except InvalidInput as exc:
            errors.update(exc.errors)
        if errors:
            raise InvalidInput(errors)
        if region is None:
            return looked_up
        if looked_up is not None and looked_up.code != region.code:
            raise InvalidInput(
                {
                    "postal_code": f"{self._postal_label} {postal} is in {looked_up.name}, "
                    f"but you picked {region.name}. Please check one of them."
                }
            )
        return region


@cache
def _subdivision_countries() -> dict[str, str]:
    """Lower-case alpha-2 -> country name, for every country pycountry has subdivisions for."""
    codes = {s.country_code for s in pycountry.subdivisions}
    out = {}
    for code in codes:
        country = pycountry.countries.get(alpha_2=code)
        if country is not None:
            out[code.lower()] = getattr(country, "common_name", None) or country.name
    return out


def _subdivision_info(alpha2: str, country_name: str) -> SchemeInfo:
    return SchemeInfo(
        id=f"{_SUBDIVISIONS_PREFIX}{alpha2}",
        name=f"{country_name}: states, regions and other subdivisions (ISO 3166-2)",
        region_label="Region",
    )


def _subdivision_regions(alpha2: str) -> list[Region]:
    subdivisions = list(pycountry.subdivisions.get(country_code=alpha2.upper()) or [])
    counts: dict[str, int] = {}
    for s in subdivisions:
        counts[s.name] = counts.get(s.name, 0) + 1
    regions = []
    for s in subdivisions:
        # Some countries reuse a name across levels (Dhaka division and Dhaka district): say which is which.
        name = f"{s.name} ({s.type}, {s.code})" if counts[s.name] > 1 else s.name
        regions.append(Region(code=s.code.upper(), name=name, population=None, shape_id=None))
    return regions


def _zip3_lookup(regions: list[Region]) -> dict[str, str]:
    by_abbr = {r.code.split("-", 1)[1]: r.code for r in regions}
    lookup: dict[str, str] = {}
    for row in _read_csv("us-zip3.csv"):
        code = by_abbr.get(row["abbr"].strip().upper())
        if code is None:
            continue
        for prefix in range(int(row["zip3_start"]), int(row["zip3_end"]) + 1):
            lookup[f"{prefix:03d}"] = code
    return lookup


@lru_cache(maxsize=256)
def _load_scheme(scheme_id: str) -> RegionScheme:
    if scheme_id == "us-states":
        regions = _regions_from_csv("us-states.csv")
        return RegionScheme(_SHIPPED[scheme_id], regions, zip3=_zip3_lookup(regions))
    if scheme_id == "world-countries":
        return RegionScheme(_SHIPPED[scheme_id], _regions_from_csv("world-countries.csv"))
    if scheme_id == "uk-constituencies":
        return RegionScheme(_SHIPPED[scheme_id], _regions_from_csv("uk-constituencies.csv"))
    alpha2 = scheme_id.removeprefix(_SUBDIVISIONS_PREFIX)
    return RegionScheme(_subdivision_info(alpha2, _subdivision_countries()[alpha2]), _subdivision_regions(alpha2))


def _known(scheme_id: str) -> bool:
    if scheme_id in _SHIPPED:
        return True
    return scheme_id.startswith(_SUBDIVISIONS_PREFIX) and (
        scheme_id.removeprefix(_SUBDIVISIONS_PREFIX) in _subdivision_countries()
    )


def get_scheme(scheme_id: str) -> RegionScheme:
    """The scheme called ``scheme_id`` (case-insensitive), read once and cached."""
    key = str(scheme_id or "").strip().lower()
    if not _known(key):
        raise UnknownRegionScheme(str(scheme_id))
    return _load_scheme(key)


@cache
def _all_schemes() -> tuple[SchemeInfo, ...]:
    subdivisions = sorted(
        (_subdivision_info(alpha2, name) for alpha2, name in _subdivision_countries().items()),
        key=lambda info: (fold_text(info.name), info.id),
    )
    return (*_SHIPPED.values(), *subdivisions)


def list_schemes() -> list[SchemeInfo]:
    """Shipped schemes first, then one subdivisions scheme per country, by country name."""
    return list(_all_schemes())


def shape_path(info: SchemeInfo) -> Path | None:
    return DATA_DIR / "shapes" / info.shapes if info.shapes else None


@cache
def hex_layout(scheme_id: str) -> dict[str, tuple[float, float]]:
    """Where each region's hexagon sits on a shipped HexJSON map: code -> (x, y), y growing upwards.

    HexJSON (odd-r / even-r / odd-q / even-q layouts) puts hexes on a grid of columns ``q`` and rows
    ``r``; this turns them into centre points for pointy-top hexagons one unit wide. Empty for
    schemes without a hex map.
    """
    import json
    import math

    info = _SHIPPED.get(scheme_id)
    path = shape_path(info) if info and info.shape_kind == "hexjson" else None
    if path is None or not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    layout = str(data.get("layout", "odd-r"))
    centres: dict[str, tuple[float, float]] = {}
    for code, hexagon in data.get("hexes", {}).items():
        q, r = int(hexagon["q"]), int(hexagon["r"])
        if layout.endswith("-r"):  # rows are offset: odd (or even) rows shift half a hexagon right
            shift = 0.5 if (r % 2 == 1) == (layout == "odd-r") else 0.0
            centres[code] = (q + shift, r * math.sqrt(3) / 2)
        else:  # columns are offset
            shift = 0.5 if (q % 2 == 1) == (layout == "odd-q") else 0.0
            centres[code] = (q * math.sqrt(3) / 2, r + shift)
    return centres
