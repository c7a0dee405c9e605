"""Link previews: the tags a share link's page carries (escaped, absolute), the page rewrite, the preview image,
and the cache that keeps both."""

from __future__ import annotations

import importlib.util
import io
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from campaigns.core import theme
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import CampaignNotFound
from campaigns.core.ttl_cache import TTLCache
from campaigns.sharing import links, meta, preview
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer
from tests.support.html_head import parsed

BASE = "https://rally.example.org"
NASTY = "Stop the \"<script>alert(1)</script>\" & the 'quote' trick"


def campaign(**values: object) -> SimpleNamespace:
    defaults = {"slug": "save-libraries", "title": "Save our libraries", "purpose": "Open.", "light_share_link": False}
    return SimpleNamespace(**{**defaults, **values})


def streamlit_index() -> bytes:
    spec = importlib.util.find_spec("streamlit")
    assert spec is not None and spec.origin is not None
    return (Path(spec.origin).parent / "static" / "index.html").read_bytes()


# --------------------------------------------------------------------------- the tags


def test_meta_tags_escape_a_title_with_a_script_and_quotes():
    shared = campaign(title=NASTY, purpose='Purpose with "quotes" & <b>tags</b>')
    tags = meta.meta_tags(shared, base=BASE, site_name='Friends "of" <Earth>')
    assert "<script>" not in tags and "<b>" not in tags
    head = parsed(tags)
    assert head.scripts == 0
    assert head.meta["og:title"] == NASTY
    assert head.meta["twitter:title"] == NASTY
    assert head.meta["og:image:alt"] == NASTY
    assert head.meta["og:description"] == 'Purpose with "quotes" & <b>tags</b>'
    assert head.meta["og:site_name"] == 'Friends "of" <Earth>'
    title = parsed(meta.page_title(shared))
    assert title.titles == [NASTY] and title.scripts == 0


def test_meta_tags_name_the_share_link_and_the_image_by_absolute_urls():
    head = parsed(meta.meta_tags(campaign(), base=BASE + "/", site_name="Rally"))
    assert head.meta["og:url"] == f"{BASE}/?campaign=save-libraries" == links.share_url("save-libraries", base=BASE)
    assert head.meta["og:image"] == f"{BASE}/share/save-libraries/preview.png"
    assert head.meta["twitter:image"] == head.meta["og:image"]
    assert head.meta["twitter:card"] == "summary_large_image"
    assert head.meta["og:type"] == "website"
    assert (head.meta["og:image:width"], head.meta["og:image:height"]) == ("1200", "630")
    assert head.canonical == [head.meta["og:url"]]
    assert head.meta["description"] == head.meta["og:description"] == head.meta["twitter:description"] == "Open."


def test_a_long_purpose_is_cut_at_a_word_on_one_line():
    purpose = "Libraries\nmatter.  " + " ".join(["weekend"] * 80)
    text = meta.describe(purpose)
    assert len(text) <= meta.DESCRIPTION_MAX
    assert text.startswith("Libraries matter. weekend") and text.endswith("weekend…")
    assert "\n" not in text and "  " not in text
    assert meta.describe("Short and sweet.") == "Short and sweet."


def test_rewrite_puts_title_and_tags_early_in_streamlits_own_page():
    original = streamlit_index()
    shared = campaign(title=NASTY)
    tags = meta.meta_tags(shared, base=BASE, site_name="Rally")
    page = meta.rewrite_index(original, title=meta.page_title(shared), tags=tags)
    head = parsed(page.decode())
    assert head.titles == [NASTY]  # Streamlit's "Streamlit" title is gone, and there is one title
    assert head.meta["og:title"] == NASTY
    assert head.scripts == parsed(original.decode()).scripts  # nothing that could run was added
    assert page.index(b'property="og:image"') < page.index(b"<script")  # before the scripts: crawlers read the start
    rest = page.replace(meta.page_title(shared).encode(), b"<title>Streamlit</title>", 1).replace(
        b"\n    " + tags.encode(), b"", 1
    )
    assert rest == original  # nothing else changed


def test_rewrite_without_a_title_goes_before_head_end_and_leaves_other_pages_alone():
    page = meta.rewrite_index(b"<html><head></head><body></body></html>", title="<title>T</title>", tags="<meta />")
    assert page == b"<html><head><title>T</title>\n    <meta />\n  </head><body></body></html>"
    assert meta.rewrite_index(b"not html at all", title="<title>T</title>", tags="<meta />") == b"not html at all"


# --------------------------------------------------------------------------- the image


def card(title: str, total: int = 12_345, goal: int = 20_000, closed: bool = False) -> preview.PreviewCard:
    return preview.PreviewCard(org_name="Friends of the Earth", title=title, total=total, goal=goal, closed=closed)


def picture(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    checked = Image.open(io.BytesIO(png))
    checked.verify()  # a complete, uncorrupted PNG
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (1200, 630)
    return image.convert("RGB")


def inked(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """How many pixels in ``box`` are not the background."""
    region = image.crop(box)
    return sum(1 for pixel in region.get_flattened_data() if pixel != (255, 247, 237))


TITLE_BOX = (0, 150, 1200, 445)
LONG = "Tell the city council to keep every branch library open on weekends and evenings, " * 3


@pytest.mark.parametrize(
    "title",
    [
        "Save our libraries",
        LONG[:200],
        "図書館を守ろう：すべての分館を週末も開館し、司書を増やすよう市議会に求めます",
        "أنقذوا مكتباتنا العامة من الإغلاق",
        "Спасите библиотеки и Ελληνικά βιβλία",
        "Donaudampfschifffahrtsgesellschaftskapitänswitwenrentenversicherungsanstaltsbeschwerde",
    ],
    ids=["short", "long", "japanese", "arabic", "cyrillic-greek", "one-long-word"],
)
def test_the_preview_is_a_1200x630_png_with_the_title_inside_its_margins(title):
    image = picture(preview.render_preview(card(title)))
    assert inked(image, (72, 150, 1128, 445)) > 2_000  # the title is drawn (no script dropped for want of a font)
    assert inked(image, (1129, 150, 1200, 445)) == 0  # and never runs past the right margin
    assert inked(image, (0, 150, 71, 445)) == 0
    assert inked(image, (0, 445, 1200, 470)) == 0  # nor down into the count


def test_the_progress_bar_follows_the_share_of_the_goal():
    def filled(total: int) -> int:
        image = picture(preview.render_preview(card("Libraries", total=total, goal=1_000)))
        return sum(1 for x in range(72, 1128) if image.getpixel((x, 568)) == theme.primary_rgb())

    assert filled(0) == 0
    assert 0 < filled(1) < filled(500) < filled(1_000)
    assert abs(filled(500) - 528) <= 3  # half of the 1,056-pixel bar
    assert filled(2_000) == filled(1_000)  # past the goal the bar is full, not longer


def test_a_title_of_emoji_alone_still_draws_a_card():
    image = picture(preview.render_preview(card("🐝🐝🐝")))
    assert inked(image, TITLE_BOX) == 0  # no font has them: left out, not drawn as boxes
    assert inked(image, (72, 480, 700, 530)) > 0  # the count is still there


def test_the_count_and_goal_texts():
    assert preview.count_text(1) == "1 signature"
    assert preview.count_text(12_345) == "12,345 signatures"
    assert preview.goal_text(card("x", total=150, goal=100)) == "150% of 100"
    assert preview.goal_text(card("x", total=10, goal=40_000, closed=True)) == "Closed · 0% of 40,000"


def test_the_card_is_read_only_for_public_campaigns(engine):
    open_one = make_campaign(engine, slug="card-open", goal=10, title="Open for signing")
    make_campaign(engine, slug="card-closed", status="closed")
    make_campaign(engine, slug="card-draft", status="draft")
    for _ in range(3):
        run_write(engine, lambda s: sign(session=s, campaign_slug=open_one.slug, signer=signer()))
    with read_session(engine) as session:
        found = preview.read_preview_card(session=session, slug="card-open", org_name="Org")
        assert found == preview.PreviewCard(org_name="Org", title="Open for signing", total=3, goal=10, closed=False)
        assert preview.read_preview_card(session=session, slug="card-closed", org_name="Org").closed
        for slug in ("card-draft", "no-such-campaign"):
            with pytest.raises(CampaignNotFound):
                preview.read_preview_card(session=session, slug=slug, org_name="Org")


# --------------------------------------------------------------------------- the cache


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_keeps_a_value_for_its_window_and_no_longer():
    clock, made = Clock(), []
    cache = TTLCache(300, clock=clock)

    def make() -> str:
        made.append(clock.now)
        return f"card {len(made)}"

    assert cache.get("slug", make) == "card 1"
    clock.now += 299.9
    assert cache.get("slug", make) == "card 1" and cache.peek("slug") == "card 1"
    clock.now += 0.1
    assert cache.peek("slug") is None
    assert cache.get("slug", make) == "card 2"
    assert made == [1_000.0, 1_300.0]
    assert cache.get("other", make) == "card 3"  # each key has its own window


def test_the_cache_keeps_no_failure_and_stays_bounded():
    clock = Clock()
    cache = TTLCache(5, max_items=3, clock=clock)
    with pytest.raises(RuntimeError):
        cache.get("k", lambda: (_ for _ in ()).throw(RuntimeError("database down")))
    assert cache.peek("k") is None
    assert cache.get("k", lambda: "ok") == "ok"  # the next caller makes it again
    for key in ("a", "b", "c"):
        cache.get(key, lambda key=key: key)
    assert sum(cache.peek(k) is not None for k in ("k", "a", "b", "c")) <= 3


def test_one_caller_makes_a_missing_value_while_others_wait_for_it():
    cache = TTLCache(60)
    release, started, calls = threading.Event(), threading.Event(), []

    def slow() -> str:
        calls.append("first")
        started.set()
        release.wait(10)
        return "made once"

    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(cache.get("k", slow)))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: results.append(cache.get("k", lambda: calls.append("second") or "x")))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # it waits for the first caller instead of reading the database too
    release.set()
    first.join(10)
    second.join(10)
    assert results == ["made once", "made once"] and calls == ["first"]


def test_32_concurrent_requests_on_an_expired_entry_make_one_database_read():
    """The JSON API's stampede (issue 14): when an entry expires, however many wait, one caller reads."""
    now = [0.0]
    cache = TTLCache(5, clock=lambda: now[0])
    reads: list[int] = []
    release = threading.Event()
    assert cache.get("campaign", lambda: "old") == "old"
    now[0] = 6.0  # expired

    def read_database() -> str:
        reads.append(1)
        release.wait(10)
        return "new"

    start = threading.Barrier(33)
    results: list[str] = []

    def request() -> None:
        start.wait(10)
        results.append(cache.get("campaign", read_database))

    threads = [threading.Thread(target=request) for _ in range(32)]
    for thread in threads:
        thread.start()
    start.wait(10)  # all 32 are asking now
    while not reads:
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == ["new"] * 32 and reads == [1]


@pytest.mark.parametrize(
    ("title", "flush"), [("أنقذوا المكتبات", "right"), ("שמרו על הספריות", "right"), ("Libraries", "left")]
)
def test_a_right_to_left_title_is_set_flush_right(title, flush):
    image = picture(preview.render_preview(card(title)))
    left, right = inked(image, (72, 150, 400, 445)), inked(image, (800, 150, 1128, 445))
    assert (left == 0 < right) if flush == "right" else (right == 0 < left)
