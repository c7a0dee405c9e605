"""Who is logged in, and logging out."""

from __future__ import annotations

import streamlit as st

from campaigns import auth
from campaigns.db import run_write
from campaigns.ui import common


def render() -> None:
    actor = common.require("admin", "organizer", "coordinator")
    st.title("Your account")
    st.markdown(f"Logged in as **{common.plain(actor.email)}**")
    st.markdown(f"Roles: {', '.join(sorted(actor.roles)) or 'none'}")
    st.caption("A log-in lasts while you use it; it ends when you log out, everywhere this browser was logged in.")
    if st.button("Log out", type="primary"):
        cookie = common.session_cookie()
        run_write(common.engine(), lambda session: auth.end_session(session=session, cookie_value=cookie))
        st.session_state["just_logged_out"] = True  # the next run has no Account page: say it there
        st.rerun()
