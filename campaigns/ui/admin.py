"""Admin pages: the people who run Rally, and the audit log."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from campaigns.core import audit
from campaigns.core.mail import mail_mode
from campaigns.core.models import UserPublic
from campaigns.people import password_links, passwords, staff
from campaigns.ui import access, errors


def render_people() -> None:
    actor = access.require("admin")
    st.set_page_config(layout="wide")  # tables need the room
    st.title("People")
    with access.reading() as session:
        people = staff.list_users(session=session)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "email": p.email,
                    "name": p.display_name,
                    "roles": ", ".join(p.roles),
                    "active": p.is_active,
                    "since": p.created_at.date(),
                }
                for p in people
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    with st.expander("Add a person", expanded=not people):
        with st.form("add-person", clear_on_submit=True):
            email = st.text_input("Email")
            name = st.text_input("Name (optional)")
            roles = st.multiselect("Roles", staff.ROLES, default=["organizer"])
            password = st.text_input(
                f"First password ({passwords.PASSWORD_RULE}; tell them privately)", type="password"
            )
            if st.form_submit_button("Add person", type="primary"):
                with errors.shown(each_field=True) as failed:
                    access.write(
                        lambda s: staff.create_user(
                            session=s, email=email, password=password, roles=roles, display_name=name, actor=actor
                        ),
                    )
                if not failed:
                    st.success(f"Added {email.strip().lower()}. They can log in now.")
                    st.rerun()
    if not people:
        return
    st.subheader("Change roles or access", anchor=False)
    by_email = {p.email: p for p in people}
    chosen = by_email[st.selectbox("Person", list(by_email))]
    new_roles = st.multiselect("Roles", staff.ROLES, default=list(chosen.roles), key=f"roles-{chosen.id}")
    left, right = st.columns(2)
    if left.button("Save roles", key=f"save-{chosen.id}"):
        _act(lambda s: staff.set_roles(session=s, user_id=chosen.id, roles=new_roles, actor=actor), "Roles saved.")
    label = "Deactivate" if chosen.is_active else "Reactivate"
    if right.button(label, key=f"active-{chosen.id}"):
        done = "Deactivated: their log-ins have ended." if chosen.is_active else "Reactivated."
        _act(lambda s: staff.set_active(session=s, user_id=chosen.id, active=not chosen.is_active, actor=actor), done)
    _reset_password(actor, chosen)


def _reset_password(actor: audit.Actor, chosen: UserPublic) -> None:
    st.subheader("Reset their password", anchor=False)
    if chosen.id == actor.user_id:
        st.caption("To change your own password, use Account → Password.")
        return
    by_mail = mail_mode() is not None
    st.caption(
        f"Makes a link with which {chosen.email} chooses a new password ({passwords.PASSWORD_RULE}). It works once, "
        f"within {password_links.LINK_HOURS} hours, and using it logs them out everywhere; until then their "
        "current password keeps working. "
        + ("The link is emailed to them." if by_mail else "Email is not set up here, so the link is shown to you once.")
    )
    if not st.button("Reset password", key=f"reset-{chosen.id}"):
        return
    with errors.shown() as failed:
        issued = password_links.reset_password(engine=access.engine(), user_id=chosen.id, actor=actor)
    if failed:
        return
    if issued.emailed:
        st.success(f"A set-password link was emailed to {issued.email}.")
        return
    st.warning(
        f"Give this link to {issued.email} privately (not by a public channel). It is shown only now, "
        "and asking again makes a new one that replaces it."
    )
    st.code(issued.url, language=None, wrap_lines=True)  # no sideways scrolling: keyboard users reach it all


def _act(work, done: str) -> None:
    with errors.shown() as failed:
        access.write(work)
    if failed:
        return
    st.success(done)
    st.rerun()


def render_audit() -> None:
    access.require("admin")
    st.set_page_config(layout="wide")  # tables need the room
    st.title("Audit log")
    st.caption("Every staff action that creates, changes, exports or reveals personal data. Newest first.")
    action = st.text_input("Only this action (e.g. campaign.publish, user.login)", "")
    with access.reading() as session:
        entries = audit.list_entries(session=session, limit=500, action=action.strip() or None)
    if entries.empty:
        st.info("Nothing recorded yet.")
        return
    st.dataframe(entries, hide_index=True, width="stretch")
