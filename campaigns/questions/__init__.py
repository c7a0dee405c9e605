"""Asking a campaign's signers a question: the question (``asking``), one answer per signature (``answering``,
its counts kept by ``tally``), the results by option and region (``results``), the free-text answers' moderation
(``free_text``) and the signed per-recipient answer link (``links``)."""

__all__ = ["answering", "asking", "free_text", "links", "results", "tally"]
