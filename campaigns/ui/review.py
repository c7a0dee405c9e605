"""Organizers' trust pages: review a campaign's signatures in bulk (with its trending alerts), and the sign rules
(blocklists and allowlists). The rules live in campaigns.signatures (review, flood, rules)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from campaigns.catalog import lifecycle, listing
from campaigns.core.errors import RallyError
from campaigns.core.models import utcnow
from campaigns.signatures import flood, review
from campaigns.signatures import rules as sign_rules
from campaigns.ui import access, errors, reads, widgets

STATUS_LABELS = {
    "flagged": "Held for review (flagged)",
    "counted": "Counted",
    "pending": "Waiting for email confirmation",
    "invalidated": "Invalidated",
}
REASON_TEXT = {
    "rate:minute": "over the per-minute limit of its address",
    "rate:hour": "over the per-hour limit of its address",
    "rate:campaign": "over the campaign's burst limit",
    "blocklist:email": "email on the blocklist",
    "blocklist:address": "address on the blocklist",
}


def render_trends(campaign_id: int, *, title: str | None = None, where: str = "below") -> None:
    """Trending alerts for one campaign (staff pages only: they name addresses)."""
    with access.reading() as session:
        trends = flood.find_trends(session=session, campaign_id=campaign_id, now=utcnow())
    on = f" on “{widgets.plain(title)}”" if title else ""
    for trend in trends:
        st.warning(
            f"**{flood.TREND_KINDS[trend.kind]} {widgets.plain(trend.value)}** signed {trend.count:,} times{on} in "
            f"the last hour ({trend.share:.0%} of its signatures): far above everyone else. Review them {where}.",
            icon=":material/trending_up:",
        )


def render_trends_for(slug: str) -> None:
    """The staff dashboard's alerts for one campaign."""
    with access.reading() as session:
        campaign = listing.get_campaign_by_slug(session=session, slug=slug)
    if campaign is not None:
        render_trends(campaign.id or 0, where="on [Review signatures](/review)")


def render_trends_of(campaigns: list[tuple[int, str]]) -> None:
    """The overview's alerts: every listed (campaign id, title) signing far above its rate somewhere."""
    for campaign_id, title in campaigns:
        render_trends(campaign_id, title=title, where="on [Review signatures](/review)")


def render_review() -> None:
    actor = access.require("organizer")
    st.title("Review signatures")
    _outcome()
    with access.reading() as session:
        campaigns = lifecycle.list_campaigns_for_staff(session=session)
    choices = widgets.campaign_choices(campaigns, "No campaigns yet.")
    if not choices:
        return
    slug = st.selectbox("Campaign", list(choices), format_func=choices.__getitem__, key="review-campaign")
    with access.reading() as session:
        campaign = listing.get_campaign_by_slug(session=session, slug=slug)
    if campaign is None:
        st.info("That campaign is gone. Pick another.")
        return
    render_trends(campaign.id or 0)
    st.caption(
        "Signatures over a rate limit or on a blocklist are held for review: stored, not counted, not exported, "
        "and their signers see the usual thank-you. Find a group, look at it, then count it or invalidate it."
    )
    with st.container(border=True):
        statuses = st.multiselect(
            "Which signatures", list(STATUS_LABELS), default=["flagged"], format_func=STATUS_LABELS.__getitem__
        )
        left, right = st.columns(2)
        address = left.text_input("Client address or range", placeholder="203.0.113.9 or 203.0.113.0/24")
        domain = right.text_input("Email domain", placeholder="example.org")
        postal = left.text_input("Postal code")
        hours = right.selectbox(
            "Signed in", [0, 1, 6, 24, 24 * 7], format_func=lambda h: "any time" if not h else f"the last {h} h"
        )
    chosen = review.ReviewFilter(
        campaign_id=campaign.id or 0,
        statuses=tuple(statuses),
        client_address=address or None,
        email_domain=domain or None,
        postal_code=postal or None,
        since=utcnow() - timedelta(hours=hours) if hours else None,
    )
    with errors.shown(each_field=True) as failed, access.reading() as session:
        page = review.find(session=session, review=chosen)
    if failed:
        return
    counts = ", ".join(f"{STATUS_LABELS[s].lower()} {n:,}" for s, n in sorted(page.by_status.items()))
    st.subheader(f"{page.total:,} signature{'s' if page.total != 1 else ''} match", anchor=False)
    if not page.total:
        st.info("Nothing matches. Widen the filter.")
        return
    st.caption(counts + (f". The newest {len(page.rows):,} are shown." if len(page.rows) < page.total else "."))
    st.dataframe(_table(page.rows), hide_index=True, width="stretch")
    sure = st.checkbox(f"I have looked at these {page.total:,} signatures", key="review-sure")
    count, invalidate = st.columns(2)
    count.button(
        "Count them",
        disabled=not sure,
        width="stretch",
        key="review-validate",
        on_click=_apply,
        args=(chosen, "validate", actor),
    )
    invalidate.button(
        "Invalidate them",
        disabled=not sure,
        type="primary",
        width="stretch",
        key="review-invalidate",
        on_click=_apply,
        args=(chosen, "invalidate", actor),
    )


def _outcome() -> None:
    """What the last bulk action did (set by its button's callback, shown once)."""
    done = st.session_state.pop("review-done", None)
    if done:
        st.success(done, icon=":material/fact_check:")
    failed = st.session_state.pop("review-failed", None)
    if failed:
        st.error(failed)


def _table(rows: list[review.ReviewRow]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "signed": widgets.local_time(r.created_at).strftime("%d %b %H:%M:%S"),
                "name": r.full_name,
                "email": r.email,
                "address": r.client_address or "",
                "postal code": r.postal_code or "",
                "region": r.region_code,
                "status": STATUS_LABELS.get(r.status, r.status),
                "why held": REASON_TEXT.get(r.flag_reason or "", r.flag_reason or "") if r.status == "flagged" else "",
            }
            for r in rows
        ]
    )


def _apply(chosen: review.ReviewFilter, action: str, actor) -> None:
    """A button's callback: runs before the page, so the page then shows the new state."""
    try:
        outcome = access.write(lambda s: review.apply(session=s, review=chosen, action=action, actor=actor))
    except RallyError as exc:
        st.session_state["review-failed"] = exc.user_message
        return
    reads.forget_public_reads()
    if action == "validate":
        message = f"{outcome.now_counted:,} now count."
        if outcome.now_pending:
            message += f" {outcome.now_pending:,} count once their signers confirm their email."
    else:
        message = f"{outcome.invalidated:,} invalidated; {outcome.no_longer_counted:,} of them counted until now."
    st.session_state["review-done"] = message + " Recorded in the audit log."
    st.session_state["review-sure"] = False


# --- sign rules ----------------------------------------------------------------------------------------

KIND_LABELS = {"email": "Email pattern", "address": "Client address or range"}
ACTION_LABELS = {"block": "Block (hold for review)", "allow": "Allow (no per-address limit)"}


def render_rules() -> None:
    actor = access.require("organizer", "admin")
    st.title("Sign rules")
    st.markdown(
        "**Block** an email pattern (`*@mailinator.com`, `bot?*@example.org`) or an address range "
        "(`203.0.113.0/24`): matching signatures are held for review, and their signers see the usual thank-you. "
        "**Allow** a shared address (your office, a university's network) so that many people signing from it "
        "are not held by the per-address limit."
    )
    with access.reading() as session:
        rules = sign_rules.list_rules(session=session)
    with st.form("new-rule", border=True):
        left, right = st.columns(2)
        kind = left.selectbox("Kind", list(KIND_LABELS), format_func=KIND_LABELS.__getitem__)
        action = right.selectbox("Rule", list(ACTION_LABELS), format_func=ACTION_LABELS.__getitem__)
        pattern = st.text_input("Pattern", max_chars=sign_rules.PATTERN_MAX)
        note = st.text_input("Note (why; optional)", max_chars=200)
        slot = st.empty()
        if st.form_submit_button("Add rule", type="primary"):
            with errors.shown(slot) as failed:  # an InvalidInput's first message is its user_message
                added = access.write(
                    lambda s: sign_rules.add_rule(
                        session=s, kind=kind, action=action, pattern=pattern, note=note, actor=actor
                    ),
                )
            if not failed:
                st.toast("Added." if added else "That rule exists already.")
                st.rerun()
    if not rules:
        st.info("No rules yet.")
        return
    for rule in rules:
        with st.container(border=True):
            left, right = st.columns([4, 1])
            left.markdown(
                f"**{ACTION_LABELS[rule.action].split(' (')[0]}** {KIND_LABELS[rule.kind].lower()} "
                f"`{widgets.plain(rule.pattern)}`"
            )
            if rule.note:
                left.caption(widgets.plain(rule.note))
            if right.button("Remove", key=f"remove-rule-{rule.id}"):
                with errors.friendly_errors():
                    access.write(lambda s, i=rule.id: sign_rules.remove_rule(session=s, rule_id=i, actor=actor))  # type: ignore[misc]  # mypy can't type a lambda with a default
                    st.rerun()
