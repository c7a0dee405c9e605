"""Spreading a campaign: its public address and share links for each channel (``links``)."""

__all__ = ["links"]
