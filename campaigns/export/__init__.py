"""Signer exports for coordinators: which people (``filters``), read from one snapshot (``snapshot``), the file
formats (``formats``) and signed download links (``links``)."""

__all__ = ["filters", "formats", "links", "snapshot"]
