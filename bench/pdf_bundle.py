"""PDF bundle: one target's letters as one PDF (``campaigns.letters.pdf.bundle_pdf``), against plain fpdf2.

Letters are realistic: about 250 words in 4 paragraphs built from a pool of sentences, signed by
names in Latin (with accents), Cyrillic, Greek, Arabic, Hebrew, Chinese and Japanese (about a quarter
non-Latin), and mentioned in the first paragraph, so some paragraphs need HarfBuzz shaping and some
the CJK fallback font. They come from a generator, as an export streams them from the database.

* bundle_pdf            the timed run: cover + one page per letter; seconds, letters/s, the process's
                        peak RSS (``ru_maxrss``) before and after, PDF size;
* bundle_pdf (traced)   runs of 5 letters and of a smaller count under ``tracemalloc``: the peak Python
                        allocation of each, so the fixed cost (fonts) and what each letter adds;
* naive fpdf2           the baseline: the same letters with fpdf2 used plainly (fallback fonts always
                        on, ``multi_cell`` per paragraph, no shaping) on a smaller count.

Then ``letter_pdf`` for one letter: Latin only, with an Arabic signer, with a CJK signer.

Target: 10,000 letters in under 60 s (the quick run projects its rate to 10,000).
"""

from __future__ import annotations

import random
import resource
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace

from bench.common import FIRST, LAST, SCHEME_ID, Options, fmt_ms, fmt_rate, median, print_table
from campaigns.core.fonts import FONT_BOLD, FONT_CJK, FONT_REGULAR
from campaigns.letters.pdf import LetterDoc, bundle_pdf, letter_pdf
from campaigns.regions.schemes import get_scheme

NAME = "pdf_bundle"
TARGET_LETTERS = 10_000
TARGET_SECONDS = 60.0
TARGET = ("Jane Q. Public", "Senator", "State Capitol\nRoom 123\nSpringfield, IL 62706")
CAMPAIGN = "Fund the libraries"
DATE = "22 November 2026"
SUBJECT = "Keep our branch libraries open on weekends"

NON_LATIN = (
    "Ольга Иванова",
    "Дмитрий Смирнов",
    "Γιώργος Παπαδόπουλος",
    "مريم الحسن",
    "محمد عبد الله",
    "דוד כהן",
    "山田 太郎",
    "王小明",
    "佐藤 花子",
    "Nguyễn Thị Lan",
)
SENTENCES = (
    "Libraries are where our communities meet, learn and grow.",
    "Weekend hours matter for working families who cannot visit during the week.",
    "My children learned to read at our local branch, and the staff there are wonderful.",
    "Closing on weekends would hurt students, seniors and job seekers the most.",
    "The branch near my home is the only place with free internet for many of my neighbours.",
    "Every Saturday the reading room is full, and the homework club has a waiting list.",
    "A library card is the best value anyone in this state gets for their taxes.",
    "Please fund the branch libraries fully in the next budget.",
    "I have volunteered at the book sale for six years, and I see how much people rely on it.",
    "Cutting hours now would cost far more later in lost literacy and lost opportunity.",
    "Our librarians help people apply for jobs, file their taxes and learn new skills.",
    "When the library closed early last winter, the children had nowhere warm to study.",
    "I urge you to vote for the amendment that restores weekend opening.",
    "This matters to me, to my family, and to everyone on my street.",
)


def letters(n: int, seed: int = 5) -> Iterator[LetterDoc]:
    """``n`` letters of about 250 words, made one at a time."""
    rng = random.Random(seed)
    regions = [r.name for r in get_scheme(SCHEME_ID).regions]
    name_, title, address = TARGET
    for _ in range(n):
        if rng.random() < 0.25:
            name = rng.choice(NON_LATIN)
        else:
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        region = rng.choice(regions)
        paragraphs = [f"Dear {title} {name_.split()[-1]},"]
        paragraphs.append(
            f"My name is {name} and I live in {region}. " + " ".join(rng.choice(SENTENCES) for _ in range(5))
        )
        paragraphs += [" ".join(rng.choice(SENTENCES) for _ in range(5)) for _ in range(2)]
        paragraphs.append("Thank you for your time and for your service. " + rng.choice(SENTENCES))
        paragraphs.append("Sincerely,")
        yield LetterDoc(CAMPAIGN, name, region, name_, title, address, DATE, SUBJECT, "\n\n".join(paragraphs))


def _build(n: int) -> tuple[float, bytes]:
    name, title, _ = TARGET
    started = time.perf_counter()
    pdf = bundle_pdf(name, title, CAMPAIGN, DATE, letters(n), constituents=n)
    return time.perf_counter() - started, pdf


def _naive(n: int) -> tuple[float, bytes]:
    """The baseline: fpdf2 as its docs show it, one multi_cell per paragraph, fallback fonts always on."""
    from fpdf import FPDF

    started = time.perf_counter()
    pdf = FPDF(format="A4")
    pdf.add_font("dejavu", "", FONT_REGULAR)
    pdf.add_font("dejavu", "B", FONT_BOLD)
    pdf.add_font("droid", "", FONT_CJK)
    pdf.set_fallback_fonts(["droid"], exact_match=False)
    for letter in letters(n):
        pdf.add_page()
        pdf.set_font("dejavu", "", 11)
        for text in (letter.date_text, letter.target_name, letter.target_title, letter.target_address):
            pdf.multi_cell(0, 5.6, text, markdown=False, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("dejavu", "B", 11)
        pdf.multi_cell(0, 5.6, letter.subject, markdown=False, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("dejavu", "", 11)
        for paragraph in letter.body.split("\n\n"):
            pdf.multi_cell(0, 5.6, paragraph, markdown=False, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 5.6, f"{letter.signer_name}\n{letter.signer_region}", markdown=False)
    out = bytes(pdf.output())
    return time.perf_counter() - started, out


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run(opts: Options) -> None:
    n = 300 if opts.quick else TARGET_LETTERS
    small = 100 if opts.quick else 1_000  # the naive baseline
    traced_n = 50 if opts.quick else 300  # tracemalloc slows fpdf2 and fontTools about tenfold
    print(f"\n== {NAME}: a bundle of {n:,} letters of ~250 words, mixed-script names; baseline on {small:,} ==")
    started = time.perf_counter()
    _build(5)  # warm-up: imports, font coverage, width caches

    rss_before = _rss_mb()
    seconds, pdf = _build(n)
    rss_after = _rss_mb()
    rows: list[list[object]] = []
    projected = seconds * TARGET_LETTERS / n
    verdict = "PASS" if projected < TARGET_SECONDS else "MISS"
    rows.append(
        [
            "bundle_pdf",
            f"{n:,}",
            f"{seconds:.1f}",
            fmt_rate(n / seconds),
            f"{rss_before:.0f} → {rss_after:.0f}",
            "",
            f"{len(pdf) / 1e6:.1f}",
            f"{len(pdf) / n / 1e3:.1f}",
            f"{projected:.0f} s {verdict}",
        ]
    )
    del pdf

    peaks = []
    for size in (5, traced_n):  # the fixed cost (fonts parsed and subset), then what each letter adds
        tracemalloc.start()
        traced_seconds, traced = _build(size)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    per_letter = (peaks[1] - peaks[0]) / (traced_n - 5)
    rows.append(
        [
            "bundle_pdf (tracemalloc)",
            f"5 / {traced_n:,}",
            "",
            "",
            "",
            f"{peaks[0] / 1e6:.1f} / {peaks[1] / 1e6:.1f} (+{per_letter / 1e3:.1f} kB/letter)",
            f"{len(traced) / 1e6:.1f}",
            f"{len(traced) / traced_n / 1e3:.1f}",
            "",
        ]
    )
    del traced, traced_seconds

    naive_seconds, naive = _naive(small)
    naive_projected = naive_seconds * TARGET_LETTERS / small
    rows.append(
        [
            "naive fpdf2 (baseline)",
            f"{small:,}",
            f"{naive_seconds:.1f}",
            fmt_rate(small / naive_seconds),
            "",
            "",
            f"{len(naive) / 1e6:.1f}",
            f"{len(naive) / small / 1e3:.1f}",
            f"{naive_projected:.0f} s {'PASS' if naive_projected < TARGET_SECONDS else 'MISS'}",
        ]
    )
    print_table(
        f"PDF bundle (one target's letters; target: {TARGET_LETTERS:,} letters in < {TARGET_SECONDS:.0f} s)",
        [
            "build",
            "letters",
            "seconds",
            "letters/s",
            "peak RSS MB",
            "tracemalloc peak MB",
            "PDF MB",
            "kB/letter",
            f"{TARGET_LETTERS:,} letters",
        ],
        rows,
    )
    _single_letters(repeats=3 if opts.quick else 9)
    print(f"  ({NAME} took {time.perf_counter() - started:.0f} s)")


def _single_letters(repeats: int) -> None:
    """``letter_pdf`` for one letter: each document parses its own fonts (fpdf2 subsets them in place)."""
    latin = next(letters(1))
    cases = [
        ("Latin-only letter", latin),
        ("Arabic signer (shaping)", replace(latin, signer_name="مريم الحسن")),
        ("CJK signer (+ Droid Sans Fallback)", replace(latin, signer_name="山田 太郎")),
    ]
    rows = []
    for label, letter in cases:
        times, size = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            size = len(letter_pdf(letter))
            times.append(time.perf_counter() - started)
        rows.append([label, fmt_ms(median(times)), fmt_ms(max(times)), f"{size / 1e3:.0f}"])
    print_table(f"One letter (letter_pdf, ms, median and max of {repeats})", ["letter", "p50", "max", "PDF kB"], rows)
