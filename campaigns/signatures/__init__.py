"""Signatures: signing a campaign (``signing``), the counts the public watches (``counts``), paper imports,
comment moderation, email confirmation, flood control and its rules, bulk review, and the periodic upkeep."""
