"""The light page turns the shared wording's markdown (bold, site links) into HTML, and a person's text in it
(a signer's name, a region's name) stays text: no tag, no bold, no link of its own."""

from __future__ import annotations

import pytest

from campaigns.signatures import wording
from campaigns.signatures.signing import SignResult
from campaigns.web.light import escape_text, markup

HOSTILE = [
    ("[Click me](//evil.example/steal)", "&#91;Click me&#93;(//evil.example/steal)"),
    ("[x](/my-data?receipt=abc)", "&#91;x&#93;(/my-data?receipt=abc)"),
    ("**loud**", "&#42;&#42;loud&#42;&#42;"),
    ('<img src=x onerror="alert(1)">', "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"),
]


@pytest.mark.parametrize(("name", "shown"), HOSTILE)
def test_a_hostile_name_in_the_thank_you_stays_text(name, shown):
    done = SignResult(campaign_slug="c", full_name=name, region_code="OH", region_name="Ohio", total=2, created=True)
    said = wording.thank_you(done, escape=escape_text, confirm_link_days=7)
    headline = markup(said.headline)
    assert headline == f"Thank you, {shown}. Your name is on it."
    assert "<a " not in headline and "<strong>" not in headline and "<img" not in headline


def test_the_wordings_own_bold_and_site_links_become_html():
    assert markup(wording.NEXT_STEP).startswith("<strong>Next: bring three more people.</strong>")
    assert '<a href="/my-data">See, withdraw or erase your signature</a>' in markup(wording.CHANGED_MIND)
