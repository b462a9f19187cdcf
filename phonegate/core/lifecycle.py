"""The work phone's lifecycle: its states, its roles, the moves between states, and what each state means.

Shared vocabulary of the server (which enforces the moves, server.services.lifecycle) and of the agent and
provisioning (which read a phone's state from the API). Every "is this phone approved?" question is answered
from the sets below, never from a list of state names written out again.

    registered -> pending_approval -> approved -> provisioned, plus rejected, suspended and retired.
"""

from __future__ import annotations

import enum


class DeviceState(str, enum.Enum):
    REGISTERED = "registered"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    PROVISIONED = "provisioned"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    RETIRED = "retired"


class DeviceRole(str, enum.Enum):
    INDIVIDUAL = "individual"
    BROADCAST = "broadcast"


S = DeviceState
ALLOWED_TRANSITIONS: dict[DeviceState, frozenset[DeviceState]] = {
    S.REGISTERED: frozenset({S.PENDING_APPROVAL, S.RETIRED}),
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.REGISTERED, S.RETIRED}),
    S.APPROVED: frozenset({S.PROVISIONED, S.SUSPENDED, S.PENDING_APPROVAL, S.RETIRED}),
    S.PROVISIONED: frozenset({S.SUSPENDED, S.PENDING_APPROVAL, S.RETIRED}),
    S.REJECTED: frozenset({S.PENDING_APPROVAL, S.RETIRED}),
    S.SUSPENDED: frozenset({S.APPROVED, S.PENDING_APPROVAL, S.RETIRED}),
    S.RETIRED: frozenset(),
}

# The states in which a phone holds a manager's approval: the app may be installed (and stays installed).
HOLDS_APPROVAL: frozenset[str] = frozenset({S.APPROVED.value, S.PROVISIONED.value})
# The state in which the approved app must be on the phone.
APP_INSTALLED: frozenset[str] = frozenset({S.PROVISIONED.value})
# Phones the compliance sweeps follow: approved once, and not rejected or retired since (suspended ones too, so
# a suspended phone can show it is clean again).
ENROLLED: frozenset[str] = HOLDS_APPROVAL | {S.SUSPENDED.value}


def holds_approval(state: str | DeviceState) -> bool:
    return DeviceState(state).value in HOLDS_APPROVAL
