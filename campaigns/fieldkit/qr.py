"""A campaign's QR code: its share link with ``utm_source=qr`` (and a ``utm_medium`` saying where the code was
printed), as PNG, SVG, or the module matrix the PDFs draw as vector squares.

Signatures that came through a code show ``utm_source=qr`` in the export; ``utm_medium`` tells the poster
(``poster``), the signature sheet (``sheet``) and the image organizers put on their own flyers (``image``)
apart. Error correction is level M or better (segno raises it when that costs no extra size), so a code
still reads with a smudge or a fold; the quiet zone is segno's standard 4 modules.
"""

from __future__ import annotations

import io

import segno

from campaigns.sharing import links

MEDIUMS = ("image", "poster", "sheet")
PNG_SCALE = 16  # pixels per module: about 700 px square for a typical link, sharp on a printed A5 flyer
SVG_SCALE = 10  # user units per module; an SVG scales to any size anyway
QUIET_ZONE = 4  # modules of white around the code (the QR standard's minimum)


def qr_url(slug: str, *, medium: str = "image", light: bool = False) -> str:
    """The address a campaign's QR code opens: its share link (``light``: its spike mode), ``utm_source=qr``,
    ``utm_medium=medium``."""
    if medium not in MEDIUMS:
        raise ValueError(f"medium must be one of {MEDIUMS}, not {medium!r}")
    return links.share_url(slug, light=light, utm_source="qr", utm_medium=medium)


def make_code(url: str) -> segno.QRCode:
    """The QR code of ``url`` (never a Micro QR code: phones' cameras don't all read those)."""
    return segno.make_qr(url, error="m", boost_error=True)


def qr_png(slug: str, *, medium: str = "image", scale: int = PNG_SCALE, light: bool = False) -> bytes:
    """The campaign's QR code as a black-and-white PNG, ``scale`` pixels per module, quiet zone included."""
    out = io.BytesIO()
    make_code(qr_url(slug, medium=medium, light=light)).save(out, kind="png", scale=scale, border=QUIET_ZONE)
    return out.getvalue()


def qr_svg(slug: str, *, medium: str = "image", scale: int = SVG_SCALE, light: bool = False) -> bytes:
    """The campaign's QR code as a standalone SVG document (its title is the address it opens)."""
    url = qr_url(slug, medium=medium, light=light)
    out = io.BytesIO()
    make_code(url).save(out, kind="svg", scale=scale, border=QUIET_ZONE, xmldecl=True, title=url, encoding="utf-8")
    return out.getvalue()


def dark_runs(url: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The code of ``url`` as (size in modules, quiet zone left out; [(row, first column, length), ...] of its
    dark runs): what a PDF draws as filled rectangles, one per run, so it prints sharp at any size."""
    matrix = make_code(url).matrix
    runs: list[tuple[int, int, int]] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                runs.append((y, start, x - start))
            else:
                x += 1
    return len(matrix), runs
