"""Links and sharing under AppTest (real database): the campaign list's real links, and the share buttons on the
campaign page and after signing, each channel's link with its own utm_source. The browser's side (the links'
href, the copy button, the share sheet) is in tests/e2e/test_e2e_sharing.py."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from campaigns.core.settings import override_settings
from tests.app.test_app_pages import fill_form
from tests.support.factories import make_campaign

pytestmark = pytest.mark.apptest

PUBLIC = "https://rally.example.org"
CHANNELS = ("email", "whatsapp", "telegram", "x", "bluesky")


def page_links(at) -> list[tuple[str, str, str]]:
    return [(link.proto.label, link.proto.page, link.proto.query_string) for link in at.get("page_link")]


SHARE_LINK = re.compile(r"\[([^\]]+)\]\(<([^>]+)>\)")


def share_buttons(at) -> dict[str, str]:
    """Label -> URL of the share links (one markdown element of links, drawn as buttons)."""
    return {label: url for md in at.markdown for label, url in SHARE_LINK.findall(md.value)}


def share_box(at) -> str:
    [box] = [h.proto for h in at.get("html") if "data-rally-native" in h.proto.body]  # not the receipt's copy box
    assert box.unsafe_allow_javascript  # its script is the site's own file (sharing/buttons.py)
    return box.body


def utm(url: str) -> dict[str, str]:
    """The query of the share link ``url`` is, or (an intent URL) carries in one of its parameters."""
    if not url.startswith(PUBLIC):
        values = [v for vs in parse_qs(urlsplit(url).query).values() for v in vs if PUBLIC in v]
        assert len(values) == 1, url
        url = values[0].split()[-1]  # the link ends the shared text ("Title https://...")
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_every_campaign_on_the_list_is_a_link_to_its_share_url(app, engine):
    make_campaign(engine, title="Open libraries", slug="open-libraries")
    make_campaign(engine, title="Clean rivers", slug="clean-rivers", status="closed")
    at = app()
    assert not at.exception
    assert sorted(page_links(at)) == [
        ("Read and sign", "", "campaign=open-libraries"),  # page "" is the list's own address: /?campaign=...
        ("See the result", "", "campaign=clean-rivers"),
    ]
    assert not [b for b in at.button if b.label in ("Read and sign", "See the result")]  # no button and rerun


def test_the_campaign_page_links_back_to_the_list_and_offers_every_way_to_share(app, engine):
    make_campaign(engine, slug="rivers", title='Rivers & "seas"')
    with override_settings(public_url=PUBLIC):
        at = app(campaign="rivers")
    assert not at.exception
    assert ("All campaigns", "", "campaign=") in page_links(at)  # "?campaign=" (blank) is the list
    buttons = share_buttons(at)
    assert list(buttons) == ["Email", "WhatsApp", "Telegram", "X", "Bluesky"]
    for (label, url), channel in zip(buttons.items(), CHANNELS, strict=True):
        assert utm(url) == {"campaign": "rivers", "utm_source": channel, "utm_medium": "page"}, label
    box = share_box(at)
    copy = f"{PUBLIC}/?campaign=rivers&utm_source=copy&utm_medium=page"
    assert f'value="{html.escape(copy)}"' in box and f'data-rally-copy="{html.escape(copy)}"' in box
    assert 'data-rally-title="Rivers &amp; &quot;seas&quot;"' in box  # the title is data, escaped
    assert html.escape(f"{PUBLIC}/?campaign=rivers&utm_source=native&utm_medium=page") in box


def test_after_signing_the_thank_you_has_the_share_buttons_for_the_supporter(app, engine):
    make_campaign(engine, slug="rivers", goal=10)
    with override_settings(public_url=PUBLIC):
        at = fill_form(app(campaign="rivers"))
    assert not at.exception and "Thank you, Rosa Parks" in at.success[0].value
    for url, channel in zip(share_buttons(at).values(), CHANNELS, strict=True):
        assert utm(url)["utm_source"] == channel and utm(url)["utm_medium"] == "supporter"
    box = share_box(at)
    assert html.escape(f"{PUBLIC}/?campaign=rivers&utm_source=copy&utm_medium=supporter") in box
    assert [h for h in at.subheader if h.value == "Share this campaign"] == []  # once, in the thank-you


def test_a_share_link_brings_its_channel_into_the_signature(app, engine):
    """The loop closes: someone arriving through a WhatsApp share link signs with utm_source=whatsapp."""
    from sqlalchemy import select

    from campaigns.core.db import read_session
    from campaigns.core.models import Signature

    make_campaign(engine, slug="rivers", goal=10)
    with override_settings(public_url=PUBLIC):
        shared = share_buttons(app(campaign="rivers"))["WhatsApp"]
    arrived = utm(shared)
    at = fill_form(app(**arrived), email="friend@example.org")
    assert not at.exception
    with read_session(engine) as session:
        row = session.execute(select(Signature).where(Signature.email == "friend@example.org")).scalar_one()
    assert (row.utm_source, row.utm_medium) == ("whatsapp", "page")


def _preview_page() -> None:
    """The editor's Preview tab, alone (run by AppTest.from_function in its own script)."""
    from campaigns.catalog import listing
    from campaigns.core.db import get_engine, read_session
    from campaigns.ui import public

    with read_session(get_engine()) as session:
        page = listing.get_campaign_page(session=session, slug="rivers")
    public.render_campaign_view(page, preview=True)


def test_the_organizers_preview_has_no_share_buttons(engine, default_settings):
    """Sharing is for the published page: the preview inside the editor shows the page without them."""
    from streamlit.testing.v1 import AppTest

    from tests.support.apptest import point_app_at

    make_campaign(engine, slug="rivers")
    point_app_at(engine, default_settings)
    at = AppTest.from_function(_preview_page, default_timeout=30).run()
    assert not at.exception, at.exception
    assert "Sign the campaign" in [b.label for b in at.button]  # the page is there, the form inert
    assert not share_buttons(at) and not at.get("html")
