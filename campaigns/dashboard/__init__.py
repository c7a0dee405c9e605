"""What the live dashboard (``live``) and the organizers' overview (``overview``) show, read from the
aggregate rows."""

__all__ = ["live", "overview"]
