"""The device lifecycle: the only way a device's state changes.

The database knows which states exist (a CHECK constraint); which moves are allowed lives here, in
ALLOWED_TRANSITIONS, because SQL constraints cannot see the previous value portably.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.models import ALLOWED_TRANSITIONS, Device, DeviceState
from server.services import audit
from server.services.actor import Actor
from server.services.errors import InvalidTransition


def transition(
    session: Session, device: Device, new_state: DeviceState, actor: Actor, reason: str | None = None
) -> None:
    """Move `device` to `new_state` and audit it; InvalidTransition (409, exit 3) if the lifecycle forbids it."""
    new_state = DeviceState(new_state)
    current = DeviceState(device.state)
    if new_state not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(
            f"A device that is {current.value.replace('_', ' ')} cannot become {new_state.value.replace('_', ' ')}."
        )
    device.state = new_state.value
    details: dict[str, str] = {"from": current.value, "to": new_state.value}
    if reason:
        details["reason"] = reason
    audit.record(session, actor, "device.state_changed", target=device, details=details)
