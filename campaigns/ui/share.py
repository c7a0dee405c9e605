"""Sharing a campaign, after signing and on its page: the link with a visible *Copy link* button, the phone's own
share sheet where the browser has one, and a link per channel (email, WhatsApp, Telegram, X, Bluesky). Every
link carries its own ``utm_source`` (``sharing/links.py``), so organizers see which channel brings signers back.
"""

from __future__ import annotations

import streamlit as st

from campaigns.core.models import CampaignPublic
from campaigns.sharing import buttons, links

ICONS = {
    "email": ":material/mail:",
    "whatsapp": ":material/chat:",
    "telegram": ":material/send:",
    "x": ":material/alternate_email:",
    "bluesky": ":material/cloud:",
}


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
    with st.container(horizontal=True, gap="small", key=f"share-{medium}"):
        for channel, _label in links.INTENTS:
            target = targets[channel]
            st.link_button(target.label, target.url, icon=ICONS[channel])


def render_copy_box(url: str, *, label: str, key: str, button: str, copied: str) -> None:
    """A link that is not shared (a signer's receipt) in a field with a visible copy ``button``."""
    box = buttons.copy_box_html(url=url, label=label, key=key, button=button, copied=copied)
    st.html(box, unsafe_allow_javascript=True)  # escaped in sharing/buttons.py; the script is this site's own file
