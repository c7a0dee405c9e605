"""What a letter may use, and how it fails: the limits, the views of signer, target and campaign, the allow-list.

The size and time limits (:data:`SOURCE_MAX`, :data:`OUTPUT_MAX`, :data:`RENDER_SECONDS` and the internal
``WORK_MAX``/``INT_BITS_MAX``), the read-only views a template sees (:class:`LetterContext` and its parts), the
documented allow-list :data:`ALLOWED`, the sample supporters used for trial renders, and the errors every
layer raises (:class:`TemplateRejected` at save, :class:`RenderStopped` at render) with their shared messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from campaigns.core.errors import InvalidInput, RallyError
from campaigns.core.models import utcnow
from campaigns.core.settings import PROJECT_ROOT

SOURCE_MAX = 20_000  # characters of template source
OUTPUT_MAX = 20_000  # characters of rendered output
RENDER_SECONDS = 1.0  # wall-clock budget per render
WORK_MAX = 10 * OUTPUT_MAX  # characters produced anywhere (macros, set blocks, loops) in one render
INT_BITS_MAX = 128  # no number bigger than ~38 digits: letters count people, not atoms
STOCK_DIR = PROJECT_ROOT / "letter_templates"


# --------------------------------------------------------------------------- what a letter may use


@dataclass(frozen=True, slots=True)
class SignerView:
    first_name: str
    full_name: str
    region_name: str | None = None
    postal_code: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class TargetView:
    name: str
    title: str = ""
    postal_address: str = ""


@dataclass(frozen=True, slots=True)
class CampaignView:
    title: str
    purpose: str
    goal: int
    count: int


@dataclass(frozen=True)
class LetterContext:
    signer: SignerView
    target: TargetView
    campaign: CampaignView
    today: str  # preformatted, e.g. "22 November 2026"

    def variables(self) -> dict[str, Any]:
        return {"signer": self.signer, "target": self.target, "campaign": self.campaign, "today": self.today}


VIEWS: dict[str, type] = {"signer": SignerView, "target": TargetView, "campaign": CampaignView}
VIEW_FIELDS: dict[type, frozenset[str]] = {v: frozenset(f.name for f in fields(v)) for v in VIEWS.values()}

#: The documented allow-list: attributes may only be read from these, and only these attributes.
ALLOWED: dict[str, frozenset[str] | None] = {name: VIEW_FIELDS[view] for name, view in VIEWS.items()} | {"today": None}
LOOP_ATTRS = frozenset(
    "index index0 revindex revindex0 first last length depth depth0 previtem nextitem cycle changed".split()
)


def date_text(moment: datetime | None = None) -> str:
    """A date as letters print it (``today``, the PDF's date line): "22 November 2026"; now when not given."""
    return f"{moment or utcnow():%-d %B %Y}"


def sample_context() -> LetterContext:
    """A realistic supporter, decision-maker and campaign for previews and ``templates check``."""
    return LetterContext(
        signer=SignerView(
            first_name="Amara",
            full_name="Amara Okafor",
            region_name="Ohio",
            postal_code="43215",
            comment="The Main Street branch is where my kids learned to read. Please keep it open on Saturdays.",
        ),
        target=TargetView(
            name="Jordan Ellis",
            title="Senator",
            postal_address="Room 201, Ohio Statehouse\n1 Capitol Square\nColumbus, OH 43215",
        ),
        campaign=CampaignView(
            title="Fund the libraries",
            purpose="Keep every branch library open on weekends, so working families can use them.",
            goal=10_000,
            count=4_217,
        ),
        today="22 November 2026",
    )


def sparse_context() -> LetterContext:
    """Every optional detail missing: templates must cope with this supporter too."""
    return LetterContext(
        signer=SignerView(first_name="Sam", full_name="Sam Lee"),
        target=TargetView(name="Alex Morgan"),
        campaign=CampaignView(title="Fund the libraries", purpose="Keep libraries open.", goal=100, count=0),
        today="1 January 2027",
    )


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class TemplateProblem:
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}" if self.line else self.message


class TemplateRejected(InvalidInput):
    """The template can't be saved; ``problems`` says where and why, line by line."""

    def __init__(self, problems: Sequence[TemplateProblem], *, field_name: str = "template") -> None:
        self.problems = sorted(set(problems), key=lambda p: (p.line or 0, p.message))
        super().__init__({field_name: "\n".join(str(p) for p in self.problems[:10])})


class RenderStopped(RallyError):
    """The template ran too long, produced too much, or failed while filling in a letter."""

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        super().__init__(f"Line {line}: {reason}" if line else reason)
        self.reason = reason
        self.line = line


TOO_LONG = (
    f"The template took longer than {RENDER_SECONDS:g} second to fill in, so it was stopped. "
    "Look for loops or macros that repeat too often."
)
TOO_MUCH = (
    f"The template made more than {OUTPUT_MAX:,} characters, so it was stopped. "
    "Letters must be shorter; look for loops that repeat text."
)
