"""Letters to decision-makers: organizer templates, checked and run in a sandbox (``templates``; ``context``,
``checks`` and ``sandbox`` are its insides), who letters go to (``targets``), delivering them (``outreach``), what
a delivery means (``deliveries``) and PDFs (``pdf``)."""

__all__ = ["deliveries", "outreach", "pdf", "targets", "templates"]
