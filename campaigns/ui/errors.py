"""How pages show what went wrong: a known error (``RallyError``) as its message where it happened, anything else
as a short apology, with the detail in the log."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from campaigns.core.errors import InvalidInput, RallyError, StorageError

log = logging.getLogger("campaigns.ui")
APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."


class Failure:
    """What a ``shown`` block caught: true once the block failed (its message is on the page already)."""

    def __init__(self) -> None:
        self.error: RallyError | None = None

    def __bool__(self) -> bool:
        return self.error is not None


@contextmanager
def shown(
    where: Any = None, *, each_field: bool = False, label: Callable[[str], str] | None = None
) -> Iterator[Failure]:
    """Show a known error of the block with ``st.error`` where the block is (or in ``where``, a placeholder), and
    carry on after it; the ``Failure`` it yields then says whether the block failed.

    The message is ``user_message``; for ``InvalidInput`` with ``each_field``, each field's own message, after
    ``label(field)`` when given. A ``StorageError``'s detail goes to the log as well. Any other exception is no
    known error: it goes on up, to ``friendly_errors`` (the apology).
    """
    failure = Failure()
    try:
        yield failure
    except RallyError as exc:
        failure.error = exc
        if isinstance(exc, StorageError):  # an operator must act: the detail to the log, the apology to the person
            log.error("database unavailable: %s", exc.detail)
        target = st if where is None else where
        if isinstance(exc, InvalidInput) and (each_field or label):
            for field, message in exc.errors.items():
                target.error(f"{label(field)}: {message}" if label else message)
        else:
            target.error(exc.user_message)


@contextmanager
def caught() -> Iterator[Failure]:
    """For a widget's callback, which runs before the page and must not draw: the block's error is kept in the
    ``Failure`` it yields (``message``: what to show the person) for the page to show where it belongs. A known
    error as ``shown`` treats it; anything else is logged and becomes the apology."""
    failure = Failure()
    try:
        yield failure
    except RallyError as exc:
        failure.error = exc
        if isinstance(exc, StorageError):
            log.error("database unavailable: %s", exc.detail)
    except Exception:
        log.exception("page callback failed")
        failure.error = RallyError(APOLOGY)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Known errors become their message (``shown``); anything else is logged and shown as a short apology."""
    try:
        with shown():
            yield
    except Exception:
        log.exception("page failed")
        st.error(APOLOGY)
