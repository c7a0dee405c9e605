"""Tables and their schemas, one module per entity family (a table with the models built from it).

Every module is imported here and its names re-exported, for two reasons: ``from campaigns.core.models import
Campaign`` is how the rest of Rally names a model, and importing this package is what registers every table on
``SQLModel.metadata`` (Alembic's ``env.py`` and the schema test rely on it). The modules import nothing of Rally
but each other, so this eager import makes no cycle.
"""

from campaigns.core.models.audit_entry import AuditEntry
from campaigns.core.models.campaign import (
    DEFAULT_CONSENT_TEXT,
    Campaign,
    CampaignBase,
    CampaignCreate,
    CampaignOutcome,
    CampaignPublic,
    CampaignStatus,
    CampaignSummary,
    CampaignUpdate,
    ConsentWording,
)
from campaigns.core.models.columns import UTCDateTime, utc_column, utcnow
from campaigns.core.models.counts import HourlyCount, RegionCount, RegionDayCount
from campaigns.core.models.custom_region import CustomRegion, CustomRegionScheme
from campaigns.core.models.letter import Letter, LetterView
from campaigns.core.models.outbox_message import OutboxMessage, OutboxStatus
from campaigns.core.models.outreach import DeliveryView, Outreach, OutreachChannel, OutreachStatus
from campaigns.core.models.proposal import Proposal, ProposalMessage, ProposalSponsor, ProposalStatus
from campaigns.core.models.question import (
    Answer,
    AnswerCount,
    FreeTextStatus,
    Question,
    QuestionOption,
    QuestionStatus,
)
from campaigns.core.models.sign_rule import SignRule, SignRuleAction, SignRuleKind
from campaigns.core.models.signature import CommentStatus, Signature, SignatureSource, SignatureStatus, SignatureView
from campaigns.core.models.signer_update import SignerUpdate, UpdateKind, UpdateStatus
from campaigns.core.models.supporter_token import SupporterToken
from campaigns.core.models.target import Target
from campaigns.core.models.target_response import TargetResponse
from campaigns.core.models.user import AuthSession, LoginAttempt, Role, User, UserBase, UserPublic, UserRole

__all__ = [
    "DEFAULT_CONSENT_TEXT",
    "Answer",
    "AnswerCount",
    "AuditEntry",
    "AuthSession",
    "Campaign",
    "CampaignBase",
    "CampaignCreate",
    "CampaignOutcome",
    "CampaignPublic",
    "CampaignStatus",
    "CampaignSummary",
    "CampaignUpdate",
    "CommentStatus",
    "ConsentWording",
    "CustomRegion",
    "CustomRegionScheme",
    "DeliveryView",
    "FreeTextStatus",
    "HourlyCount",
    "Letter",
    "LetterView",
    "LoginAttempt",
    "OutboxMessage",
    "OutboxStatus",
    "Outreach",
    "OutreachChannel",
    "OutreachStatus",
    "Proposal",
    "ProposalMessage",
    "ProposalSponsor",
    "ProposalStatus",
    "Question",
    "QuestionOption",
    "QuestionStatus",
    "RegionCount",
    "RegionDayCount",
    "Role",
    "SignRule",
    "SignRuleAction",
    "SignRuleKind",
    "Signature",
    "SignatureSource",
    "SignatureStatus",
    "SignatureView",
    "SignerUpdate",
    "SupporterToken",
    "Target",
    "TargetResponse",
    "UTCDateTime",
    "UpdateKind",
    "UpdateStatus",
    "User",
    "UserBase",
    "UserPublic",
    "UserRole",
    "utc_column",
    "utcnow",
]
