"""PhoneGate's data model. Import models from here; every module is imported so Alembic sees all tables."""

from server.models.audit import GENESIS_HASH, AuditEntry
from server.models.catalogue import CatalogueApp, CatalogueAppFile, Installation, InstallGrant
from server.models.compliance import (
    ComplianceDaily,
    ComplianceResult,
    ComplianceRulesVersion,
    DevicePrecheck,
    DeviceRuleState,
    HolderNotice,
    Sweep,
    SweepClaim,
)
from server.models.devices import (
    ALLOWED_TRANSITIONS,
    ENROLLED,
    HOLDS_APPROVAL,
    BroadcastDesignation,
    Device,
    DeviceRole,
    DeviceState,
    PhoneAction,
)
from server.models.enrolment import EnrolmentRequest, EnrolmentStatus
from server.models.follow_ups import FollowUp
from server.models.incidents import INCIDENT_TRANSITIONS, Incident, IncidentKind, IncidentNote, IncidentStatus
from server.models.org import Service, Team
from server.models.people import Role, StaffMember, User
from server.models.policy import Acknowledgement, PolicyVersion
from server.models.reviews import ConversationReview, ReviewOutcome
from server.models.sessions import WebSession
from server.models.spot_checks import (
    ANSWERS,
    OPEN_SPOT_CHECK,
    SpotCheck,
    SpotCheckAnswer,
    SpotCheckOutcome,
    SpotCheckSample,
    SpotCheckStatus,
)
from server.models.tokens import ApiToken
from server.models.types import UTCDateTime, utcnow

__all__ = [
    "ANSWERS",
    "INCIDENT_TRANSITIONS",
    "OPEN_SPOT_CHECK",
    "ConversationReview",
    "FollowUp",
    "HolderNotice",
    "Incident",
    "IncidentKind",
    "IncidentNote",
    "IncidentStatus",
    "ReviewOutcome",
    "SpotCheck",
    "SpotCheckAnswer",
    "SpotCheckOutcome",
    "SpotCheckSample",
    "SpotCheckStatus",
    "ALLOWED_TRANSITIONS",
    "ENROLLED",
    "HOLDS_APPROVAL",
    "GENESIS_HASH",
    "Acknowledgement",
    "ApiToken",
    "AuditEntry",
    "BroadcastDesignation",
    "CatalogueApp",
    "CatalogueAppFile",
    "ComplianceDaily",
    "ComplianceRulesVersion",
    "ComplianceResult",
    "Device",
    "DeviceRole",
    "DevicePrecheck",
    "DeviceRuleState",
    "DeviceState",
    "EnrolmentRequest",
    "EnrolmentStatus",
    "InstallGrant",
    "Installation",
    "PhoneAction",
    "PolicyVersion",
    "Role",
    "Service",
    "StaffMember",
    "Sweep",
    "SweepClaim",
    "Team",
    "UTCDateTime",
    "User",
    "WebSession",
    "utcnow",
]
