"""Who is logged in, logging out, and changing one's own password."""

from __future__ import annotations

import streamlit as st

from campaigns.people import logins, passwords
from campaigns.ui import access, errors, widgets


def render() -> None:
    actor = access.require("admin", "organizer", "coordinator")
    st.title("Your account")
    st.markdown(f"Logged in as **{widgets.plain(actor.email)}**")
    st.markdown(f"Roles: {', '.join(sorted(actor.roles)) or 'none'}")
    st.caption("A log-in lasts while you use it; it ends when you log out, everywhere this browser was logged in.")
    if st.button("Log out", type="primary"):
        cookie = access.session_cookie()
        access.write(lambda session: logins.end_session(session=session, cookie_value=cookie))
        st.session_state["just_logged_out"] = True  # the next run has no Account page: say it there
        st.rerun()


def render_password() -> None:
    actor = access.require("admin", "organizer", "coordinator")
    st.title("Your password")
    st.markdown(f"Changing the password of **{widgets.plain(actor.email)}**.")
    st.caption(
        f"A new password needs {passwords.PASSWORD_RULE} (a few unrelated words make a good one). "
        "Saving it logs you out everywhere else; this browser stays logged in."
    )
    with st.form("change-password", clear_on_submit=True):
        current = st.text_input("Current password", type="password", autocomplete="current-password")
        new = st.text_input(f"New password ({passwords.PASSWORD_RULE})", type="password", autocomplete="new-password")
        again = st.text_input("New password again", type="password", autocomplete="new-password")
        if not st.form_submit_button("Change password", type="primary"):
            return
    if new != again:
        st.error("The two new passwords differ. Type the same one twice; nothing was changed.")
        return
    with errors.shown(each_field=True) as failed:
        ended = logins.change_own_password(
            engine=access.engine(),
            actor=actor,
            cookie_value=access.session_cookie(),
            current_password=current,
            new_password=new,
            client_address=access.client_address(),
        )
    if failed:
        return
    others = f" {ended} other log-in{'s' if ended != 1 else ''} ended." if ended else ""
    st.success(f"Your password is changed.{others}")
