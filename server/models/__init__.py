"""PhoneGate's data model. Import models from here; every module is imported so Alembic sees all tables."""

from server.models.audit import GENESIS_HASH, AuditEntry
from server.models.catalogue import CatalogueApp, Installation, InstallGrant
from server.models.compliance import (
    ComplianceDaily,
    ComplianceResult,
    ComplianceRulesVersion,
    DeviceRuleState,
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
)
from server.models.enrolment import EnrolmentRequest, EnrolmentStatus
from server.models.org import Service, Team
from server.models.people import Role, StaffMember, User
from server.models.policy import Acknowledgement, PolicyVersion
from server.models.sessions import WebSession
from server.models.tokens import ApiToken
from server.models.types import UTCDateTime, utcnow

__all__ = [
    "ALLOWED_TRANSITIONS",
    "ENROLLED",
    "HOLDS_APPROVAL",
    "GENESIS_HASH",
    "Acknowledgement",
    "ApiToken",
    "AuditEntry",
    "BroadcastDesignation",
    "CatalogueApp",
    "ComplianceDaily",
    "ComplianceRulesVersion",
    "ComplianceResult",
    "Device",
    "DeviceRole",
    "DeviceRuleState",
    "DeviceState",
    "EnrolmentRequest",
    "EnrolmentStatus",
    "InstallGrant",
    "Installation",
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
