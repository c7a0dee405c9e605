"""Letters to decision-makers: organizer templates, checked and run in a sandbox (``templates``; ``context``,
``checks`` and ``sandbox`` are its insides), who letters go to (``targets``), delivering them (``outreach``), what
a delivery means (``deliveries``), PDFs (``pdf``, laid out by ``layout``) and the organizer's preview (``preview``)."""

__all__ = ["deliveries", "outreach", "pdf", "preview", "targets", "templates"]
