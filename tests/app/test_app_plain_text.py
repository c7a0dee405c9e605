"""widgets.plain: supporter and member text shows as typed in st.markdown, and bare addresses in it are not links.

Streamlit's markdown (GitHub-flavoured, mdast-util-gfm-autolink-literal) finds bare addresses in the text *after*
backslash escapes are resolved, with the two patterns below (copied from Streamlit's bundled frontend), so the
escaped text must not match them once its backslashes are gone."""

from __future__ import annotations

import re

import pytest

from campaigns.ui import widgets

# JavaScript's \w is ASCII: re.ASCII. The lookbehind of the email pattern is left out (it only narrows matches).
GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE | re.ASCII)
GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.ASCII)


def unescaped(markdown: str) -> str:
    """The text markdown sees once escapes are resolved (what the autolink patterns run on)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("  \n", "\n")


@pytest.mark.parametrize(
    "text",
    [
        "Read https://evil.example/login now",
        "HTTP://EVIL.EXAMPLE",
        "see www.evil.example",
        "write to boss@evil.example please",
        "[click](https://evil.example) <b>x</b> **bold**",
    ],
)
def test_bare_addresses_in_plain_text_are_not_links(text):
    shown = unescaped(widgets.plain(text))
    assert not GFM_URL.search(shown), shown
    assert not GFM_EMAIL.search(shown), shown
    assert shown.replace("\u2060", "") == text  # what a person reads is exactly what was typed


def test_words_that_only_look_like_schemes_are_left_alone():
    assert widgets.plain("httpd and www and a@") == r"httpd and www and a@"


def test_nested_markdown_puts_an_updates_headings_under_the_section():
    text = "# Big\n## Thank you\nText\n\nSub\n===\n\nOther\n---\n\n---\n- item\n---\n```\n# code\n```\n###### six\n#tag"
    assert widgets.nested_markdown(text).split("\n") == [
        "#### Big",
        "##### Thank you",
        "Text",
        "",
        "#### Sub",
        "",
        "##### Other",
        "",
        "---",  # a rule after a blank line, not a heading
        "- item",
        "---",
        "```",
        "# code",  # fenced code is left alone
        "```",
        "###### six",  # at most level 6
        "#tag",  # no space: not a heading
    ]
