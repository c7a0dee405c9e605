"""After signing: the signer's letter to each of their decision-makers, in their own words.

The suggested text comes from the campaign's template; whatever the signer edits is what
is saved and delivered (email through the app, PDF, plain text, or their own mail app).

Only the email is *sent* by Rally. A download or a letter opened in the signer's own mail app is
recorded as just that (``campaigns.letters.deliveries``): Rally cannot see whether it was then sent.

*Open in my email app* is a real ``mailto:`` link (``st.link_button``), so one tap on a phone hands
the letter to the mail app as any link would; its ``on_click`` callback (Streamlit 1.67) saves the
letter and records the open in the rerun that tap starts. A two-step button ("record, then show the
link") would cost a second tap, and opening the link from script instead would be blocked as a pop-up.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import streamlit as st

from campaigns.core.mail import mail_mode
from campaigns.letters import outreach, pdf, templates
from campaigns.signatures.signing import SignResult
from campaigns.ui import access, errors, widgets

MAILTO_MAX = 1800  # longer links are cut by some mail apps


def render(campaign_title: str, done: SignResult) -> None:
    if not done.created or done.signature_id is None:
        return  # a repeat sign-on: nothing stored about that signature is shown or acted on
    with access.reading() as session:
        suggestions = outreach.suggest_letters(session=session, signature_id=done.signature_id)
    if not suggestions:
        return
    st.subheader("Now write to the people who decide", anchor=False)
    st.caption(letter_intro(mail_mode()))
    for letter in suggestions:
        with st.container(border=True):
            _one_letter(campaign_title, done, letter)


def letter_intro(mode: str | None) -> str:
    """What happens to the letter, said truly for this Rally's mail (``core.mail.mail_mode``)."""
    start = "We filled in a letter for you, signed by you. Change anything you like"
    if mode == "smtp":
        return (
            f"{start}: where there is a *Send* button, Rally emails it exactly as you leave it. You can also "
            "download it or open it in your own email app and send it yourself."
        )
    if mode == "outbox":
        return (
            f"{start}, then download it or open it in your own email app to send it yourself. Email is not set up "
            "on this Rally yet: its *Send* button only writes the letter to a test folder on the server, and "
            "nothing reaches the recipient."
        )
    return f"{start}, then download it or open it in your own email app to send it yourself: this Rally sends no email."


def _one_letter(campaign_title: str, done: SignResult, letter: outreach.SuggestedLetter) -> None:
    key = f"letter-{done.signature_id}-{letter.target_id}"
    st.markdown(f"**To {widgets.plain(' '.join(p for p in (letter.target_title, letter.target_name) if p))}**")
    # No max_chars: Streamlit drops a paste that would pass it, silently; saving refuses an over-long one instead.
    subject = st.text_input("Subject", value=letter.subject, key=f"{key}-subject")
    body = st.text_area("Your letter", value=letter.body, height=280, key=f"{key}-body")
    sent_key = f"{key}-sent"
    if st.session_state.get(sent_key):
        st.success(st.session_state[sent_key], icon=":material/mark_email_read:")

    def save() -> int | None:
        with errors.shown(each_field=True) as failed:
            saved = access.write(
                lambda s: outreach.save_letter(
                    session=s,
                    signature_id=done.signature_id or 0,
                    target_id=letter.target_id,
                    subject=subject,
                    body=body,
                    suggested=letter.body,
                ),
            )
        return None if failed else saved.id

    def record(channel: str) -> None:
        letter_id = save()
        if letter_id is not None:
            access.write(lambda s: outreach.record_delivery(session=s, letter_id=letter_id, channel=channel))

    mode = mail_mode()
    if mode and letter.target_email and not st.session_state.get(sent_key):
        if st.button(f"Send it to {letter.target_name} by email", type="primary", key=f"{key}-email"):
            letter_id = save()
            if letter_id is not None:
                with errors.shown() as failed:
                    access.write(lambda s: outreach.deliver_by_email(session=s, letter_id=letter_id))
                if not failed:
                    st.session_state[sent_key] = (
                        f"Your letter to {letter.target_name} is on its way by email. Thank you for speaking up."
                        if mode == "smtp"
                        else f"Your letter to {letter.target_name} was written to this Rally's development "
                        "outbox folder (mail is not set up yet, so it does not leave this machine)."
                    )
                    st.rerun()
    document = pdf.LetterDoc(
        campaign_title=campaign_title,
        signer_name=done.full_name,
        signer_region=done.region_name,
        target_name=letter.target_name,
        target_title=letter.target_title,
        target_address=letter.target_address,
        date_text=templates.date_text(),
        subject=subject,
        body=body,
    )
    left, middle, right = st.columns(3)
    left.download_button(  # deferred: the PDF (~0.1 s, more with CJK names) is made only when asked for
        "Download PDF",
        lambda: pdf.letter_pdf(document),
        f"{_file_stem(letter.target_name)}.pdf",
        mime="application/pdf",
        key=f"{key}-pdf",
        on_click=record,
        args=("pdf",),
    )
    middle.download_button(
        "Download text",
        f"{subject}\n\n{body}\n",
        f"{_file_stem(letter.target_name)}.txt",
        mime="text/plain",
        key=f"{key}-txt",
        on_click=record,
        args=("text",),
    )
    if letter.target_email:
        link = f"mailto:{letter.target_email}?subject={quote(subject)}&body={quote(body[:MAILTO_MAX])}"
        right.link_button(  # one tap: the browser follows the link, and the rerun it asks for records the open
            "Open in my email app", link, key=f"{key}-mailto", on_click=record, args=("mailto",)
        )


def _file_stem(target_name: str) -> str:
    """``letter-to-naomi-margindale``: the letter's file name says who it is for (any script's letters kept)."""
    words = re.findall(r"\w+", target_name.lower())
    return "-".join(["letter-to", *words])[:80].rstrip("-") or "letter"
