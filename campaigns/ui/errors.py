"""How pages show what went wrong: a known error (``RallyError``) as its message, anything else as a short
apology, with the detail in the log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from campaigns.core.errors import RallyError, StorageError

log = logging.getLogger("campaigns.ui")


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Known errors become their message; anything else is logged and shown as a short apology."""
    try:
        yield
    except StorageError as exc:  # an operator must act: the detail goes to the log, the visitor gets the apology
        log.error("database unavailable: %s", exc.detail)
        st.error(exc.user_message)
    except RallyError as exc:
        st.error(exc.user_message)
    except Exception:
        log.exception("page failed")
        st.error("Sorry, something went wrong on our side. Please try again in a moment.")
