"""Campaigns themselves: creating them, the checks every campaign passes and finding them as the public or staff
may see them, with the one rule for what the public sees and for progress toward a goal (``listing``); running
them through their life: edits, the letter, status changes (``lifecycle``); a new campaign's next steps
(``checklist``)."""

__all__ = ["checklist", "lifecycle", "listing"]
