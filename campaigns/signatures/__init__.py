"""Signatures: signing a campaign (``signing``), the counts the public watches (``counts``, kept by
``count_writes``), paper imports (``paper``; its columns and row checks in ``paper_rows``), comment
moderation and the campaign page's wall of comments (``wall``), email confirmation, flood control and its rules,
bulk review, the periodic upkeep, and what both sign pages say (``wording``)."""

__all__ = [
    "confirmation",
    "count_writes",
    "counts",
    "flood",
    "moderation",
    "paper",
    "paper_rows",
    "review",
    "rules",
    "signing",
    "upkeep",
    "wall",
    "wording",
]
