"""Refusals are audited in a transaction of their own.

A refused change is rolled back by its caller, and its audit entry would go with it; but "who tried to approve
their own request, and when" is exactly what information governance wants to see. So the refusal is written
and committed on a separate session before the error is raised, and survives the rollback.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session

from server.services import audit
from server.services.actor import Actor
from server.services.errors import ServiceError

log = logging.getLogger(__name__)

E = TypeVar("E", bound=ServiceError)


def refuse(session: Session, actor: Actor, action: str, error: E, *, target: Any = None, details: dict | None = None) -> E:
    """Audit `action` (e.g. "enrolment.approval_refused") with the reason, commit it on its own, return `error` to raise."""
    payload = {"reason": str(error)}
    if details:
        payload.update(details)
    target_kwargs: dict[str, Any] = {}
    if target is not None:
        target_kwargs = {"target_type": audit.target_type_of(target), "target_id": target.id}
    side = Session(bind=session.get_bind())
    try:
        if side.connection().dialect.name == "postgresql":
            # If the caller's transaction already holds the audit append lock, waiting for it would deadlock
            # this thread: give up after a moment (the refusal is still raised, and the failure logged).
            side.execute(text("SET LOCAL lock_timeout = '2s'"))
        audit.record(side, actor, action, details=payload, **target_kwargs)
        side.commit()
    except Exception:  # the refusal itself must still reach the person; losing its record is logged loudly
        side.rollback()
        log.exception("could not record refusal %s", action)
    finally:
        side.close()
    return error
