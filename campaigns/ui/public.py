"""The public pages: the list of campaigns, and one campaign with its sign form.

``?campaign=<slug>`` (the share link) opens a campaign; ``utm_*`` parameters on that
link, and the page the visitor came from, are stored with the signature.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from campaigns.core.errors import InvalidInput
from campaigns.core.mail import mail_mode
from campaigns.core.models import CampaignPublic
from campaigns.core.settings import get_settings
from campaigns.dashboard.overview import milestone_reached
from campaigns.people.supporter_links import receipt_url
from campaigns.signatures import wording
from campaigns.signatures.signing import SignerInput, SignResult, sign
from campaigns.ui import access, errors, letter_step, outcomes, questions, reads, share, widgets
from campaigns.ui import updates as updates_page

REFRESH_SECONDS = 10


def render() -> None:
    widgets.query_in_address_bar()
    slug = st.query_params.get("campaign")
    with errors.friendly_errors():
        if slug:
            render_campaign(slug)
        else:
            render_list()


def render_list() -> None:
    st.title("Campaigns")
    st.caption("Add your name to a campaign you care about. It takes less than a minute.")
    celebrated = outcomes.render_victories()
    campaigns = reads.public_campaigns()
    if celebrated:  # the cards below are not more victories
        st.subheader("All campaigns", anchor=False)
    if not campaigns:
        st.info("There are no campaigns to sign yet. Check back soon.")
        widgets.public_footer()
        return
    for summary in campaigns:
        with st.container(border=True):
            st.subheader(widgets.plain(summary.title), anchor=False)
            st.markdown(widgets.plain(summary.purpose))
            widgets.progress(summary.total, summary.goal)
            is_open = summary.status == "published"
            st.caption(widgets.deadline_text(summary.deadline, is_open))
            label = "Read and sign" if is_open else "See the result"
            widgets.page_link("", label, query={"campaign": summary.slug}, kind="primary" if is_open else "secondary")
    widgets.public_footer()


def _back_to_list() -> None:
    # "?campaign=" (blank) is the list: the default page's own link would be href="", this very page
    widgets.page_link("", "All campaigns", query={"campaign": ""}, icon=":material/arrow_back:")


def render_campaign(slug: str) -> None:
    page = reads.campaign_page(slug)
    _back_to_list()
    render_campaign_view(page, done=st.session_state.get(f"signed:{slug}"))


def render_campaign_view(page: CampaignPublic, *, done: SignResult | None = None, preview: bool = False) -> None:
    """The campaign as a supporter sees it (``preview``: for organizers, with the form shown but inert)."""
    st.title(widgets.plain(page.title))
    outcomes.render_banner(page, preview=preview)
    st.markdown(f"**{widgets.plain(page.purpose)}**")
    if (names := reads.campaign_credits(page.slug) if not preview else None) is not None:
        with_names = f", with {', '.join(names[1:])}" if names[1:] else ""
        st.caption(widgets.plain(f"Proposed by {names[0]}{with_names}."))
    if preview:
        render_count(page)
    else:
        _live_count(page.slug, done.total if done else 0)
    outcomes.render_response(page, preview=preview)
    if done is not None:
        render_thank_you(page, done)
    elif page.is_open or preview:
        render_sign_form(page, preview=preview)
    else:
        st.info(closed_message(page.total))
    if page.body.strip():
        st.divider()
        st.markdown(page.body)  # organizer markdown; raw HTML is shown as text (unsafe_allow_html is off)
    if not preview:
        updates_page.render_timeline(page.slug)  # the updates sent to signers, newest first
    if done is None and not preview:  # after signing, the thank-you has them
        st.subheader("Share this campaign", anchor=False)
        share.render(page, medium="page")
    if not preview:
        questions.render_public(page)  # when the organizer shows a question's results
        outcomes.render_wall(page)


@st.fragment(run_every=REFRESH_SECONDS)
def _live_count(slug: str, own_total: int) -> None:
    """The count, progress and milestone, re-read every few seconds through the shared cache (never the form)."""
    with errors.friendly_errors():
        page, read_at = reads.campaign_page_read_at(slug)
        render_count(page, own_total=own_total, read_at=read_at)


def render_count(page: CampaignPublic, *, own_total: int = 0, read_at: datetime | None = None) -> None:
    """``own_total``: the count this visitor saw right after signing (the cached page may not include them yet)."""
    total = max(page.total, own_total)
    widgets.progress(total, page.goal)
    details = [widgets.deadline_text(page.deadline, page.is_open)]
    if read_at is not None:
        details += [
            f"Updated at {widgets.local_time(read_at):%H:%M:%S}",
            f"[See signatures by region](/dashboard?campaign={page.slug})",
        ]
    st.caption(" · ".join(details))
    reached = milestone_reached(total, page.goal)
    if reached:
        st.success(MILESTONE_TEXT[reached], icon=":material/celebration:")


MILESTONE_TEXT = {
    25: "A quarter of the way to the goal. Thank you, everyone!",
    50: "Halfway to the goal! Keep sharing.",
    75: "Three quarters of the way! The finish line is in sight.",
    100: "Goal reached! Thank you to every single person who signed.",
}


def closed_message(total: int) -> str:
    return wording.closed_message(total)


def _source() -> dict[str, str | None]:
    params = st.query_params
    cookie = st.context.cookies.get("rally_ref")
    return {
        "utm_source": params.get("utm_source"),
        "utm_medium": params.get("utm_medium"),
        "utm_campaign": params.get("utm_campaign"),
        "referrer": (cookie if isinstance(cookie, str) else None) or params.get("ref"),
    }


def render_sign_form(page: CampaignPublic, *, preview: bool = False) -> None:
    scheme = reads.region_scheme(page.region_scheme)
    info = scheme.info
    codes = [r.code for r in scheme.regions]
    names = {r.code: r.name for r in scheme.regions}
    slots = {}
    with st.form(f"sign-{page.slug}{'-preview' if preview else ''}", enter_to_submit=False, border=True):
        st.subheader("Add your name", anchor=False)
        # No max_chars on these fields: Streamlit drops a paste that would pass the limit, silently. The sign-on
        # refuses an over-long value instead, with its length, under the field, and the typed text stays.
        full_name = st.text_input("Your name", autocomplete="name")
        slots["full_name"] = st.empty()
        email = st.text_input("Email", autocomplete="email")
        slots["email"] = st.empty()
        region = st.selectbox(
            info.region_label,
            codes,
            index=None,
            format_func=lambda code: names[code],
            placeholder=f"Type to find your {info.region_label.lower()}",
        )
        slots["region"] = st.empty()
        postal = None
        if info.postal_code_label:
            postal = st.text_input(
                f"{info.postal_code_label} (optional)",
                autocomplete="postal-code",
                help=f"We can find your {info.region_label.lower()} from it.",
            )
            slots["postal_code"] = st.empty()
        comment = st.text_area("Why are you signing? (optional)", height=90)
        slots["comment"] = st.empty()
        credit = st.checkbox("Show my first name and region with my comment", value=False)
        st.caption(wording.COMMENT_NOTE)
        consent = st.checkbox(page.consent_text, value=False)  # organizer wording, shown exactly
        submitted = st.form_submit_button("Sign the campaign", type="primary", width="stretch", disabled=preview)
    if not submitted or preview:
        return
    signer = SignerInput(
        full_name=full_name,
        email=email,
        region_code=region,
        postal_code=postal,
        comment=comment,
        comment_credit=credit,
        contact_consent=consent,
        **_source(),
    )
    with errors.shown() as failed:
        try:
            address = access.client_address()
            result = access.write(
                lambda session: sign(
                    session=session, campaign_slug=page.slug, signer=signer, client_address=address, scheme=scheme
                ),
            )
        except InvalidInput as exc:  # each message under its own field
            for field, message in exc.errors.items():
                (slots.get(field) or slots["region"]).error(message)
            st.error("Please fix the highlighted fields, then press the button again.")
            return
    if failed:
        return
    # No cache clearing here: in a spike that would recompute the public reads for every signer.
    # The thank-you shows max(cached total, this signer's own total), so they always see themselves.
    st.session_state[f"signed:{page.slug}"] = result
    st.rerun()


def render_thank_you(page: CampaignPublic, done: SignResult, *, confirmed: bool = False) -> None:
    """The thank-you: built only from what this visitor typed (``done``), the same for a new and a repeated
    signature. ``confirmed``: shown after the signer followed their confirmation link."""
    said = wording.thank_you(
        done, escape=widgets.plain, confirm_link_days=get_settings().confirm_link_days, confirmed=confirmed
    )
    with st.container(border=True):
        if said.check_inbox:
            st.success(said.headline, icon=":material/mark_email_unread:")
            for paragraph in said.paragraphs:
                st.markdown(paragraph)
            if mail_mode() == "outbox":  # a development Rally: say where the email really went
                st.caption(wording.OUTBOX_NOTE)
        else:
            st.success(said.headline, icon=":material/check_circle:")
            for paragraph in said.paragraphs:
                st.markdown(paragraph)
        st.markdown(wording.NEXT_STEP)
        share.render(page, medium="supporter")
    if done.receipt_token:
        with st.container(border=True):
            st.markdown(wording.RECEIPT_INTRO)
            share.render_copy_box(
                receipt_url(done.receipt_token),
                label="Your receipt link",
                key=f"receipt-{page.slug}",
                button="Copy receipt link",
                copied="Receipt link copied. Keep it somewhere safe, such as your notes or bookmarks.",
            )
            st.caption(wording.RECEIPT_WARNING)
    if not done.confirm_by_email or confirmed:
        letter_step.render(page.title, done)
        questions.render_for_signature(done.signature_id if done.created else None, key=f"signed-{page.slug}")
    st.caption(wording.CHANGED_MIND)
    if not confirmed and st.button("Sign as someone else", type="tertiary"):
        st.session_state.pop(f"signed:{page.slug}", None)
        st.rerun()
