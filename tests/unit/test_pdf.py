"""Letters as PDF: fonts for every script we ship, text kept literal, bundles page by page (no database)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace

import pytest
from pypdf import PdfReader

from campaigns.letters.pdf import LetterDoc, bundle_pdf, letter_pdf

MIXED_NAMES = "Zoë Ångström, Ольга, مريم, 山田 太郎"


def make_letter(**changes: str) -> LetterDoc:
    base = LetterDoc(
        campaign_title="Fund the libraries",
        signer_name="Ada Lovelace",
        signer_region="Illinois",
        target_name="Jane Q. Public",
        target_title="Senator",
        target_address="State Capitol\nSpringfield, IL 62706",
        date_text="22 November 2026",
        subject="Keep the libraries open on weekends",
        body="Dear Senator,\n\nPlease keep the branch libraries open on weekends.\n\nSincerely,",
    )
    return replace(base, **changes)


def read(pdf: bytes) -> PdfReader:
    assert pdf.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(pdf))


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in read(pdf).pages]


def test_names_in_latin_cyrillic_arabic_and_cjk_with_emoji_print_and_extract():
    letter = make_letter(
        signer_name="Zoë Ångström",
        signer_region="Île-de-France",
        body=f"Dear Senator,\n\nWe sign together: {MIXED_NAMES} 😀🎉\n\nОльга\n\nمريم\n\n山田 太郎",
    )
    pdf = letter_pdf(letter)
    reader = read(pdf)
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    for name in ("Zoë Ångström", "Ольга", "山田 太郎", "Île-de-France"):
        assert name in text
    assert set("مريم") <= set(text)  # shaped right to left: the order extracted may differ
    assert b"DroidSansFallback" in pdf  # the CJK fallback font was embedded


def test_arabic_and_hebrew_signers_render():
    for name in ("مريم الحسن", "דוד כהן"):
        pdf = letter_pdf(make_letter(signer_name=name, body=f"My name is {name} and I live in Springfield.\n\n{name}"))
        assert len(read(pdf).pages) == 1


def test_latin_only_letter_does_not_embed_the_cjk_font():
    pdf = letter_pdf(make_letter())
    assert b"DejaVuSans" in pdf
    assert b"DroidSansFallback" not in pdf


def test_emoji_no_font_has_are_dropped_and_the_words_around_them_kept():
    pdf = letter_pdf(make_letter(body="party 🎉 🇺🇸 👩‍👩‍👧 time 👍🏽 ok\x07 done"))
    text = page_texts(pdf)[0]
    assert "party time ok done" in text
    assert "🎉" not in text


def test_unsupported_script_does_not_crash():
    assert len(read(letter_pdf(make_letter(signer_name="प्रिया शर्मा 김민수"))).pages) == 1


def test_subject_target_date_and_signer_appear_and_metadata_is_set():
    pdf = letter_pdf(make_letter())
    text = page_texts(pdf)[0]
    for part in ("Keep the libraries open on weekends", "Jane Q. Public", "Senator", "Springfield, IL 62706"):
        assert part in text
    assert "22 November 2026" in text and "Ada Lovelace" in text and "Illinois" in text
    meta = read(pdf).metadata
    assert meta is not None
    assert meta.title == "Keep the libraries open on weekends"
    assert meta["/Creator"] == "Rally"


def test_markup_in_the_body_is_printed_literally():
    body = "This is **not bold** and <b>html</b> and __not__ and {nb} and [x](https://e.org)."
    text = page_texts(letter_pdf(make_letter(body=body)))[0]
    assert "**not bold**" in text
    assert "<b>html</b>" in text
    assert "__not__" in text and "{nb}" in text and "[x](https://e.org)" in text


def test_empty_address_and_empty_body_are_fine():
    assert len(read(letter_pdf(make_letter(target_address="", body=""))).pages) == 1


def long_body(paragraphs: int = 40) -> str:
    sentence = "Weekend hours matter for working families who cannot visit during the week. "
    return "\n\n".join(f"Paragraph {i}. " + sentence * 6 for i in range(paragraphs)) + "\n\nTHE-END-MARKER"


def test_a_long_body_continues_onto_following_pages():
    texts = page_texts(letter_pdf(make_letter(body=long_body())))
    assert len(texts) >= 3
    assert "Paragraph 0." in texts[0]
    assert "THE-END-MARKER" in texts[-1] and "Ada Lovelace" in texts[-1]
    assert "Ada Lovelace to Jane Q. Public, page 2" in texts[1]  # continuation header


def test_a_word_longer_than_a_line_is_cut_not_lost():
    word = "x" * 300
    text = page_texts(letter_pdf(make_letter(body=f"see {word} end")))[0]
    assert text.replace("\n", "").count("x") >= 300
    assert "end" in text


def letters(n: int, *, long_every: int = 0) -> Iterator[LetterDoc]:
    names = ["Zoë Ångström", "Ольга Иванова", "مريم الحسن", "山田 太郎", "José García"]
    for i in range(n):
        body = long_body(30) if long_every and i % long_every == 0 else f"Letter number {i}.\n\nSincerely,"
        yield make_letter(signer_name=f"{names[i % len(names)]} {i}", body=body)


def test_bundle_has_a_cover_then_one_page_per_letter():
    pdf = bundle_pdf(
        "Jane Q. Public", "Senator", "Fund the libraries", "22 November 2026", letters(25), constituents=1234
    )
    texts = page_texts(pdf)
    assert len(texts) == 1 + 25
    cover = texts[0]
    assert "1,234 constituents" in cover
    assert "Jane Q. Public" in cover and "Fund the libraries" in cover and "22 November 2026" in cover
    for i, text in enumerate(texts[1:]):
        assert f"Letter number {i}." in text
    meta = read(pdf).metadata
    assert meta is not None and meta["/Creator"] == "Rally"


def test_bundle_long_letters_take_more_pages_and_the_next_letter_starts_a_new_page():
    pdf = bundle_pdf("Jane Q. Public", "Senator", "Fund", "today", letters(4, long_every=2), constituents=4)
    texts = page_texts(pdf)
    assert len(texts) > 1 + 4
    starts = [i for i, text in enumerate(texts) if "22 November 2026" in text and i > 0]
    assert len(starts) == 4
    assert "Letter number 1." in texts[starts[1]]


def test_bundle_reports_progress_every_hundred_letters_and_at_the_end():
    calls: list[int] = []
    pdf = bundle_pdf("Jane", "Senator", "Fund", "today", letters(205), constituents=205, on_progress=calls.append)
    assert calls == [100, 200, 205]
    assert len(read(pdf).pages) == 206


def test_bundle_takes_any_iterable_once_and_an_empty_one():
    consumed: list[int] = []

    def gen() -> Iterator[LetterDoc]:
        for i, letter in enumerate(letters(3)):
            consumed.append(i)
            yield letter

    pdf = bundle_pdf("Jane", "Senator", "Fund", "today", gen(), constituents=3)
    assert consumed == [0, 1, 2] and len(read(pdf).pages) == 4
    calls: list[int] = []
    empty = bundle_pdf("Jane", "Senator", "Fund", "today", iter(()), constituents=0, on_progress=calls.append)
    assert len(read(empty).pages) == 1 and calls == []


@pytest.mark.parametrize("constituents, words", [(1, "1 constituent"), (10_000, "10,000 constituents")])
def test_cover_counts_constituents(constituents: int, words: str):
    cover = page_texts(bundle_pdf("Jane", "Senator", "Fund", "today", [], constituents=constituents))[0]
    assert words in cover
    assert ("constituents" in cover) == (constituents != 1)
