"""Confirming a signature: the page the link in the confirmation email opens (``/confirm?token=...``).

The token leaves the address bar at once and is used once. It is only used when this script runs, and
it runs in a browser session over the websocket, never on the plain GET a mail scanner sends, so a
scanner that pre-opens links does not confirm anything. Once confirmed, the page carries on to the
thank-you and the letter step for that signature: the link proved that its owner reads that mailbox.
"""

from __future__ import annotations

import streamlit as st

from campaigns.signatures import confirmation
from campaigns.signatures.signing import SignResult
from campaigns.ui import access, errors, public, reads, widgets

STATE = "confirmed_signature"
URL_PATH = confirmation.PAGE_PATH


def render() -> None:
    with errors.friendly_errors():
        token = st.query_params.get("token")
        if token:
            del st.query_params["token"]  # out of the address bar (and history) before anything else
            _use(token)
        confirmed: confirmation.Confirmed | None = st.session_state.get(STATE)
        if confirmed is None:
            if not token:
                st.title("Confirm your signature")
                st.info("Open the link in the email we sent you when you signed: it brings you here.")
            widgets.public_footer()
            return
        _render_confirmed(confirmed)


def _use(token: str) -> None:
    try:
        st.session_state[STATE] = access.write(lambda session: confirmation.confirm(session=session, token=token))
    except confirmation.AlreadyConfirmed as exc:
        st.title("Confirm your signature")
        st.info(exc.user_message, icon=":material/verified:")
    except confirmation.ConfirmRefused as exc:
        st.title("Confirm your signature")
        st.error(exc.user_message, icon=":material/link_off:")
    else:
        reads.forget_public_reads()  # this person sees the count with their signature in it


def _render_confirmed(confirmed: confirmation.Confirmed) -> None:
    page = reads.campaign_page(confirmed.campaign_slug)
    scheme = reads.region_scheme(page.region_scheme)
    region = scheme.get(confirmed.region_code).name if scheme.has(confirmed.region_code) else confirmed.region_code
    done = SignResult(
        campaign_slug=page.slug,
        full_name=confirmed.full_name,
        region_code=confirmed.region_code,
        region_name=region,
        total=page.total,
        created=True,
        signature_id=confirmed.signature_id,
        confirm_by_email=True,
    )
    st.title(widgets.plain(page.title))
    st.success("Your email is confirmed: your signature counts. Thank you!", icon=":material/verified:")
    public.render_thank_you(page, done, confirmed=True)
    st.caption(f"[Back to the campaign](/?campaign={page.slug})")
