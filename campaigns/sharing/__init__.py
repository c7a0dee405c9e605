"""Spreading a campaign: its public address and share links for each channel (``links``), the link-preview tags
its share link's page carries (``meta``) and the preview image they point at (``preview``)."""

__all__ = ["links", "meta", "preview"]
