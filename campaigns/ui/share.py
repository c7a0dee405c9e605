"""Sharing a campaign, after signing and on its page: the link with a visible *Copy link* button, the phone's own
share sheet where the browser has one, and a link per channel (email, WhatsApp, Telegram, X, Bluesky). Every
link carries its own ``utm_source`` (``sharing/links.py``), so organizers see which channel brings signers back.
"""

from __future__ import annotations

from urllib.parse import quote

import streamlit as st

from campaigns.core.models import CampaignPublic
from campaigns.sharing import buttons, links


def render(page: CampaignPublic, *, medium: str) -> None:
    """The share buttons for ``page``; ``medium`` is the ``utm_medium`` of every link (who shared it)."""
    targets = {
        target.channel: target
        for target in links.share_targets(page.slug, page.title, medium=medium, light=page.light_share_link)
    }
    box = buttons.share_box_html(
        copy_url=targets[links.COPY].url,
        native_url=targets[links.NATIVE].url,
        title=page.title,
        key=f"{page.slug}-{medium}",
    )
    st.html(box, unsafe_allow_javascript=True)  # escaped in sharing/buttons.py; the script is this site's own file
    with st.container(key=f"share-{medium}"):  # the links look like buttons (widgets.apply_style)
        st.markdown(channel_links([targets[channel] for channel, _label in links.INTENTS]))


def channel_links(targets: list[links.ShareTarget]) -> str:
    """Every channel's link in one markdown element (one element on the page instead of a button each: drawn on
    every sign-on). Each URL is percent-encoded, so in ``<...>`` it can't end the link early; Streamlit opens a
    markdown link in a new tab, as it did the buttons."""
    return " ".join(f"[{target.label}](<{_no_markup(target.url)}>)" for target in targets)


def _no_markup(url: str) -> str:
    """The URL with nothing markdown (or a shortcode) could read in it: characters outside a URL's own set are
    percent-encoded (they already are, by sharing/links.py; this keeps it true)."""
    return "".join(ch if ch.isascii() and ch.isprintable() and ch not in " <>`" else quote(ch) for ch in url)


def render_copy_box(url: str, *, label: str, key: str, button: str, copied: str) -> None:
    """A link that is not shared (a signer's receipt) in a field with a visible copy ``button``."""
    box = buttons.copy_box_html(url=url, label=label, key=key, button=button, copied=copied)
    st.html(box, unsafe_allow_javascript=True)  # escaped in sharing/buttons.py; the script is this site's own file
