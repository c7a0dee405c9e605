"""Signer exports for coordinators: which people, read from one snapshot (``snapshot``), the file formats
(``formats``) and signed download links (``links``)."""
