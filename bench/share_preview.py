"""Link previews: what the share link's page rewrite adds to a GET of the page, and the preview image drawn vs kept.

The app is started the way production runs it (``streamlit run rally_app.py``) on a free port, over a fresh
SQLite file holding the demo campaigns. One keep-alive client sends the requests one at a time, interleaved
round by round so the machine's drift hits every row alike:

- ``GET /`` is the baseline: Streamlit's ``index.html``, passed through untouched;
- ``GET /?campaign=<slug>`` is the same file with the campaign's title and tags put in (cached tags);
- ``GET /?campaign=<unknown>`` is the generic page after the middleware looked (a cached "not public");
- ``GET /share/<slug>/preview.png`` is the image served from its cache, beside ``GET /_stcore/health``.

Then, in this process, the card itself: drawn cold (the first card of a process: fonts opened and read) and
warm, for a short, a long and a Japanese title, against the cache hit every other request in its window gets.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.common import Options, demo_app, fmt_ms, median, percentile, print_table

NAME = "share_preview"
ROOT = Path(__file__).resolve().parent.parent
SLUG = "save-our-libraries"
TITLES = {
    "short title": "Save our libraries",
    "long title (200 characters)": (
        "Tell the city council to keep every branch library open on weekends and evenings, " * 3
    )[:200],
    "Japanese title": "図書館を守ろう：すべての分館を週末も開館し、司書を増やすよう市議会に求めます",
}
COLD_SCRIPT = """
import sys, time
from campaigns.sharing.preview import PreviewCard, render_preview
t = time.perf_counter()
render_preview(PreviewCard("Rally", sys.argv[1], 12345, 20000, False))
print(time.perf_counter() - t)
"""


def _timed(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def _http_rows(base: str, rounds: int) -> list[list[str]]:
    paths = {
        "GET / (baseline: the page untouched)": "/",
        "GET /?campaign=<slug> (title and tags put in)": f"/?campaign={SLUG}",
        "GET /?campaign=<unknown> (looked, left alone)": "/?campaign=no-such-campaign",
        "GET /_stcore/health (baseline: no work)": "/_stcore/health",
        "GET /share/<slug>/preview.png (kept)": f"/share/{SLUG}/preview.png",
    }
    samples: dict[str, list[float]] = {label: [] for label in paths}
    with httpx.Client(headers={"Accept-Encoding": "identity"}) as client:
        for path in paths.values():  # warm up: the tags and the card are made once here
            for _ in range(20):
                _timed(client, base + path)
        page = client.get(f"{base}/?campaign={SLUG}").content
        assert b'property="og:image"' in page and b'property="og:image"' not in client.get(base + "/").content
        for _ in range(rounds):
            for label, path in paths.items():
                samples[label].append(_timed(client, base + path))
    baseline = {"page": median(samples["GET / (baseline: the page untouched)"])}
    baseline["health"] = median(samples["GET /_stcore/health (baseline: no work)"])
    rows = []
    for label, values in samples.items():
        against = baseline["health"] if "png" in label or "health" in label else baseline["page"]
        added = median(values) - against
        rows.append(
            [
                label,
                fmt_ms(median(values)),
                fmt_ms(percentile(values, 0.95)),
                "" if "baseline" in label else fmt_ms(added),
            ]
        )
    return rows


def _card_rows(repeats: int) -> list[list[str]]:
    from campaigns.core.ttl_cache import TTLCache
    from campaigns.sharing.preview import REFRESH_SECONDS, PreviewCard, render_preview

    rows = []
    for label, title in TITLES.items():
        cold = subprocess.run(  # a fresh process: nothing opened or cached yet
            [sys.executable, "-c", COLD_SCRIPT, title], cwd=ROOT, capture_output=True, text=True, check=True
        )
        card = PreviewCard("Rally", title, 12_345, 20_000, False)
        render_preview(card)
        warm = [_seconds(lambda c=card: render_preview(c)) for _ in range(repeats)]
        cache = TTLCache(REFRESH_SECONDS)
        cache.get(title, lambda c=card: render_preview(c))
        kept = [_seconds(lambda t=title, k=cache: k.get(t, lambda: b"")) for _ in range(repeats)]
        rows.append(
            [
                label,
                fmt_ms(float(cold.stdout.strip())),
                fmt_ms(median(warm)),
                fmt_ms(percentile(warm, 0.95)),
                fmt_ms(median(kept)),
            ]
        )
    return rows


def _rewrite_rows(repeats: int) -> list[list[str]]:
    """The rewrite alone, in this process, on Streamlit's own index.html: what the middleware adds per page."""
    import importlib.util
    from types import SimpleNamespace

    from campaigns.sharing import meta

    spec = importlib.util.find_spec("streamlit")
    assert spec is not None and spec.origin is not None
    index = (Path(spec.origin).parent / "static" / "index.html").read_bytes()
    shared = SimpleNamespace(
        slug=SLUG, title=TITLES["long title (200 characters)"], purpose="Open. " * 100, light_share_link=False
    )
    title, tags = meta.page_title(shared), meta.meta_tags(shared, base="https://rally.example.org", site_name="Rally")
    made = [_seconds(lambda: meta.meta_tags(shared, base="https://rally.example.org", site_name="Rally"))]
    made += [
        _seconds(lambda: meta.meta_tags(shared, base="https://rally.example.org", site_name="Rally"))
        for _ in range(repeats * 10)
    ]
    put_in = [_seconds(lambda: meta.rewrite_index(index, title=title, tags=tags)) for _ in range(repeats * 10)]
    return [
        ["the tags made (once per campaign and 5 s)", fmt_ms(median(made)), fmt_ms(percentile(made, 0.95))],
        ["put into index.html (every share-link page)", fmt_ms(median(put_in)), fmt_ms(percentile(put_in, 0.95))],
    ]


def _seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run(opts: Options) -> None:
    print(f"== {NAME}: the share link's page rewrite and the preview image ==", flush=True)
    rounds, repeats = (100, 5) if opts.quick else (1_000, 30)
    with demo_app(300, prefix="rally-bench-share-") as base:
        rows = _http_rows(base, rounds)
    print_table(
        f"Share link page and preview image over HTTP (ms; {rounds:,} interleaved rounds, one keep-alive client)",
        ["request", "p50", "p95", "added to its baseline (p50)"],
        rows,
    )
    print_table(
        f"The rewrite alone, in process (ms; median of {repeats * 10})",
        ["step", "p50", "p95"],
        _rewrite_rows(repeats),
    )
    print_table(
        f"Preview card, drawn and kept (ms; warm: median of {repeats})",
        ["card", "cold (new process)", "warm p50", "warm p95", "kept (cache hit) p50"],
        _card_rows(repeats),
    )
