"""What came of a campaign: the target's responses (``responses``), the outcome and victories, and the response
threshold with progress toward it (``results``)."""

__all__ = ["responses", "results"]
