"""Spreading a campaign: its public address and share links for each channel (``links``), and the copy and
native-share buttons with their script (``buttons``)."""

__all__ = ["buttons", "links"]
