"""Regenerate the region data shipped in data/regions/ and data/shapes/.

Usage:
    python scripts/build_region_data.py [NPM_DIR]

NPM_DIR (default /tmp/npmdata) holds the unpacked npm tarballs, one folder per package:
    <name>-<version>/package/...   e.g. /tmp/npmdata/us-atlas-3.0.1/package/states-10m.json
Create it with:
    mkdir -p /tmp/npmdata && cd /tmp/npmdata
    npm pack us-atlas@3.0.1 vega-datasets@3.2.1 world-atlas@2.0.2 d3-hexjson@1.1.1
    for f in *.tgz; do mkdir -p "${f%.tgz}" && tar -xzf "$f" -C "${f%.tgz}"; done

World countries come from the installed pycountry (ISO 3166-1) and pypopulation (World Bank).
data/regions/us-zip3.csv is hand-written and is only checked here, never rewritten.
"""

from __future__ import annotations

import csv
import itertools
import json
import shutil
import sys
import unicodedata
from pathlib import Path

import pycountry
import pypopulation

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
REGIONS = DATA / "regions"
SHAPES = DATA / "shapes"

US_ATLAS = "us-atlas-3.0.1"
WORLD_ATLAS = "world-atlas-2.0.2"
VEGA_DATASETS = "vega-datasets-3.2.1"
D3_HEXJSON = "d3-hexjson-1.1.1"

# Copied byte for byte: (package folder, path inside package, name under data/shapes/).
SHAPE_FILES = [
    (US_ATLAS, "states-10m.json", "us-states-10m.json"),
    (WORLD_ATLAS, "countries-110m.json", "countries-110m.json"),
    (D3_HEXJSON, "examples/constituencies.hexjson", "uk-constituencies.hexjson"),
]


def _package(npm_dir: Path, folder: str) -> Path:
    path = npm_dir / folder / "package"
    if not path.is_dir():
        sys.exit(f"Missing {path}: unpack the npm tarballs first (see this script's docstring).")
    return path


def _sort_key(name: str) -> str:
    """Sort "Åland Islands" with the A's, not after "Zimbabwe"."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()


def _write_csv(name: str, header: list[str], rows: list[list[object]]) -> None:
    path = REGIONS / name
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
    print(f"wrote {path.relative_to(ROOT)}: {len(rows)} rows")


def _topojson_ids(path: Path, obj: str) -> dict[str, dict]:
    topo = json.loads(path.read_text(encoding="utf-8"))
    return {g["id"]: g.get("properties", {}) for g in topo["objects"][obj]["geometries"] if g.get("id")}


def copy_shapes(npm_dir: Path) -> None:
    SHAPES.mkdir(parents=True, exist_ok=True)
    for folder, inner, target in SHAPE_FILES:
        shutil.copyfile(_package(npm_dir, folder) / inner, SHAPES / target)
        print(f"copied {folder}/{inner} -> data/shapes/{target}")


def build_us_states(npm_dir: Path) -> None:
    shapes = _topojson_ids(_package(npm_dir, US_ATLAS) / "states-10m.json", "states")
    population: dict[str, int] = {}
    vega_csv = _package(npm_dir, VEGA_DATASETS) / "data" / "population_engineers_hurricanes.csv"
    with vega_csv.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            population[f"{int(row['id']):02d}"] = int(row["population"])
    iso_by_name = {s.name: s.code for s in pycountry.subdivisions.get(country_code="US")}
    rows = []
    for fips, props in shapes.items():
        name = props["name"]
        # The 50 states and DC, plus any territory (in practice Puerto Rico) that has a population figure.
        if fips not in population:
            continue
        code = iso_by_name[name]
        rows.append([code, name, code.split("-")[1], fips, population[fips]])
    missing = set(population) - set(shapes)
    if missing:
        sys.exit(f"Population rows without a shape: {sorted(missing)}")
    rows.sort(key=lambda r: _sort_key(r[1]))
    _write_csv("us-states.csv", ["code", "name", "abbr", "shape_id", "population"], rows)


def build_world_countries(npm_dir: Path) -> None:
    shapes = _topojson_ids(_package(npm_dir, WORLD_ATLAS) / "countries-110m.json", "countries")
    rows = []
    for country in pycountry.countries:
        name = getattr(country, "common_name", None) or country.name
        shape_id = country.numeric if country.numeric in shapes else None
        rows.append([country.alpha_2, name, country.numeric, shape_id, pypopulation.get_population(country.alpha_2)])
    rows.sort(key=lambda r: _sort_key(r[1]))
    _write_csv("world-countries.csv", ["code", "name", "numeric", "shape_id", "population"], rows)
    used = {r[3] for r in rows}
    unmatched = sorted(props.get("name", "?") for sid, props in shapes.items() if sid not in used)
    print(f"  {sum(1 for r in rows if r[3])} countries with a shape; shapes without a country: {unmatched or 'none'}")


def build_uk_constituencies(npm_dir: Path) -> None:
    hexjson = json.loads((_package(npm_dir, D3_HEXJSON) / "examples" / "constituencies.hexjson").read_text("utf-8"))
    rows = [[code, h["n"], h["q"], h["r"], h["a"], h.get("p")] for code, h in hexjson["hexes"].items()]
    rows.sort(key=lambda r: _sort_key(r[1]))
    _write_csv("uk-constituencies.csv", ["code", "name", "q", "r", "region", "population"], rows)


def check_zip3() -> None:
    with (REGIONS / "us-zip3.csv").open(encoding="utf-8") as f:
        ranges = [(int(r["zip3_start"]), int(r["zip3_end"]), r["abbr"]) for r in csv.DictReader(f)]
    with (REGIONS / "us-states.csv").open(encoding="utf-8") as f:
        states = {r["abbr"] for r in csv.DictReader(f)}
    ranges.sort()
    problems = [f"{a}-{b} {s}: unknown state" for a, b, s in ranges if s not in states]
    problems += [f"{a}-{b}: start after end" for a, b, _ in ranges if a > b]
    problems += [f"{p[0]}-{p[1]} overlaps {n[0]}-{n[1]}" for p, n in itertools.pairwise(ranges) if n[0] <= p[1]]
    problems += [f"{s}: no ZIP prefixes" for s in sorted(states - {s for _, _, s in ranges})]
    if problems:
        sys.exit("us-zip3.csv problems:\n  " + "\n  ".join(problems))
    print(f"checked data/regions/us-zip3.csv: {len(ranges)} ranges, all {len(states)} states covered")


def main(argv: list[str]) -> None:
    npm_dir = Path(argv[1] if len(argv) > 1 else "/tmp/npmdata")  # noqa: S108 - read-only input folder
    REGIONS.mkdir(parents=True, exist_ok=True)
    copy_shapes(npm_dir)
    build_us_states(npm_dir)
    build_world_countries(npm_dir)
    build_uk_constituencies(npm_dir)
    check_zip3()


if __name__ == "__main__":
    main(sys.argv)
