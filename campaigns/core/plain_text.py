"""Text shown literally inside markdown, and markdown read back as plain text: the one home of both rules.

``escape`` makes any text (a supporter's, a member's, a target's) show exactly as typed when rendered as markdown:
every character markdown could read as markup is backslash-escaped, and bare addresses are kept from becoming links
(GitHub-flavoured markdown finds ``https://...``, ``www.`` and ``name@host`` *after* escapes are resolved, so an
invisible word joiner goes after the scheme, ``www`` and ``@``). ``unescape`` undoes it for a plain-text email.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>:$&=\"'])")
_AUTOLINK = re.compile(r"(?i)(https?(?=:)|ftp(?=:)|mailto(?=:)|xmpp(?=:)|www(?=\.)|@(?=\w))")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark: a backslash escapes any ASCII punctuation
WORD_JOINER = "\u2060"


def escape(text: str) -> str:
    """``text`` for st.markdown (or a markdown message) that shows it literally; line breaks kept."""
    joined = _AUTOLINK.sub(lambda m: m.group(1) + WORD_JOINER, text)
    return _SPECIAL.sub(r"\\\1", joined).replace("\n", "  \n")


def unescape(markdown: str) -> str:
    """Markdown's backslash escapes resolved and the word joiners dropped: what a plain-text email should say."""
    return _ESCAPED.sub(r"\1", markdown).replace(WORD_JOINER, "").replace("  \n", "\n")
