"""Mail: where Rally's email goes, the outbox's progress, and the messages a person must look at.

Failed messages keep the mail server's answer; uncertain ones (their sender stopped mid-send) may have
been delivered, so Rally never resends them by itself: a person decides here.
"""

from __future__ import annotations

import streamlit as st

from campaigns.core import outbox
from campaigns.ui import access, errors, widgets

KIND_TEXT = {
    "letter": "Letter to a target",
    "confirmation": "Signature confirmation",
    "confirmation-reminder": "Confirmation reminder",
    "already-signed": "“You have already signed”",
    "my-data-link": "“Your data” link",
    "set-password": "Staff set-password link",
}
STATUS_HELP = {
    "failed": "The mail server refused it, or could not be reached after every retry. Its answer is below.",
    "uncertain": "The sender stopped while handing it over: it may have been delivered already.",
}


def render() -> None:
    actor = access.require("organizer", "admin")
    st.title("Mail")
    with access.reading() as session:
        summary = outbox.summary(session=session)
        problems = outbox.problems(session=session)
    counts = summary.counts
    waiting, sending, sent = st.columns(3)
    waiting.metric("Waiting to be sent", f"{counts['queued']:,}")
    sending.metric("Being sent now", f"{counts['sending']:,}")
    sent.metric("Sent in the last hour", f"{summary.sent_last_hour:,}")
    held, failed, uncertain = st.columns(3)
    held.metric("Held (signature not counted)", f"{counts['held']:,}")
    failed.metric("Failed", f"{counts['failed']:,}")
    uncertain.metric("Uncertain", f"{counts['uncertain']:,}")
    st.caption(
        f"At most {summary.per_minute:,} messages a minute (RALLY_MAIL_PER_MINUTE). Sent so far: {counts['sent']:,}."
    )
    st.subheader("Messages to look at", anchor=False)
    if not problems:
        st.success("None: every message went out or is on its way.", icon=":material/mark_email_read:")
        return
    for problem in problems:
        with st.container(border=True):
            label = KIND_TEXT.get(problem.kind, problem.kind)
            st.markdown(f"**{widgets.plain(label)}** to {widgets.plain(problem.to_address)}")
            st.caption(
                f"{problem.status.capitalize()} · {problem.attempts} attempt{'s' if problem.attempts != 1 else ''}"
                f" · queued {widgets.local_time(problem.created_at):%d %b %H:%M} · {STATUS_HELP[problem.status]}"
            )
            if problem.last_error:
                st.text(problem.last_error)
            sure = True
            if problem.status == "uncertain":
                sure = st.checkbox("I checked: it did not arrive. Send it again.", key=f"sure-{problem.id}")
            if st.button("Send again", key=f"resend-{problem.id}", disabled=not sure):
                with errors.friendly_errors():
                    access.write(
                        lambda s, i=problem.id: outbox.resend(session=s, message_id=i, actor=actor),  # type: ignore[misc]  # mypy can't type a lambda with a default
                    )
                    st.toast("Queued again.", icon=":material/send:")
                    st.rerun()
