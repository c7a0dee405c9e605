"""Signer exports for coordinators: which people (``filters``), read from one snapshot (``snapshot``), the file
formats (``formats``, CSV lines made in ``csv_lines``, the XLSX
sheet in ``xlsx_sheet``) and signed download links (``links``)."""

__all__ = ["csv_lines", "filters", "formats", "links", "snapshot", "xlsx_sheet"]
