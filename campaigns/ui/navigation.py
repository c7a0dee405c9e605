"""Which pages each person may see. Pages outside this list cannot be reached by URL either, except staff pages:
they are there, hidden, for everyone else, so that opening one says "log in" (or "not your role") instead of
Streamlit's "page not found"; each staff page checks who is looking itself (``access.require``)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from campaigns.core.audit import Actor
from campaigns.ui import (
    account,
    admin,
    confirm,
    dashboard,
    mail,
    moderation,
    my_data,
    organize,
    organize_parts,
    paper,
    proposal_queue,
    proposals,
    public,
    questions,
    review,
)
from campaigns.ui import export as export_page

PageSpec = tuple[Callable[[], None], str, str, str]  # render, title, url path, icon

PUBLIC: list[PageSpec] = [
    (public.render, "Campaigns", "campaigns", ":material/campaign:"),
    (dashboard.render, "Live dashboard", "dashboard", ":material/monitoring:"),
    (my_data.render, "Your data", "my-data", ":material/shield_person:"),
    (proposals.render_propose, "Propose a campaign", proposals.PROPOSE_PATH, ":material/lightbulb:"),
]
ROLE_PAGES: dict[str, tuple[str, list[PageSpec]]] = {
    "organizer": (
        "Organize",
        [
            (organize.render_overview, "Overview", "overview", ":material/dashboard:"),
            (organize.render_editor, "Campaign editor", "editor", ":material/edit:"),
            (moderation.render, "Comments to review", moderation.URL_PATH, ":material/forum:"),
            (proposal_queue.render, "Proposals", proposal_queue.URL_PATH, ":material/lightbulb:"),
            (organize_parts.render_regions, "Region schemes", "regions", ":material/map:"),
            (paper.render, "Paper signatures", "paper", ":material/upload_file:"),
            (review.render_review, "Review signatures", "review", ":material/fact_check:"),
            (review.render_rules, "Sign rules", "rules", ":material/rule:"),
            (mail.render, "Mail", "mail", ":material/outgoing_mail:"),
        ],
    ),
    "coordinator": (
        "Coordinate",
        [
            (organize.render_overview, "Overview", "overview", ":material/dashboard:"),
            (export_page.render, "Export signers", "export", ":material/download:"),
            (paper.render, "Paper signatures", "paper", ":material/upload_file:"),
        ],
    ),
    "admin": (
        "Admin",
        [
            (admin.render_people, "People", "people", ":material/group:"),
            (admin.render_audit, "Audit log", "audit", ":material/history:"),
            (review.render_rules, "Sign rules", "rules", ":material/rule:"),
            (mail.render, "Mail", "mail", ":material/outgoing_mail:"),
        ],
    ),
}
ACCOUNT: list[PageSpec] = [
    (account.render, "Account", "account", ":material/person:"),
    (account.render_password, "Password", "password", ":material/password:"),
]
# Reachable by URL for everyone, listed in no menu (an unknown path falls back to the default page). The embed
# widget is no page: web/embed.py serves /embed as static HTML.
HIDDEN: list[PageSpec] = [
    (confirm.render, "Confirm your signature", confirm.URL_PATH, ":material/verified:"),
    (proposals.render_own, "Your proposal", proposals.OWN_PATH, ":material/lightbulb:"),
    (proposals.render_sponsor, "Co-sponsor a proposal", proposals.SPONSOR_PATH, ":material/group_add:"),
    (
        proposals.render_sponsor_confirm,
        "Confirm your co-sponsorship",
        proposals.SPONSOR_CONFIRM_PATH,
        ":material/verified:",
    ),
    (proposals.render_declined, "Declined proposals", proposals.DECLINED_PATH, ":material/block:"),
    (questions.render_answer_page, "A question from the organizers", questions.URL_PATH, ":material/how_to_vote:"),
]


def page_specs(actor: Actor | None) -> dict[str, list[PageSpec]]:
    """Section title -> pages, for this person (anonymous visitors: the public pages only)."""
    sections: dict[str, list[PageSpec]] = {"": list(PUBLIC)}
    if actor is None:
        return sections
    seen: set[str] = set()
    for role, (section, specs) in ROLE_PAGES.items():
        if actor.has(role):
            fresh = [spec for spec in specs if spec[2] not in seen]  # one page per URL, whatever the roles
            seen.update(spec[2] for spec in fresh)
            if fresh:
                sections.setdefault(section, []).extend(fresh)
    sections["Account"] = list(ACCOUNT)
    return sections


def staff_paths() -> frozenset[str]:
    """Every staff page's path ("/overview", ...): what ``web.middleware.StaffLoginMiddleware`` guards."""
    return frozenset(f"/{spec[2]}" for _, specs in ROLE_PAGES.values() for spec in specs) | {
        f"/{spec[2]}" for spec in ACCOUNT
    }


def _hidden_staff_specs(shown: set[str]) -> list[PageSpec]:
    """The staff pages this person may not see, once each: reachable by URL to say why (their render refuses)."""
    specs: dict[str, PageSpec] = {}
    for _, role_specs in ROLE_PAGES.values():
        for spec in [*role_specs, *ACCOUNT]:
            if spec[2] not in shown:
                specs.setdefault(spec[2], spec)
    return list(specs.values())


def build(actor: Actor | None) -> dict[str, list[st.Page]]:
    specs = page_specs(actor)
    sections = {
        section: [
            st.Page(render, title=title, url_path=path, icon=icon, default=(path == "campaigns"))
            for render, title, path, icon in section_specs
        ]
        for section, section_specs in specs.items()
    }
    shown = {spec[2] for section_specs in specs.values() for spec in section_specs}
    hidden = [
        st.Page(fn, title=t, url_path=path, icon=icon, visibility="hidden")
        for fn, t, path, icon in [*HIDDEN, *_hidden_staff_specs(shown)]
    ]
    sections[""] += hidden
    return sections
