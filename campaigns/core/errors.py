"""Domain errors: each carries a message a person can act on.

Services raise these; pages catch ``RallyError`` and show ``user_message`` next to
the place the person must fix (``field`` names that place when there is one).
Anything else is a bug: it is logged with context and shown as a short apology.
"""

from __future__ import annotations


class RallyError(Exception):
    """A known failure with a message fit to show to the person who caused it."""

    def __init__(self, user_message: str, *, field: str | None = None) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.field = field
        # What an operator reads (the log, the command line); only StorageError says more than user_message.
        self.detail = user_message


class InvalidInput(RallyError):
    """One or more fields are wrong; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        if not errors:
            raise ValueError("InvalidInput needs at least one error")
        first_field, first_message = next(iter(errors.items()))
        super().__init__(first_message, field=first_field)
        self.errors = dict(errors)


class NotFound(RallyError):
    """The thing asked for does not exist, or is not visible to this person."""


class CampaignNotFound(NotFound):
    """``shown=False`` for text from a link that cannot be a slug at all: the message does not repeat it."""

    def __init__(self, slug: str, *, shown: bool = True) -> None:
        where = f"a campaign at “{slug}”" if shown else "a campaign at that address"
        super().__init__(f"We couldn't find {where}. Check the link, or browse all campaigns.")
        self.slug = slug
        self.shown = shown


class CampaignClosed(RallyError):
    """The campaign no longer accepts signatures (closed, or past its deadline)."""


class UnknownRegionScheme(NotFound):
    def __init__(self, scheme_id: str) -> None:
        super().__init__(f"There is no region scheme called “{scheme_id}”.")
        self.scheme_id = scheme_id


class StorageError(RallyError):
    """The database cannot be opened or written: an operator has to act.

    ``detail`` says what to fix (the folder, the database URL, the server's answer): it goes to the log and
    the command line. ``user_message``, what pages show to whoever was using Rally, is a short apology that
    names no path or address.
    """

    APOLOGY = (
        "Sorry, Rally can't reach its database right now, so nothing could be saved or shown. "
        "Please try again in a few minutes."
    )

    def __init__(self, detail: str, *, user_message: str | None = None) -> None:
        super().__init__(user_message or self.APOLOGY)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class StorageBusy(RallyError):
    """The database stayed locked through every retry: the person may simply try again."""

    def __init__(self) -> None:
        super().__init__(
            "So many people are signing right now that we couldn't save yours. "
            "Nothing was saved: please press the button again in a moment."
        )
