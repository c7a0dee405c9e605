"""Members' proposals, the public pages: propose a campaign, the proposer's own page (their emailed link),
co-sponsoring through the share link, the co-sponsor's confirmation, and the declined proposals made public.

Proposal text is plain text everywhere (``st.text``, ``widgets.plain``): markdown or HTML shows as typed. Emailed
tokens leave the address bar at once and are used only when this script runs in a browser (never on the plain GET a
mail scanner sends). The share link's page shows the proposal, never who proposed or co-sponsored it.
"""

from __future__ import annotations

import streamlit as st

from campaigns.core.models import ProposalStatus
from campaigns.core.settings import get_settings
from campaigns.proposals import drafting, mails, review, sponsoring
from campaigns.regions import lookup
from campaigns.ui import access, errors, share, widgets

PROPOSE_PATH = "propose"
OWN_PATH = mails.OWN_PATH
SPONSOR_PATH = mails.SPONSOR_PATH
SPONSOR_CONFIRM_PATH = mails.SPONSOR_CONFIRM_PATH
DECLINED_PATH = "declined-proposals"
OWN_STATE = "own_proposal_token"  # the proposer's token, in this browser tab only
SPONSOR_STATE = "sponsor_confirmed"
STATUS_WORDS = {
    ProposalStatus.unconfirmed.value: "waiting for you to open the link we emailed you",
    ProposalStatus.gathering.value: "gathering co-sponsors",
    ProposalStatus.in_review.value: "with the organizers, in review",
    ProposalStatus.changes_requested.value: "the organizers ask for changes",
    ProposalStatus.published.value: "published: it is a campaign now",
    ProposalStatus.declined.value: "declined",
    ProposalStatus.expired.value: "expired: it did not find its co-sponsors in time",
}


def schemes() -> dict[str, str]:
    """Every region scheme's id and the name people read (stock and uploaded)."""
    with access.reading() as session:
        return {s.id: s.name for s in lookup.list_all_schemes(session=session)}


def _text_fields(key: str, current: drafting.ProposalText | None = None) -> drafting.ProposalText:
    """The proposal's fields (inside a form), filled with ``current`` when editing."""
    names = schemes()
    ids = list(names)
    chosen = current.region_scheme if current else "us-states"
    title = st.text_input("Title", value=current.title if current else "", max_chars=drafting.TITLE_MAX, key=f"{key}-t")
    purpose = st.text_area(
        "Purpose: why this matters",
        value=current.purpose if current else "",
        max_chars=drafting.PURPOSE_MAX,
        key=f"{key}-p",
    )
    ask = st.text_area(
        "What it asks for", value=current.ask if current else "", max_chars=drafting.ASK_MAX, key=f"{key}-a"
    )
    target = st.text_input(
        "Of whom: who can make it happen",
        value=current.target if current else "",
        max_chars=drafting.TARGET_MAX,
        key=f"{key}-w",
    )
    scheme = st.selectbox(
        "Regions signers choose from",
        ids,
        index=ids.index(chosen) if chosen in ids else 0,
        format_func=lambda i: names.get(i, i),
        key=f"{key}-s",
    )
    return drafting.ProposalText(title=title, purpose=purpose, ask=ask, target=target, region_scheme=scheme)


def render_propose() -> None:
    st.title("Propose a campaign")
    with errors.friendly_errors():
        if st.session_state.get("proposed"):
            st.success(
                "Thank you! One last step: check your inbox. Open the link we emailed you to confirm your address; "
                "it is also your own page for the proposal, with the link to share with co-sponsors.",
                icon=":material/mark_email_read:",
            )
            if st.button("Propose another"):
                del st.session_state["proposed"]
                st.rerun()
            widgets.public_footer()
            return
        needed = get_settings().proposal_cosponsors
        st.markdown(
            f"Anyone can propose a campaign. Once you confirm your email, {needed} other people co-sponsor it "
            "through a link you share; then the organizers review it and publish it, ask you for changes, or "
            "explain why not."
        )
        with st.form("propose"):
            text = _text_fields("propose")
            name = st.text_input("Your name", max_chars=200)
            email = st.text_input("Email", max_chars=254)
            credit = st.checkbox("Name me on the campaign page if it is published")
            sent = st.form_submit_button("Propose the campaign", type="primary")
        if sent:
            proposer = drafting.ProposerInput(full_name=name, email=email, credit=credit)
            address = access.client_address()
            with errors.shown(each_field=True) as failed:
                access.write(
                    lambda session: drafting.propose(
                        session=session, text=text, proposer=proposer, client_address=address
                    )
                )
            if not failed:
                st.session_state["proposed"] = True
                st.rerun()
    st.caption(f"[Declined proposals and why](/{DECLINED_PATH})")
    widgets.public_footer()


def render_own() -> None:
    st.title("Your proposal")
    with errors.friendly_errors():
        emailed = st.query_params.get("token")
        if emailed:
            del st.query_params["token"]  # out of the address bar (and history) before anything else
            with errors.shown() as failed:
                access.write(lambda session: drafting.confirm_own(session=session, token=emailed))
            if failed:
                return
            st.session_state[OWN_STATE] = emailed
        token = st.session_state.get(OWN_STATE)
        if not token:
            st.info("Open the link in the email we sent you when you proposed the campaign: it brings you here.")
            widgets.public_footer()
            return
        with access.reading() as session:
            view = drafting.own_view(session=session, token=token)
        _render_own(view, token)


def _render_own(view: drafting.OwnView, token: str) -> None:
    st.subheader(widgets.plain(view.text.title), anchor=False)
    st.markdown(f"**Status:** {widgets.plain(STATUS_WORDS.get(view.status, view.status))}")
    if view.status == ProposalStatus.gathering.value:
        st.progress(min(1.0, view.confirmed / max(1, view.needed)), text=view.progress)
        st.markdown("Share this link with the people who co-sponsor it; each confirms by email:")
        share.render_copy_box(
            view.share_url,
            label="Co-sponsor link",
            key="cosponsor-link",
            button="Copy co-sponsor link",
            copied="Co-sponsor link copied: send it to the people who back your proposal.",
        )
        st.caption(f"It has until {widgets.local_time(view.expires_at):%d %b %Y} to find them.")
    else:
        st.caption(view.progress)
    if view.status == ProposalStatus.declined.value and view.decline_reason:
        st.markdown("**The organizers' reason**")
        st.text(view.decline_reason)
    if view.campaign_slug:
        st.markdown(f"[Open the campaign](/?campaign={view.campaign_slug})")
    with st.container(border=True):
        st.markdown("**Why this matters**")
        st.text(view.text.purpose)
        st.markdown("**What it asks for**")
        st.text(view.text.ask)
        st.markdown("**Of whom**")
        st.text(view.text.target)
    if view.thread:
        st.markdown("**Messages**")
        for entry in view.thread:
            with st.container(border=True):
                st.caption(f"{entry.author} · {widgets.local_time(entry.at):%d %b %Y %H:%M}")
                st.text(entry.body)
    if view.can_edit:
        _render_edit(view, token)
    widgets.public_footer()


def _render_edit(view: drafting.OwnView, token: str) -> None:
    st.markdown("**Edit your proposal**")
    with st.form("edit-proposal"):
        text = _text_fields("edit", view.text)
        note = st.text_area("A note to the organizers (optional)", max_chars=drafting.NOTE_MAX)
        sent = st.form_submit_button("Send the changes", type="primary")
    if sent:
        with errors.shown(each_field=True) as failed:
            access.write(lambda session: drafting.edit(session=session, token=token, text=text, note=note))
        if not failed:
            st.toast("Sent: the organizers have your changes.", icon=":material/check_circle:")
            st.rerun()


def render_sponsor() -> None:
    with errors.friendly_errors():
        public_id = st.query_params.get("p") or ""
        with access.reading() as session:
            page = sponsoring.sponsor_page(session=session, public_id=public_id)
        st.title(widgets.plain(page.text.title))
        st.caption("A campaign proposed by a member, looking for co-sponsors")
        st.markdown("**Why this matters**")
        st.text(page.text.purpose)
        st.markdown("**What it asks for**")
        st.text(page.text.ask)
        st.markdown("**Of whom**")
        st.text(page.text.target)
        st.progress(
            min(1.0, page.confirmed / max(1, page.needed)), text=f"{page.confirmed} of {page.needed} co-sponsors"
        )
        if st.session_state.get(f"offered:{public_id}"):
            st.success(
                "Thank you! Check your inbox: open the link we emailed you to count as a co-sponsor.",
                icon=":material/mark_email_read:",
            )
        elif page.open:
            _sponsor_form(public_id)
        else:
            st.info(page.closed_reason or "This proposal takes no co-sponsors now.")
    widgets.public_footer()


def _sponsor_form(public_id: str) -> None:
    with st.form("cosponsor"):
        name = st.text_input("Your name", max_chars=200)
        email = st.text_input("Email", max_chars=254)
        credit = st.checkbox("Name me on the campaign page if it is published")
        sent = st.form_submit_button("Co-sponsor this proposal", type="primary")
    if sent:
        address = access.client_address()
        with errors.shown(each_field=True) as failed:
            access.write(
                lambda session: sponsoring.offer(
                    session=session,
                    public_id=public_id,
                    full_name=name,
                    email=email,
                    credit=credit,
                    client_address=address,
                )
            )
        if not failed:
            st.session_state[f"offered:{public_id}"] = True
            st.rerun()


def render_sponsor_confirm() -> None:
    heading = st.empty()  # the proposal's title once confirmed (as a confirmed signature shows its campaign's)
    heading.title("Confirm your co-sponsorship")
    with errors.friendly_errors():
        token = st.query_params.get("token")
        if token:
            del st.query_params["token"]  # out of the address bar (and history) before anything else
            st.session_state.pop(SPONSOR_STATE, None)
            try:
                st.session_state[SPONSOR_STATE] = access.write(
                    lambda session: sponsoring.confirm(session=session, token=token)
                )
            except sponsoring.AlreadySponsoring as exc:  # it names the proposal's title: member text
                st.info(widgets.plain(exc.user_message), icon=":material/verified:")
            except sponsoring.SponsorLinkRefused as exc:
                st.error(exc.user_message, icon=":material/link_off:")
        done: sponsoring.SponsorConfirmed | None = st.session_state.get(SPONSOR_STATE)
        if done is not None:
            heading.title(widgets.plain(done.title))
            st.success(
                widgets.plain(
                    f"You co-sponsor “{done.title}”: {min(done.confirmed, done.needed)} of {done.needed} co-sponsors."
                ),
                icon=":material/verified:",
            )
            if done.confirmed >= done.needed:
                st.markdown("It has all its co-sponsors: the organizers review it next.")
        elif not token:
            st.info("Open the link in the email we sent you when you offered to co-sponsor: it brings you here.")
    widgets.public_footer()


def render_declined() -> None:
    st.title("Declined proposals and why")
    st.caption("Proposals the organizers decided not to run, with their reasons, where they chose to publish them.")
    with errors.friendly_errors():
        with access.reading() as session:
            declined = review.declined_publicly(session=session)
        if not declined:
            st.info("No declined proposal has been made public.")
        for item in declined:
            with st.container(border=True):
                st.markdown(f"**{widgets.plain(item.title)}**")
                st.caption(f"Declined {widgets.local_time(item.declined_at):%d %b %Y}")
                st.text(item.reason)
    widgets.public_footer()  # it links to proposing one
