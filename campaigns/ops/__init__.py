"""Running Rally: several app processes behind HAProxy on one PostgreSQL database, started and stopped together
(`python -m campaigns cluster`)."""

__all__ = ["cluster"]
