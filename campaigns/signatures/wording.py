"""What both sign pages say (the form's note on comments, the thank-you after a sign-on), in one place for the
Streamlit campaign page and the light page ``/s/<slug>``, so they always say the same.

The sentences are short markdown (``**bold**`` and ``[a link](/path)`` only). What came from a person or an
upload (the signer's name, the region's name) is passed through the caller's ``escape``: Streamlit's page makes
it literal markdown, the light page HTML (``web/light.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from campaigns.core.validation import COMMENT_MAX
from campaigns.signatures.signing import SignResult

Escape = Callable[[str], str]

COMMENT_NOTE = (
    f"Up to {COMMENT_MAX:,} characters. Comments appear publicly only after an organizer reviews them, "
    "with the date alone unless you tick the box above. Your email is never shown."
)
COMMENT_CREDIT = "Show my first name and region with my comment"
COMMENT_LABEL = "Why are you signing? (optional)"
SUBMIT = "Sign the campaign"
NEXT_STEP = "**Next: bring three more people.** Campaigns grow when friends ask friends: send them the link."
OUTBOX_NOTE = (
    "Email is not set up on this Rally yet: the message was written to a test folder on the server instead of "
    "being sent."
)
RECEIPT_INTRO = (
    "**Your receipt.** Keep this link (bookmark it): it lets you see, withdraw or erase this signature later, "
    "without email."
)
RECEIPT_WARNING = "Anyone with this link can change this signature: keep it to yourself."
CHANGED_MIND = "Changed your mind later? [See, withdraw or erase your signature](/my-data)."


@dataclass(frozen=True)
class ThankYou:
    """The thank-you's headline and its paragraphs (markdown); ``check_inbox``: the signature counts once its
    signer opens the emailed link."""

    headline: str
    paragraphs: tuple[str, ...]
    check_inbox: bool


def thank_you(done: SignResult, *, escape: Escape, confirm_link_days: int, confirmed: bool = False) -> ThankYou:
    """The thank-you for ``done`` (built only from what this visitor typed: the same for a new and a repeated
    signature). ``confirmed``: shown after the signer followed their confirmation link."""
    name = escape(done.full_name)
    if done.confirm_by_email and not confirmed:
        return ThankYou(
            headline=f"Thank you, {name}. One last step: check your inbox.",
            paragraphs=(
                "We emailed you a link to confirm your signature: **it counts once you open it** "
                f"(within {confirm_link_days} days). If it isn't there in a few minutes, look in your spam folder.",
            ),
            check_inbox=True,
        )
    return ThankYou(
        headline=f"Thank you, {name}. Your name is on it.",
        paragraphs=(f"{signed_so_far(done.total)} Your signature counts for {escape(done.region_name)}.",),
        check_inbox=False,
    )


def closed_message(total: int) -> str:
    """What a closed campaign's page says instead of the form."""
    if total == 0:
        return "This campaign has closed and no longer accepts signatures."
    signed = "1 person signed it. Thank you." if total == 1 else f"{total:,} people signed it. Thank you, every one."
    return f"This campaign has closed. {signed}"


def signed_so_far(total: int) -> str:
    """Where this signer stands: the first, or one of everyone who has signed (never "one of 1 people")."""
    if total <= 1:
        return "You're the first to sign."
    return f"You're one of **{total:,}** people who have signed so far."
