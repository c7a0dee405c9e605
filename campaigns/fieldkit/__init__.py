"""The field kit for events and doors: a campaign's QR code (PNG, SVG), a printable poster, and a paper
signature sheet (PDF, and its blank CSV) whose columns are the paper-signature import's."""

__all__ = ["kit", "poster", "qr", "sheet"]
