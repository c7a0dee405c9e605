"""A printed letter: the address block where a window envelope shows it, the date once, the signature once.

The rules on text (``campaigns.letters.layout``), then real PDFs read back with pypdf, with each line's position.
"""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from pypdf import PdfReader

from campaigns.letters.layout import is_date_line, is_signed, letter_parts, strip_letterhead
from campaigns.letters.pdf import bundle_pdf, letter_pdf
from campaigns.letters.templates import check_template, render, sample_context, stock_templates
from tests.unit.test_pdf import make_letter

PAGE_HEIGHT_MM = 297
SIGNED_BODY = "Dear Senator Public,\n\nPlease keep the libraries open.\n\nSincerely,\n\nAda Lovelace\nIllinois"


def placed_lines(pdf: bytes, page: int = 0) -> list[tuple[str, float, float]]:
    """(text, mm from the left edge, mm from the top edge) for each line drawn on ``page``."""
    found: list[tuple[str, float, float]] = []

    def visit(text, cm, tm, font, size):  # type: ignore[no-untyped-def]
        if text.strip():
            found.append((text.strip(), tm[4] * 25.4 / 72, PAGE_HEIGHT_MM - tm[5] * 25.4 / 72))

    PdfReader(io.BytesIO(pdf)).pages[page].extract_text(visitor_text=visit)
    return found


def texts(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


# --------------------------------------------------------------------------- the rules, on text


@pytest.mark.parametrize(
    "line", ["22 November 2026", "1 Jan 2027", "22. Nov. 2026", "November 22, 2026", "Nov 3rd 2026", "2026-11-22"]
)
def test_lines_that_are_only_a_date_are_dates(line):
    assert is_date_line(line) and is_date_line(f"  {line}  ")


@pytest.mark.parametrize("line", ["Dear Senator,", "On 22 November 2026 we met", "Columbus, 22 November 2026", ""])
def test_lines_with_more_than_a_date_are_not(line):
    assert not is_date_line(line)


def test_the_top_lines_repeating_the_letterhead_are_dropped_and_nothing_below_the_salutation():
    body = "22 November 2026\n\nJane Q. Public\nSTATE CAPITOL\n\nDear Senator,\n\nJane Q. Public\n22 November 2026"
    repeated = ["Jane Q. Public", "Senator", "State  Capitol"]
    assert strip_letterhead(body, repeated=repeated) == "Dear Senator,\n\nJane Q. Public\n22 November 2026"
    assert strip_letterhead("Dear Jane,\n\nHi", repeated=repeated) == "Dear Jane,\n\nHi"


@pytest.mark.parametrize(
    "ending", ["Ada Lovelace", "Ada", "ADA LOVELACE", "A. Lovelace", "Sincerely,\nAda Lovelace\nIllinois, 62706"]
)
def test_a_text_ending_with_the_signers_name_is_signed(ending):
    assert is_signed(f"Dear Senator,\n\nPlease act.\n\n{ending}", signer_name="Ada Lovelace")


@pytest.mark.parametrize(
    "ending", ["Sincerely,", "Yours, a constituent", "Ada Lovelace\n\nP.S. one\n\nP.S. two\n\nP.S. three"]
)
def test_a_text_without_the_name_at_its_end_is_not(ending):
    assert not is_signed(f"Dear Senator,\n\nPlease act.\n\n{ending}", signer_name="Ada Lovelace")


def test_names_in_any_script_sign_a_letter():
    assert is_signed("Dear Senator,\n\n山田 太郎", signer_name="山田 太郎")
    assert is_signed("Уважаемый сенатор,\n\nОльга", signer_name="Ольга Иванова")
    assert not is_signed("Dear Senator,\n\nThanks", signer_name="")


def test_parts_put_the_recipient_in_the_address_block_and_sign_only_an_unsigned_text():
    parts = letter_parts(
        signer_name="Ada Lovelace",
        signer_region="Illinois",
        target_name="Jane Q. Public",
        target_title="Senator",
        target_address="State Capitol\n\nSpringfield, IL 62706\n",
        date_text="22 November 2026",
        subject="Keep the libraries open",
        body="22 November 2026\n\nSenator Jane Q. Public\n\nDear Senator,\n\nPlease act.\n\nSincerely,",
    )
    assert parts.recipient == ["Jane Q. Public", "Senator", "State Capitol", "Springfield, IL 62706"]
    assert parts.sender == ["Ada Lovelace", "Illinois"] and parts.date == "22 November 2026"
    assert parts.paragraphs == ["Dear Senator,", "Please act.", "Sincerely,"] and parts.signed_at is None
    assert parts.signature == ["Ada Lovelace", "Illinois"]
    fields = {k: v for k, v in vars(make_letter()).items() if k != "campaign_title"}
    signed = letter_parts(**fields | {"body": "Dear Jane,\n\nAct.\n\nYours,\nAda Lovelace\nIllinois"})
    assert signed.signature == [] and signed.signed_at == 3  # room to sign above the name, split from "Yours,"
    assert signed.paragraphs == ["Dear Jane,", "Act.", "Yours,", "Ada Lovelace\nIllinois"]


# --------------------------------------------------------------------------- real PDFs


def test_the_address_block_sits_in_a_window_envelopes_window():
    lines = placed_lines(letter_pdf(make_letter(body=SIGNED_BODY)))
    block = [(x, y) for text, x, y in lines if text in {"Jane Q. Public", "Senator", "State Capitol"}][:3]
    assert len(block) == 3
    for x, y in block:  # DIN 5008 form B: the window is 20 to 105 mm from the left, 45 to 90 mm from the top
        assert 20 <= x <= 30 and 62 <= y <= 90
    city = next(y for text, _, y in lines if text == "Springfield, IL 62706")
    assert city < 90
    date_y = next(y for text, _, y in lines if text == "22 November 2026")
    body_y = next(y for text, _, y in lines if text == "Dear Senator Public,")
    assert 90 < date_y < body_y  # below the window, above the letter


def test_a_six_line_address_still_fits_the_window():
    letter = make_letter(target_address="Room 201\nOhio Statehouse\n1 Capitol Square\nColumbus, OH 43215")
    lines = placed_lines(letter_pdf(letter))
    assert next(y for text, _, y in lines if text == "Columbus, OH 43215") < 90


def test_a_template_that_prints_the_date_and_signs_prints_each_once():
    letter = make_letter(body="22 November 2026\n\n" + SIGNED_BODY)
    [text] = texts(letter_pdf(letter))
    assert text.count("22 November 2026") == 1
    assert text.count("Sincerely,") == 1
    assert text.count("Ada Lovelace") == 2  # the sender block at the top, and the signature: not a second one
    lines = placed_lines(letter_pdf(letter))
    signed = [y for t, _, y in lines if t == "Ada Lovelace"]
    sincerely = next(y for t, _, y in lines if t == "Sincerely,")
    assert signed[0] < 40 and signed[1] - sincerely > 12  # room to sign by hand between the two


def test_an_unsigned_text_is_signed_by_the_pdf_once():
    [text] = texts(letter_pdf(make_letter()))  # the body ends with "Sincerely," and no name
    assert text.count("Ada Lovelace") == 2 and text.count("22 November 2026") == 1
    assert text.rstrip().endswith("Ada Lovelace\nIllinois\nFund the libraries")


@pytest.mark.parametrize("stock", stock_templates(), ids=lambda t: t.name)
def test_every_stock_template_prints_date_address_and_signature_once(stock):
    context = sample_context()
    body = render(check_template(stock.body), context)
    letter = make_letter(
        signer_name=context.signer.full_name,
        signer_region=context.signer.region_name or "",
        target_name=context.target.name,
        target_title=context.target.title,
        target_address=context.target.postal_address,
        date_text=context.today,
        body=body,
    )
    [text] = texts(letter_pdf(letter))
    assert context.today not in body  # the template leaves the date to the PDF
    assert text.count(context.today) == 1
    assert text.count("1 Capitol Square") == 1  # the address block once, never again in the body
    name = context.signer.full_name
    assert is_signed(body, signer_name=name)  # the template signs: the PDF adds no second signature
    assert text.split(context.today)[1].count(name) == body.count(name)


def test_every_letter_of_a_bundle_is_laid_out_the_same_way():
    letters = [
        make_letter(signer_name="Ada Lovelace", body="22 November 2026\n\n" + SIGNED_BODY),
        make_letter(signer_name="Grace Hopper", signer_region="Virginia", body="Dear Senator,\n\nAct now."),
    ]
    pdf = bundle_pdf("Jane Q. Public", "Senator", "Fund the libraries", "22 November 2026", letters, constituents=2)
    cover, first, second = texts(pdf)
    assert "From 2 constituents" in cover
    assert first.count("22 November 2026") == 1 and first.count("Ada Lovelace") == 2
    assert second.count("Grace Hopper") == 2 and second.rstrip().endswith("Grace Hopper\nVirginia\nFund the libraries")
    for page in (1, 2):
        lines = placed_lines(pdf, page)
        assert 62 <= next(y for t, _, y in lines if t == "State Capitol") <= 90


def test_a_letter_without_any_address_or_date_still_prints():
    letter = replace(make_letter(), target_address="", target_title="", date_text="")
    [text] = texts(letter_pdf(letter))
    assert "Jane Q. Public" in text and "Keep the libraries open on weekends" in text
