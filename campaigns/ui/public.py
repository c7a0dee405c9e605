"""The public pages: the list of campaigns, and one campaign with its sign form.

``?campaign=<slug>`` (the share link) opens a campaign; ``utm_*`` parameters on that
link, and the page the visitor came from, are stored with the signature.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from campaigns.core.errors import InvalidInput, RallyError
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
    render_campaign_view(page)


def signed_key(slug: str) -> str:
    """Where this browser session keeps its sign-on's ``SignResult`` for campaign ``slug`` (the thank-you)."""
    return f"signed:{slug}"


def render_campaign_view(page: CampaignPublic, *, preview: bool = False) -> None:
    """The campaign as a supporter sees it (``preview``: for organizers, with the form shown but inert)."""
    st.title(widgets.plain(page.title))
    outcomes.render_banner(page, preview=preview)
    st.markdown(f"**{widgets.plain(page.purpose)}**")
    if (names := reads.campaign_credits(page.slug) if not preview else None) is not None:
        with_names = f", with {', '.join(names[1:])}" if names[1:] else ""
        st.caption(widgets.plain(f"Proposed by {names[0]}{with_names}."))
    if preview:
        render_count(page)
        outcomes.render_response(page, preview=True)
        render_sign_form(page, preview=True)
        _body(page)
        return
    _sign_area(page)
    questions.render_public(page)  # when the organizer shows a question's results
    outcomes.render_wall(page)


@st.fragment
def _sign_area(page: CampaignPublic) -> None:
    """The count, the form or in its place the thank-you, and what follows them (the text, the updates, sharing):
    one fragment, so that a sign-on reruns this part of the page alone and draws its thank-you, and the count with
    this signer in it, in that same run."""
    _live_count(page.slug)
    with errors.friendly_errors():
        outcomes.render_response(page)
        done: SignResult | None = st.session_state.get(signed_key(page.slug))
        if done is not None:
            render_thank_you(page, done)
        elif page.is_open:
            render_sign_form(page)
        else:
            st.info(closed_message(page.total))
        _body(page)
        updates_page.render_timeline(page.slug)  # the updates sent to signers, newest first
        if done is None:  # after signing, the thank-you has them
            st.subheader("Share this campaign", anchor=False)
            share.render(page, medium="page")


def _body(page: CampaignPublic) -> None:
    if page.body.strip():  # the rule and the organizer's markdown in one element (raw HTML is shown as text)
        st.markdown(f"---\n\n{page.body}")


@st.fragment(run_every=REFRESH_SECONDS)
def _live_count(slug: str) -> None:
    """The count, progress and milestone, re-read every few seconds through the shared cache (never the form)."""
    with errors.friendly_errors():
        page, read_at = reads.campaign_page_read_at(slug)
        done: SignResult | None = st.session_state.get(signed_key(slug))
        render_count(page, own_total=done.total if done else 0, read_at=read_at)


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


def _problem_key(slug: str) -> str:
    return f"sign-problem:{slug}"


def render_sign_form(page: CampaignPublic, *, preview: bool = False) -> None:
    """The form; pressing its button signs in ``_submit`` (a callback, before the page runs again), so the run that
    follows draws the thank-you at once, or this form again with each message under its field."""
    scheme = reads.region_scheme(page.region_scheme)
    info = scheme.info
    form = f"sign-{page.slug}{'-preview' if preview else ''}"
    problem: RallyError | None = None if preview else st.session_state.get(_problem_key(page.slug))
    fields = dict(problem.errors) if isinstance(problem, InvalidInput) else {}
    below = {"full_name", "email", "region", "comment"} | ({"postal_code"} if info.postal_code_label else set())
    for field in [f for f in fields if f not in below]:  # a message for no field of this form: under the region
        fields["region"] = fields.pop(field)

    def under(field: str) -> None:
        if field in fields:
            st.error(fields[field])

    with st.form(form, enter_to_submit=False, border=True):
        st.subheader("Add your name", anchor=False)
        # No max_chars on these fields: Streamlit drops a paste that would pass the limit, silently. The sign-on
        # refuses an over-long value instead, with its length, under the field, and the typed text stays.
        st.text_input("Your name", autocomplete="name", key=f"{form}-full_name")
        under("full_name")
        st.text_input("Email", autocomplete="email", key=f"{form}-email")
        under("email")
        st.selectbox(
            info.region_label,
            [r.code for r in scheme.regions],
            index=None,
            format_func=reads.region_names(page.region_scheme).__getitem__,
            placeholder=f"Type to find your {info.region_label.lower()}",
            key=f"{form}-region",
        )
        under("region")
        if info.postal_code_label:
            st.text_input(
                f"{info.postal_code_label} (optional)",
                autocomplete="postal-code",
                help=f"We can find your {info.region_label.lower()} from it.",
                key=f"{form}-postal_code",
            )
            under("postal_code")
        st.text_area(wording.COMMENT_LABEL, height=90, key=f"{form}-comment")
        under("comment")
        st.checkbox(wording.COMMENT_CREDIT, value=False, key=f"{form}-credit")
        st.caption(wording.COMMENT_NOTE)
        st.checkbox(page.consent_text, value=False, key=f"{form}-consent")  # organizer wording, shown exactly
        st.form_submit_button(
            wording.SUBMIT,
            type="primary",
            width="stretch",
            disabled=preview,
            on_click=None if preview else _submit,
            args=(page, form),
        )
    if fields:
        st.error("Please fix the highlighted fields, then press the button again.")
    elif problem is not None:
        st.error(problem.user_message)


def _submit(page: CampaignPublic, form: str) -> None:
    """The form's button: sign with what the form holds; the page's next run shows the outcome."""
    state = st.session_state
    state.pop(_problem_key(page.slug), None)
    scheme = reads.region_scheme(page.region_scheme)
    signer = SignerInput(
        full_name=state.get(f"{form}-full_name") or "",
        email=state.get(f"{form}-email") or "",
        region_code=state.get(f"{form}-region"),
        postal_code=state.get(f"{form}-postal_code") if scheme.info.postal_code_label else None,
        comment=state.get(f"{form}-comment"),
        comment_credit=bool(state.get(f"{form}-credit")),
        contact_consent=bool(state.get(f"{form}-consent")),
        **_source(),
    )
    signed: list[SignResult] = []
    with errors.caught() as failed:
        address = access.client_address()
        signed.append(
            access.write(
                lambda session: sign(
                    session=session, campaign_slug=page.slug, signer=signer, client_address=address, scheme=scheme
                ),
            )
        )
    if failed:
        state[_problem_key(page.slug)] = failed.error
        return
    # No cache clearing here: in a spike that would recompute the public reads for every signer.
    # The thank-you shows max(cached total, this signer's own total), so they always see themselves.
    state[signed_key(page.slug)] = signed[0]


def _sign_again(slug: str) -> None:
    """ "Sign as someone else": the form again, empty."""
    st.session_state.pop(signed_key(slug), None)
    st.session_state.pop(_problem_key(slug), None)


def render_thank_you(page: CampaignPublic, done: SignResult, *, confirmed: bool = False) -> None:
    """The thank-you: built only from what this visitor typed (``done``), the same for a new and a repeated
    signature. ``confirmed``: shown after the signer followed their confirmation link."""
    said = wording.thank_you(
        done, escape=widgets.plain, confirm_link_days=get_settings().confirm_link_days, confirmed=confirmed
    )
    with st.container(border=True):
        if said.check_inbox:
            st.success(said.headline, icon=":material/mark_email_unread:")
            st.markdown("\n\n".join(said.paragraphs))
            if mail_mode() == "outbox":  # a development Rally: say where the email really went
                st.caption(wording.OUTBOX_NOTE)
            st.markdown(wording.NEXT_STEP)
        else:
            st.success(said.headline, icon=":material/check_circle:")
            st.markdown("\n\n".join((*said.paragraphs, wording.NEXT_STEP)))  # one element
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
        if page.has_letter:  # no letters query for a campaign without a letter
            letter_step.render(page.title, done)
        if confirmed or reads.campaign_asks(page.slug):  # no question query for a campaign that asks none
            questions.render_for_signature(done.signature_id if done.created else None, key=f"signed-{page.slug}")
    st.caption(wording.CHANGED_MIND)
    if not confirmed:
        st.button("Sign as someone else", type="tertiary", on_click=_sign_again, args=(page.slug,))
