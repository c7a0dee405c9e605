"""Organizers' comment queue: one campaign's "why I signed" comments a page at a time, filtered, chosen
row by row or all that match, approved or hidden in one action (campaigns.signatures.moderation)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from campaigns.catalog import lifecycle, listing
from campaigns.core.audit import Actor
from campaigns.core.errors import RallyError
from campaigns.signatures import moderation, wall
from campaigns.ui import access, errors, reads, widgets

URL_PATH = "moderation"
STATUSES = {"pending": "To review", "approved": "Approved", "hidden": "Hidden"}
PER_PAGE = (25, 50, 100)
_KEY = "moderation"


def link(slug: str) -> str:
    """The queue of one campaign's comments to review (the overview and the editor link here)."""
    return f"/{URL_PATH}?campaign={slug}"


def render() -> None:
    actor = access.require("organizer")
    widgets.query_in_address_bar()  # opened by a page link (the overview's): its query goes in the address bar
    st.set_page_config(layout="wide")  # the comments need the room
    st.title("Comments to review")
    _outcome()
    with access.reading() as session:
        campaigns = lifecycle.list_campaigns_for_staff(session=session)
    choices = widgets.campaign_choices(campaigns, "No campaigns yet.")
    if not choices:
        return
    wanted = st.query_params.get("campaign")
    options = list(choices)
    slug = st.selectbox(
        "Campaign", options, index=options.index(wanted) if wanted in options else 0, format_func=choices.__getitem__
    )
    st.query_params["campaign"] = slug  # the address can be shared as it is
    with access.reading() as session:
        campaign = listing.get_campaign_by_slug(session=session, slug=slug)
    if campaign is None:
        st.info("That campaign is gone. Pick another.")
        return
    st.caption("Comments show on the campaign's page only once approved. Approving or hiding never changes a count.")
    chosen = _filter(campaign.id or 0, slug)
    if chosen is None:
        return
    per_page = st.session_state.get(f"{_KEY}-per-page", moderation.PER_PAGE)
    with errors.shown(each_field=True) as failed, access.reading() as session:
        page = moderation.list_comment_page(
            session=session, comment_filter=chosen, page=st.session_state.get(f"{_KEY}-page", 1), per_page=per_page
        )
    if failed:
        return
    st.session_state[f"{_KEY}-page"] = page.page
    what = STATUSES[chosen.status].lower() if chosen.status != "pending" else "to review"
    st.subheader(f"{page.total:,} comment{'s' if page.total != 1 else ''} {what}", anchor=False)
    if not page.total:
        st.info("Nothing here. " + ("Clear the filter to see more." if _narrowed(chosen) else ""))
        return
    selected = _table(page, chosen)
    _act_on_selected(actor, chosen, page, selected)
    _pager(page)
    _act_on_all(actor, chosen, page.total)


def _narrowed(chosen: moderation.CommentFilter) -> bool:
    return bool(chosen.words.strip() or chosen.region_code)


def _filter(campaign_id: int, slug: str) -> moderation.CommentFilter | None:
    """The status, words and region chosen; a new choice goes back to the first page, another campaign clears
    the words and region (its regions may be another scheme's)."""
    if st.session_state.get(f"{_KEY}-slug") != slug:
        st.session_state[f"{_KEY}-slug"] = slug
        for name in ("words", "region"):
            st.session_state.pop(f"{_KEY}-{name}", None)
    status = st.segmented_control(
        "Show", list(STATUSES), default="pending", format_func=STATUSES.__getitem__, key=f"{_KEY}-status"
    )
    status = status or "pending"
    with access.reading() as session:
        regions = moderation.count_comments_by_region(
            session=session, campaign_id=campaign_id, status=status, keep=st.session_state.get(f"{_KEY}-region")
        )
    left, right = st.columns([3, 2])
    words = left.text_input(
        "Words in the comment",
        key=f"{_KEY}-words",
        max_chars=200,
        placeholder="e.g. library hours",
        help="Comments with every one of these words, in any letter case, anywhere in the text.",
    )
    names = {"": "Any region", **{code: f"{name} ({n:,})" for code, name, n in regions}}
    region = right.selectbox("Region", list(names), format_func=names.__getitem__, key=f"{_KEY}-region")
    chosen = moderation.CommentFilter(campaign_id, status, words, region or None)
    signature = (slug, status, " ".join(words.lower().split()), region)
    if st.session_state.get(f"{_KEY}-filter") != signature:
        st.session_state[f"{_KEY}-filter"] = signature
        st.session_state[f"{_KEY}-page"] = 1
    return chosen


def _fresh(name: str, *parts: object) -> str:
    """A widget key that changes with the filter and after every action: nothing stays chosen or ticked on rows
    that moved (after approving rows 1 to 3 of a page, the next comments take their places)."""
    shown = "|".join(str(p) for p in st.session_state.get(f"{_KEY}-filter", ()))
    return f"{_KEY}-{name}-{shown}-{st.session_state.get(f'{_KEY}-done-count', 0)}-" + "-".join(map(str, parts))


def _table(page: moderation.CommentPage, chosen: moderation.CommentFilter) -> list[int]:
    """The page's comments as data (never markup), with row selection; returns the chosen signature ids."""
    frame = pd.DataFrame(
        [
            {
                "comment": c.comment,
                "signer": c.first_name,
                "region": c.region_name,
                "signed": widgets.local_time(c.created_at).strftime("%d %b %Y %H:%M"),
                **({"featured": "★ featured" if c.featured else ""} if chosen.status == "approved" else {}),
            }
            for c in page.comments
        ]
    )
    event: Any = st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key=_fresh("table", page.page, page.per_page),
        column_config={
            "comment": st.column_config.TextColumn("comment", width="large"),
            "signer": st.column_config.TextColumn("signer", help="First name only"),
        },
    )
    rows = sorted(event.selection.rows) if event is not None else []
    picked = [page.comments[i] for i in rows if i < len(page.comments)]
    if picked:
        with st.expander(f"The {len(picked):,} chosen comment{'s' if len(picked) != 1 else ''} in full"):
            for item in picked:
                st.text(item.comment)
                st.caption(f"{widgets.plain(item.first_name)}, {widgets.plain(item.region_name)}")
    else:
        st.caption("Tick the box at the start of a row to choose it (the box in the header chooses the whole page).")
    return [c.signature_id for c in picked]


def _act_on_selected(
    actor: Actor, chosen: moderation.CommentFilter, page: moderation.CommentPage, ids: list[int]
) -> None:
    n = f" ({len(ids):,})" if ids else ""
    row = st.container(horizontal=True, key=f"{_KEY}-selected-actions")  # side by side, on a phone too
    if chosen.status != "approved":
        row.button(
            f"Approve selected{n}",
            type="primary",
            disabled=not ids,
            width="stretch",
            key=f"{_KEY}-approve-selected",
            on_click=_decide,
            args=(actor, "approve", chosen.campaign_id),
            kwargs={"signature_ids": ids},
        )
    if chosen.status == "approved":  # the wall's top: at most wall.FEATURED_MAX
        for label, on in (("Feature", True), ("Unfeature", False)):
            row.button(
                f"{label} selected{n}",
                disabled=not ids,
                width="stretch",
                key=f"{_KEY}-{label.lower()}-selected",
                on_click=_feature,
                args=(actor, ids, on),
                help=f"Featured comments show first on the campaign's wall, at most {wall.FEATURED_MAX}.",
            )
    if chosen.status != "hidden":
        row.button(
            f"Hide selected{n}",
            disabled=not ids,
            width="stretch",
            key=f"{_KEY}-hide-selected",
            on_click=_decide,
            args=(actor, "hide", chosen.campaign_id),
            kwargs={"signature_ids": ids},
        )


def _pager(page: moderation.CommentPage) -> None:
    """Previous, where we are, next, and the page size: one row, on a phone too."""
    last = page.first + len(page.comments) - 1
    where = f"Page {page.page:,} of {page.pages:,} ({page.first:,}–{last:,})"
    with widgets.pager(key=_KEY, page=page.page, pages=page.pages, where=where):
        st.selectbox(
            "Comments a page",
            PER_PAGE,
            index=PER_PAGE.index(page.per_page) if page.per_page in PER_PAGE else 1,
            key=f"{_KEY}-per-page",
            label_visibility="collapsed",
            format_func=lambda n: f"{n} a page",
            on_change=_go,
            args=(1,),
            width=130,
        )


def _go(page_no: int) -> None:
    st.session_state[f"{_KEY}-page"] = page_no


def _act_on_all(actor: Actor, chosen: moderation.CommentFilter, total: int) -> None:
    """Every comment the filter matches, on every page: once the organizer confirms how many that is."""
    what = "that match" if _narrowed(chosen) else STATUSES[chosen.status].lower()
    with st.container(border=True):
        sure = st.checkbox(
            f"All {total:,} comments {what}, on every page: I have looked at them",
            key=_fresh("sure", total),
        )
        row = st.container(horizontal=True)
        for action, label in (("approve", "Approve"), ("hide", "Hide")):
            if chosen.status == {"approve": "approved", "hide": "hidden"}[action]:
                continue
            row.button(
                f"{label} all {total:,}",
                disabled=not sure,
                width="stretch",
                key=f"{_KEY}-{action}-all",
                on_click=_decide,
                args=(actor, action, chosen.campaign_id),
                kwargs={"matching": chosen, "expected": total},
            )


def _decide(actor: Actor, action: str, campaign_id: int, **how: Any) -> None:
    """A button's callback: runs before the page, so the page then shows the new state."""
    decide = moderation.approve_comments if action == "approve" else moderation.hide_comments
    try:
        outcome = access.write(lambda s: decide(session=s, campaign_id=campaign_id, actor=actor, **how))
    except RallyError as exc:
        st.session_state[f"{_KEY}-failed"] = exc.user_message
        return
    reads.forget_public_reads()
    st.session_state[f"{_KEY}-done-count"] = st.session_state.get(f"{_KEY}-done-count", 0) + 1
    one = outcome.changed == 1
    if action == "approve":
        done = "approved: it shows on the campaign's page" if one else "approved: they show on the campaign's page"
    else:
        done = "hidden from the public"
    message = f"{outcome.changed:,} comment{'' if one else 's'} {done}."
    if outcome.changed < outcome.chosen:
        message += f" {outcome.chosen - outcome.changed:,} already were."
    st.session_state[f"{_KEY}-done"] = message + (" Recorded in the audit log." if outcome.changed else "")


def _feature(actor: Actor, ids: list[int], on: bool) -> None:
    """A button's callback: feature (or unfeature) the chosen comments, all or none."""
    change = wall.feature_comment if on else wall.unfeature_comment

    def work(session: Any) -> None:
        for signature_id in ids:
            change(session=session, signature_id=signature_id, actor=actor)

    try:
        access.write(work)
    except RallyError as exc:
        st.session_state[f"{_KEY}-failed"] = exc.user_message
        return
    reads.forget_public_reads()
    st.session_state[f"{_KEY}-done-count"] = st.session_state.get(f"{_KEY}-done-count", 0) + 1
    one = len(ids) == 1
    st.session_state[f"{_KEY}-done"] = f"{len(ids):,} comment{'' if one else 's'} " + (
        "featured at the top of the campaign's wall." if on else "no longer featured."
    )


def _outcome() -> None:
    """What the last action did (set by its button's callback, shown once)."""
    done = st.session_state.pop(f"{_KEY}-done", None)
    if done:
        st.success(done, icon=":material/check_circle:")
        st.toast(done, icon=":material/check_circle:")  # seen where the buttons are too, far down on a phone
    failed = st.session_state.pop(f"{_KEY}-failed", None)
    if failed:
        st.error(failed)
        st.toast(failed, icon=":material/error:")
