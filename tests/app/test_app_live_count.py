"""The public page's live count, with AppTest against a real database (the embed widget is no Streamlit page any
more: tests/http/test_http_embed.py)."""

from __future__ import annotations

import pytest

from campaigns.core.db import run_write
from campaigns.signatures.signing import sign
from campaigns.ui import reads
from tests.support.factories import make_campaign, signer

pytestmark = pytest.mark.apptest


# --- the public campaign page: its count refreshes itself, the form stays outside -----------------


def test_public_page_count_says_when_it_was_updated_and_follows_new_signatures(app, engine):
    make_campaign(engine, slug="libraries", goal=10)
    at = app(campaign="libraries")
    assert not at.exception
    assert at.get("progress")[0].proto.text == "**0** of 10 signatures"
    assert "Updated at" in at.caption[0].value and "See signatures by region" in at.caption[0].value
    for _ in range(5):
        run_write(engine, lambda s: sign(session=s, campaign_slug="libraries", signer=signer()))
    reads.forget_public_reads()
    at.run()
    assert at.get("progress")[0].proto.text == "**5** of 10 signatures"
    assert "Halfway to the goal" in at.success[0].value
    assert [b.label for b in at.button if b.label == "Sign the campaign"]  # the form is still there, outside


def test_signer_sees_their_own_signature_counted_even_before_the_cache_refreshes(app, engine):
    from tests.app.test_app_pages import fill_form

    make_campaign(engine, slug="libraries", goal=10)
    at = app(campaign="libraries")  # the cached page says 0 for the next few seconds
    at = fill_form(at)
    assert not at.exception and "Thank you, Rosa Parks" in at.success[0].value
    assert at.get("progress")[0].proto.text == "**1** of 10 signatures"
