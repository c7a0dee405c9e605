"""The field kit: QR codes that encode the share link, a poster and a signature sheet whose text says what it
must, and a blank template that comes back in through the paper-signature import."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pypdf
import pytest
import segno
from PIL import Image

from campaigns.core.db import read_session, run_write
from campaigns.core.errors import CampaignNotFound, InvalidInput
from campaigns.core.models import DEFAULT_CONSENT_TEXT
from campaigns.core.settings import override_settings
from campaigns.fieldkit import kit, poster, qr, sheet
from campaigns.signatures import paper
from campaigns.signatures.paper_rows import COLUMNS
from tests.support.factories import make_campaign
from tests.unit.test_paper import NOW, campaign_at, run_import

BASE = "https://rally.example.org"
MM_PER_PT = 25.4 / 72


@pytest.fixture(autouse=True)
def public_address():
    with override_settings(public_url=BASE):
        yield


def a_kit(**changes: str) -> kit.KitCampaign:
    values = {
        "slug": "fund-libraries",
        "title": "Fund the libraries",
        "purpose": "Keep every branch library open on weekends: that is where communities meet.",
        "consent_text": DEFAULT_CONSENT_TEXT,
        "region_label": "State",
        "region_example": "US-AL",
    }
    return kit.KitCampaign(**{**values, **changes})


def page_text(pdf: bytes) -> tuple[pypdf.PageObject, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    return page, page.extract_text()


def flat(text: str) -> str:
    return " ".join(text.split())


def size_mm(page: pypdf.PageObject) -> tuple[int, int]:
    return round(float(page.mediabox.width) * MM_PER_PT), round(float(page.mediabox.height) * MM_PER_PT)


def link_targets(page: pypdf.PageObject) -> list[str]:
    return [a.get_object()["/A"]["/URI"] for a in page.get("/Annots", [])]


# --- QR codes ----------------------------------------------------------------------------------------


def test_the_qr_link_is_the_share_link_marked_as_coming_from_a_code():
    url = qr.qr_url("fund-libraries", medium="poster")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE
    assert parse_qs(parts.query) == {"campaign": ["fund-libraries"], "utm_source": ["qr"], "utm_medium": ["poster"]}
    with pytest.raises(ValueError, match="medium"):
        qr.qr_url("fund-libraries", medium="billboard")


def test_the_png_is_the_qr_code_of_the_link_module_for_module():
    png = qr.qr_png("fund-libraries", scale=8)
    expected = segno.make(f"{BASE}/?campaign=fund-libraries&utm_source=qr&utm_medium=image", micro=False)
    modules = len(expected.matrix)
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.size == ((modules + 8) * 8, (modules + 8) * 8)  # 4 modules of quiet zone on each side
    seen = [[image.getpixel(((x + 4) * 8 + 4, (y + 4) * 8 + 4)) < 128 for x in range(modules)] for y in range(modules)]
    assert seen == [[bool(v) for v in row] for row in expected.matrix]
    assert image.getpixel((1, 1)) == 255  # the quiet zone is white


def test_the_svg_is_a_standalone_document_of_the_same_code_titled_with_its_link():
    svg = qr.qr_svg("fund-libraries")
    url = f"{BASE}/?campaign=fund-libraries&utm_source=qr&utm_medium=image"
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    modules = len(segno.make(url, micro=False).matrix)
    assert root.tag == f"{ns}svg" and root.get("width") == root.get("height") == str((modules + 8) * 10)
    assert root.find(f"{ns}title").text == url  # escaped in the file, the link itself once parsed
    own = io.BytesIO()
    segno.make(url, error="m", micro=False).save(own, kind="svg", scale=10, border=4)
    assert root.find(f"{ns}path").get("d") == ET.fromstring(own.getvalue()).find(f"{ns}path").get("d")


def test_the_pdf_draws_one_rectangle_per_run_of_dark_modules():
    url = qr.qr_url("fund-libraries")
    modules, runs = qr.dark_runs(url)
    matrix = segno.make(url, micro=False).matrix
    assert modules == len(matrix)
    drawn = [[False] * modules for _ in range(modules)]
    for row, column, length in runs:
        for x in range(column, column + length):
            drawn[row][x] = True
    assert drawn == [[bool(v) for v in row] for row in matrix]


# --- the poster --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("paper_size", "mm"), [("a4", (210, 297)), ("letter", (216, 279))])
def test_the_poster_shows_title_purpose_and_the_short_link_on_one_page(paper_size, mm):
    page, text = page_text(poster.poster_pdf(a_kit(), paper=paper_size))
    assert size_mm(page) == mm
    assert "Fund the libraries" in text
    assert "Keep every branch library open on weekends: that is where communities meet." in flat(text)
    assert "rally.example.org/?campaign=fund-libraries" in text.splitlines()  # no https://, no utm noise
    assert "utm_" not in text and "https://" not in text
    assert link_targets(page) == [
        f"{BASE}/?campaign=fund-libraries&utm_source=qr&utm_medium=poster",  # the QR code
        f"{BASE}/?campaign=fund-libraries",  # the printed link
    ]


def test_a_long_title_and_purpose_shrink_and_are_cut_but_the_code_and_link_keep_their_place():
    long = a_kit(title="Keep the branch libraries open " * 7, purpose="Libraries are where we meet. " * 90)
    page, text = page_text(poster.poster_pdf(long))
    assert "…" in text
    assert text.splitlines()[-1] == "rally.example.org/?campaign=fund-libraries"
    assert link_targets(page)[0].endswith("utm_medium=poster")


def test_any_script_prints_and_markup_is_text():
    _, text = page_text(poster.poster_pdf(a_kit(title="图书馆 <b>مكتبة</b> 🎉", purpose="**not bold** {nb}")))
    assert "图书馆" in text and "<b>" in text and "🎉" not in text
    assert "**not bold** {nb}" in text


def test_an_http_address_keeps_its_scheme():
    with override_settings(public_url="http://localhost:8600/"):
        assert poster.printed_link("x") == "http://localhost:8600/?campaign=x"


# --- the signature sheet -----------------------------------------------------------------------------


@pytest.mark.parametrize(("paper_size", "mm"), [("a4", (297, 210)), ("letter", (279, 216))])
def test_the_sheet_is_landscape_with_the_import_columns_in_order_and_the_consent_wording(paper_size, mm):
    wording = "I agree that the Friends of the Library may write to me about this campaign. Ünïcode ok."
    page, text = page_text(sheet.sheet_pdf(a_kit(consent_text=wording), paper=paper_size))
    assert size_mm(page) == mm
    lines = text.splitlines()
    assert " ".join(COLUMNS) in lines  # the header row, cell by cell, nothing else on that line
    assert COLUMNS == ["name", "email", "region", "signed_date", "consent"]
    assert f"write yes if you agree to this: “{wording}”" in flat(text)
    assert "Fund the libraries" in text and "rally.example.org/?campaign=fund-libraries" in text
    assert "State: code or name, e.g. US-AL" in text
    assert link_targets(page) == [f"{BASE}/?campaign=fund-libraries&utm_source=qr&utm_medium=sheet"]


def test_the_longest_consent_wording_prints_whole():
    wording = ("We may email you about this campaign and related actions; unsubscribe any time. " * 13)[:1000]
    _, text = page_text(sheet.sheet_pdf(a_kit(consent_text=wording)))
    assert flat(wording) in flat(text)
    assert " ".join(COLUMNS) in text.splitlines()


def test_the_template_is_the_header_row_alone():
    assert sheet.template_csv() == b"\xef\xbb\xbfname,email,region,signed_date,consent\r\n"


def test_a_filled_in_template_imports_with_no_errors(engine):
    campaign = campaign_at(engine, "kit-return")
    filled = sheet.template_csv() + "José Müller,jose@example.org,CA,2026-03-14,yes\r\n".encode()
    with read_session(engine) as session:
        check = paper.preview_import(session=session, campaign_slug=campaign.slug, data=filled, now=NOW)
    assert (check.ready, check.errors, check.duplicates) == (1, 0, 0)
    report = run_import(engine, campaign.slug, filled)
    assert (report.imported, report.errors) == (1, 0)


# --- which campaign, which paper ---------------------------------------------------------------------


def test_the_public_kit_is_for_published_and_closed_campaigns_only(engine):
    for status in ("published", "closed"):
        make_campaign(engine, slug=f"kit-{status}", status=status)
    make_campaign(engine, slug="kit-draft", status="draft")
    with read_session(engine) as session:
        for status in ("published", "closed"):
            found = kit.read_public_kit_campaign(session=session, slug=f"kit-{status}")
            assert (found.title, found.consent_text, found.region_label) == (
                "Fund the libraries",
                DEFAULT_CONSENT_TEXT,
                "State",
            )
        with pytest.raises(CampaignNotFound):
            kit.read_public_kit_campaign(session=session, slug="kit-draft")
        with pytest.raises(CampaignNotFound):
            kit.read_public_kit_campaign(session=session, slug="nothing-here")


def test_staff_read_a_drafts_kit_with_its_own_consent_wording(engine):
    from campaigns.catalog.listing import create_campaign
    from campaigns.core.models import CampaignCreate

    draft = run_write(
        engine,
        lambda s: create_campaign(
            session=s,
            campaign_create=CampaignCreate(
                slug="kit-own-words",
                title="Own words",
                purpose="A purpose.",
                body="",
                goal=10,
                region_scheme="world-countries",
                consent_text="Only about this campaign, please.",
            ),
        ),
    )
    with read_session(engine) as session:
        found = kit.read_kit_campaign(session=session, campaign=draft)
    assert (found.consent_text, found.region_label) == ("Only about this campaign, please.", "Country")


@pytest.mark.parametrize(("given", "paper_size"), [(None, "a4"), ("", "a4"), ("A4", "a4"), (" Letter ", "letter")])
def test_paper_sizes(given, paper_size):
    assert kit.check_paper(given) == paper_size


def test_an_unknown_paper_size_is_refused_in_words():
    with pytest.raises(InvalidInput, match="a4 or letter"):
        kit.check_paper("a3")


def test_a_right_to_left_title_is_centred_like_any_other():
    page, _ = page_text(poster.poster_pdf(a_kit(title="مكتبة", purpose="نص")))
    starts: dict[str, float] = {}
    page.extract_text(visitor_text=lambda text, cm, tm, font, size: starts.setdefault(text.strip(), tm[4]))
    middle = float(page.mediabox.width) / 2
    for word in ("مكتبة", "نص"):  # right-aligned, they would start well past the middle
        assert middle - 80 < starts[word] < middle
