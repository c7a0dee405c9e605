"""Signatures: signing a campaign (``signing``), the counts the public watches (``counts``, kept by
``count_writes``), paper imports (``paper``), comment moderation, email confirmation, flood control and
its rules, bulk review, and the periodic upkeep."""

__all__ = [
    "confirmation",
    "count_writes",
    "counts",
    "flood",
    "moderation",
    "paper",
    "review",
    "rules",
    "signing",
    "upkeep",
]
