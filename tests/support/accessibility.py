"""Accessibility checks in a real browser: axe-core (vendored, tests only) run on a page Rally serves.

``violations(page)`` injects ``vendor/axe-core/axe.min.js`` through the DevTools protocol (Playwright's
``evaluate``: the page's Content-Security-Policy stays as it is, and forbids inline scripts), waits until
Streamlit has finished drawing, runs axe's default rules (WCAG 2.0-2.2 A and AA, and best practices) and
returns the serious and critical violations, each as ``rule id (impact): selector :: element :: what is
wrong``, minus the ``EXCUSED`` ones.

``EXCUSED`` holds the few violations that are inside Streamlit's own markup, which Rally cannot change
(it adds no scripts; CSS cannot change what an element is): each one is a rule id and the CSS selector of
exactly the elements concerned, with the reason. A violation anywhere else fails the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

AXE_VERSION = "4.14.1"
AXE_SCRIPT = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")


@dataclass(frozen=True)
class Excused:
    rule: str
    selector: str  # the elements it applies to, and no others
    why: str


EXCUSED = (
    Excused(
        "list",
        'ul[data-testid="stSidebarNavItems"]',
        "Streamlit 1.67's navigation menu (staff, at phone width) puts each section's header and links in a <div> "
        "directly inside its <ul>; the links themselves are reachable and named.",
    ),
    Excused(
        "listitem",
        'ul[data-testid="stSidebarNavItems"] > div > li',
        "The same menu: a section's links are <li> elements inside that <div>, not directly inside the <ul>.",
    ),
)

_SETTLED = """() => !document.querySelector('[data-stale="true"]')
    && !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')
    && !document.querySelector('[data-testid="stSkeleton"]')"""

_RUN = """async ({excused, impacts}) => {
    const result = await axe.run(document, {resultTypes: ['violations']});
    const found = [];
    for (const v of result.violations) {
        if (!impacts.includes(v.impact)) continue;
        for (const node of v.nodes) {
            const selector = node.target.join(' ');
            const el = node.target.length === 1 ? document.querySelector(node.target[0]) : null;
            const ok = el && excused.some(([rule, sel]) => rule === v.id && el.matches(sel));
            if (!ok) found.push(`${v.id} (${v.impact}): ${selector} :: ${node.html.slice(0, 120)} :: `
                + node.failureSummary.replace(/\\s+/g, ' ').slice(0, 240));
        }
    }
    return found;
}"""


def settle(page: Any, pause_ms: int = 400) -> None:
    """Wait until Streamlit has drawn the page: nothing stale, no script running, no placeholder skeleton."""
    page.wait_for_function(_SETTLED)
    page.wait_for_timeout(pause_ms)
    page.wait_for_function(_SETTLED)


def violations(page: Any) -> list[str]:
    """The page's serious and critical axe-core violations that are not ``EXCUSED``, one line each."""
    settle(page)
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT.read_text("utf-8"))
    assert page.evaluate("() => axe.version") == AXE_VERSION
    excused = [[e.rule, e.selector] for e in EXCUSED]
    return page.evaluate(_RUN, {"excused": excused, "impacts": list(FAILING_IMPACTS)})
