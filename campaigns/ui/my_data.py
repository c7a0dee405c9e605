"""My data: a supporter asks for a one-time link by email, opens it, and manages what Rally holds about them.

``/my-data?token=...`` (the emailed link) is claimed once; the token leaves the address bar at once and
the page remembers the verified address for ``supporter_links.SESSION_MINUTES`` in this browser tab only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from campaigns.core.models import DeliveryView, LetterView, SignatureView, utcnow
from campaigns.core.settings import get_settings
from campaigns.people import supporter_data, supporter_erasure, supporter_links
from campaigns.proposals import privacy
from campaigns.questions import answering
from campaigns.ui import access, errors, questions, reads, widgets

STATE = "my_data"  # {"email": canonical address, "until": datetime, "only": a receipt's signature id, or None}
NOTICE = "my_data_notice"  # a message to show once, after the verified address was forgotten


def render() -> None:
    st.title("Your data")
    with errors.friendly_errors():
        token = st.query_params.get("token")
        if token:
            _open_link(token)
        receipt = st.query_params.get("receipt")
        if receipt:
            _open_receipt(receipt)
        email = _verified_email()
        if email is None:
            _render_request()
        else:
            _render_data(email, st.session_state[STATE].get("only"))


def _open_link(token: str) -> None:
    del st.query_params["token"]  # out of the address bar (and history) before anything else
    try:
        email = access.write(lambda session: supporter_links.claim_link(session=session, token=token))
    except supporter_links.LinkRefused as exc:
        st.error(exc.user_message, icon=":material/link_off:")
        return
    until = utcnow() + timedelta(minutes=supporter_links.SESSION_MINUTES)
    st.session_state[STATE] = {"email": email, "until": until, "only": None}


def _open_receipt(token: str) -> None:
    """A receipt (shown on the thank-you): this one signature, for as long as the page remembers it."""
    del st.query_params["receipt"]
    try:
        with access.reading() as session:
            owner = supporter_links.open_receipt(session=session, token=token)
    except supporter_links.LinkRefused as exc:
        st.error(exc.user_message, icon=":material/link_off:")
        return
    until = utcnow() + timedelta(minutes=supporter_links.SESSION_MINUTES)
    st.session_state[STATE] = {"email": owner.email_canonical, "until": until, "only": owner.signature_id}


def _verified_email() -> str | None:
    state = st.session_state.get(STATE)
    if not state:
        return None
    if state["until"] <= utcnow():
        del st.session_state[STATE]
        st.session_state[NOTICE] = (
            f"For your safety this page forgets your address after {supporter_links.SESSION_MINUTES} minutes. "
            "Ask for a new link below."
        )
        return None
    return str(state["email"])


def _forget(notice: str | None = None) -> None:
    st.session_state.pop(STATE, None)
    if notice:
        st.session_state[NOTICE] = notice
    st.rerun()


# --- asking for a link ----------------------------------------------------------------------------


def _render_request() -> None:
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.info(notice)
    st.markdown(
        "See the campaigns you signed and your letters, with what happened to each. You can withdraw a signature, "
        "choose whether organizers may contact you, download everything we hold about you, or erase it."
    )
    with st.form("my-data-request", border=True):
        email = st.text_input("Your email", autocomplete="email")  # no max_chars: Streamlit drops a long paste
        slot = st.empty()
        submitted = st.form_submit_button("Email me a link", type="primary", width="stretch")
    st.caption(
        "We email a link to the address you type; it works once, for "
        f"{get_settings().my_data_link_minutes} minutes. Nobody else learns whether an address signed anything."
    )
    st.caption("[All campaigns](/) · [Staff log-in](/auth/login)")
    if not submitted:
        return
    with errors.shown(slot) as failed:  # an InvalidInput's first message is its user_message
        supporter_links.send_link(engine=access.engine(), email=email)
    if failed:
        return
    slot.success(
        f"We sent a link to {widgets.plain(email.strip())}. Open it within "
        f"{get_settings().my_data_link_minutes} minutes (if you don't see it, look in your spam folder).",
        icon=":material/mark_email_read:",
    )


# --- the supporter's own data ------------------------------------------------------------------------


def _day(moment: datetime | None) -> str:
    return f"{moment:%-d %b %Y}" if moment else ""


def _render_data(email: str, only: int | None = None) -> None:
    with access.reading() as session:
        data = supporter_data.get_my_data(session=session, email_canonical=email, only=only)
    minutes = max(1, int((st.session_state[STATE]["until"] - utcnow()).total_seconds() // 60))
    if only is None:
        st.caption(f"Data held for {widgets.plain(email)}. This page forgets you in {minutes} minutes.")
    else:
        st.caption(
            f"One signature, opened with its receipt. This page forgets it in {minutes} minutes. To see every "
            "campaign signed with your email, press Done, then ask for a link."
        )
    if st.button("Done: forget me on this device", type="tertiary", icon=":material/logout:"):
        _forget("Done. To come back, ask for a new link.")
    if st.session_state.get("my_data_saved"):
        st.success(st.session_state.pop("my_data_saved"), icon=":material/check_circle:")
    st.subheader("Campaigns you signed" if only is None else "Your signature", anchor=False)
    if not data.signatures:
        st.info("We hold no signatures under this address." if only is None else "This signature is gone.")
    for signature in data.signatures:
        with st.container(border=True):
            _one_signature(email, signature, [a for a in data.answers if a.signature_id == signature.signature_id])
    if data.letters:
        st.subheader("Your letters", anchor=False)
        for letter in data.letters:
            with st.container(border=True):
                _one_letter(letter)
    if data.proposals is not None and (data.proposals.proposed or data.proposals.sponsored):
        st.subheader("Your proposals", anchor=False)
        _proposals(data.proposals)
    st.subheader("Download", anchor=False)
    st.download_button(
        "Download all my data (JSON)" if only is None else "Download this signature's data (JSON)",
        lambda: _export(email, only),
        "my-data.json",
        mime="application/json",
        icon=":material/download:",
    )
    _render_erase(email, bool(data.signatures), only)


def _proposals(held: privacy.MailboxProposals) -> None:
    """The campaigns this mailbox proposed or co-sponsors (their titles: the rest is on each proposal's page)."""
    with st.container(border=True):
        if held.proposed:
            st.markdown("**Campaigns you proposed**")
            st.text("\n".join(held.proposed))  # member text is data, never markup
        if held.sponsored:
            st.markdown("**Proposals you co-sponsor**")
            st.text("\n".join(held.sponsored))
        st.caption("Erasing your data below removes your name and email from these, and your messages to organizers.")


def _export(email: str, only: int | None) -> str:
    with access.reading() as session:
        return supporter_data.export_my_data_json(session=session, email_canonical=email, only=only)


COMMENT_TEXT = {"pending": " (awaiting review)", "approved": " (shown publicly)", "hidden": " (not shown)"}
STATUS_TEXT = {
    "counted": "Signed",
    "withdrawn": "Withdrawn",
    "pending": "Not counted yet: confirm it with the link we emailed you",
    "flagged": "Signed",  # held for review: the same words as counted (never told the signer: signatures.flood)
    "invalidated": "Not counted",
}


def _answers(answers: list[answering.HeldAnswer]) -> None:
    for held in answers:
        written = (
            f"\nYou wrote{ANSWER_TEXT.get(held.free_text_status or '', '')}: {held.free_text}" if held.free_text else ""
        )
        st.text(f"Asked: {held.question}\nYou answered: {held.option}{written}")  # supporter text is data


ANSWER_TEXT = {"pending": " (awaiting review)", "approved": " (may be shown publicly)", "hidden": " (not shown)"}


def _one_signature(email: str, signature: SignatureView, answers: list[answering.HeldAnswer]) -> None:
    sid = signature.signature_id
    st.markdown(f"**{widgets.plain(signature.campaign_title)}**")
    st.caption(
        f"{STATUS_TEXT.get(signature.status, signature.status)} · {_day(signature.signed_at)} · "
        f"{widgets.plain(signature.region_name)}"
    )
    st.text(f"Name: {signature.full_name}\nEmail: {signature.email}")
    if signature.comment:
        shown = COMMENT_TEXT.get(signature.comment_status or "", "")
        st.text(f"Your comment{shown}: {signature.comment}")
        st.caption("Shown with your first name and region." if signature.comment_credit else "Shown without your name.")
    _answers(answers)
    consent = st.checkbox(signature.consent_text, value=signature.contact_consent, key=f"consent-{sid}")
    if consent != signature.contact_consent:
        access.write(
            lambda s: supporter_data.set_consent(session=s, email_canonical=email, signature_id=sid, consent=consent),
        )
        st.session_state["my_data_saved"] = (
            "Saved: the organizers may contact you about this campaign."
            if consent
            else "Saved: the organizers will not contact you about this campaign."
        )
        st.rerun()
    if signature.status == "withdrawn":
        again = (
            f" You can [sign again](/?campaign={signature.campaign_slug}) while it is open."
            if signature.campaign_open
            else ""
        )
        st.caption(f"You withdrew this signature on {_day(signature.withdrawn_at)}.{again}")
        return
    if signature.status not in ("counted", "pending", "flagged"):
        return
    questions.render_for_signature(sid, key=f"my-data-{sid}")  # the open question, when this signature counts
    confirm_key = f"confirm-withdraw-{sid}"
    if not st.session_state.get(confirm_key):
        if st.button("Withdraw my signature", key=f"withdraw-{sid}"):
            st.session_state[confirm_key] = True
            st.rerun()
        return
    st.warning("Your signature will no longer count for this campaign, and the total goes down by one.")
    yes, no = st.columns(2)
    if yes.button("Yes, withdraw it", key=f"withdraw-yes-{sid}", type="primary", width="stretch"):
        access.write(
            lambda s: supporter_data.withdraw_signature(session=s, email_canonical=email, signature_id=sid),
        )
        del st.session_state[confirm_key]
        reads.forget_public_reads()
        st.session_state["my_data_saved"] = f"Your signature on “{signature.campaign_title}” was withdrawn."
        st.rerun()
    if no.button("Keep it", key=f"withdraw-no-{sid}", width="stretch"):
        del st.session_state[confirm_key]
        st.rerun()


DELIVERY_TEXT = {  # (what happened, channel) -> what the page says; only "sent by email by Rally" is a sent letter
    ("sent", "email"): "sent by email by Rally",
    ("waiting", "email"): "waiting to be sent by email by Rally (not sent yet)",
    ("failed", "email"): (
        "not sent: Rally's email could not be delivered (the organizers can see why and send it again)"
    ),
    ("uncertain", "email"): (
        "maybe sent by email by Rally: the sending was interrupted (the organizers can check and send it again)"
    ),
    ("downloaded", "pdf"): "downloaded as PDF",
    ("downloaded", "text"): "downloaded as text",
    ("opened", "mailto"): "opened in your mail app",
}


def delivery_text(delivery: DeliveryView) -> str:
    """What happened to one delivery, in the page's words, with its day when there is one."""
    text = DELIVERY_TEXT.get((delivery.what_happened, delivery.channel), f"{delivery.channel}: {delivery.status}")
    return text + (f" on {_day(delivery.sent_at)}" if delivery.sent_at else "")


def _one_letter(letter: LetterView) -> None:
    to = " ".join(p for p in (letter.target_title, letter.target_name) if p) or "a target no longer listed"
    st.markdown(f"**To {widgets.plain(to)}** · {widgets.plain(letter.campaign_title)}")
    how = [delivery_text(d) for d in letter.deliveries]
    st.caption(f"Written {_day(letter.created_at)}" + (f" · {', '.join(how)}" if how else ""))
    with st.expander(letter.subject or "(no subject)"):
        st.text(letter.body)


def _render_erase(email: str, has_signatures: bool, only: int | None = None) -> None:
    st.subheader("Erase my data", anchor=False)
    if only is None:
        st.markdown(
            "Erasing removes your name, email, postal code, comments, contact consent, written answers and the "
            "text of your letters from every campaign, your name, email and messages from your proposals and "
            "co-sponsorships, and forgets this address. It can't be undone."
        )
    else:
        st.markdown(
            "Erasing removes this signature's name, email, postal code, comment, contact consent, written answers "
            "and the text of its letters. It can't be undone, and this receipt stops working."
        )
    if has_signatures:
        st.markdown(
            "**Your signatures stay counted, anonymously** (only the region and the time remain), so campaign "
            "totals don't change. To take them out of the totals as well, choose *Withdraw and erase*."
        )
    sure = st.checkbox("I understand that erasing can't be undone", key="erase-sure")
    keep, withdraw = st.columns(2)
    erase_label = "Erase my data" if not has_signatures else "Erase (signatures stay counted)"
    if keep.button(erase_label, disabled=not sure, width="stretch", key="erase"):
        _erase(email, withdraw=False, only=only)
    if has_signatures and withdraw.button(
        "Withdraw and erase", disabled=not sure, type="primary", width="stretch", key="erase-withdraw"
    ):
        _erase(email, withdraw=True, only=only)


def _erase(email: str, *, withdraw: bool, only: int | None) -> None:
    done = access.write(
        lambda s: supporter_erasure.erase_my_data(session=s, email_canonical=email, withdraw=withdraw, only=only),
    )
    reads.forget_public_reads()
    counted = f" {done.withdrawn} signature{'s' if done.withdrawn != 1 else ''} no longer count." if withdraw else ""
    _forget(f"Your data has been erased.{counted} Nothing links this address to any campaign any more.")
