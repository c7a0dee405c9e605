"""Spreading a campaign: its public address and share links for each channel (``links``), the copy and
native-share buttons with their script (``buttons``), the link-preview tags its share link's page carries
(``meta``) and the preview image they point at (``preview``)."""

__all__ = ["buttons", "links", "meta", "preview"]
