"""Refusals are audited in a transaction of their own.

A refused change is rolled back by its caller, and its audit entry would go with it; but "who tried to approve
their own request, and when" is exactly what information governance wants to see. So the refusal is written
and committed on a separate session, and survives the rollback.

When can it be written? If the caller's transaction has not written anything yet, at once. If it has (an API
request that already touched its token's last-used time, a handover that already ended the old designation),
the caller holds the database's write lock (SQLite) or the audit-append lock (PostgreSQL), and a second
session waiting for it would wait for ever in the same thread. Then the refusal is kept on the session and
written the moment that transaction ends, by rollback (the usual case), commit or close.

How many are written is bounded per caller and minute (server/services/refusal_budget.py): a caller repeating a
refused request cannot grow the audit log without limit; what is not written one by one is counted in a summary.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, has_app_context, has_request_context, request
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session

from server.services import audit
from server.services.actor import Actor
from server.services.errors import ServiceError
from server.services.refusal_budget import SUMMARY_ACTION, RefusalBudget

log = logging.getLogger(__name__)

E = TypeVar("E", bound=ServiceError)
_PENDING = "phonegate.pending_refusals"
_LISTENING = "phonegate.refusal_listener"
_BUDGET = "phonegate.refusal_budget"


@dataclass(frozen=True)
class _RecordedActor:
    """The actor's audit identity, copied while the caller's session is healthy (it may be rolled back later)."""

    user_id: int | None
    label: str


@dataclass(frozen=True)
class _Refusal:
    actor: _RecordedActor
    action: str
    details: dict
    target_type: str | None
    target_id: str | None


def refuse(session: Session, actor: Actor, action: str, error: E, *, target: Any = None, details: dict | None = None) -> E:
    """Audit `action` (e.g. "enrolment.approval_refused") with the reason on its own transaction; return `error` to raise."""
    record_refusal(session, actor, action, reason=str(error), target=target, details=details)
    return error


def record_refusal(session: Session, actor: Actor, action: str, *, reason: str, target: Any = None,
                   details: dict | None = None) -> None:
    """Audit a refusal that raises nothing (a log-in refused to a locked account): the same transaction of its
    own and the same per-caller bound as `refuse`."""
    payload = {"reason": reason}
    if details:
        payload.update(details)
    target_type = target_id = None
    if target is not None and inspect(target).identity is not None:
        target_type, target_id = audit.target_type_of(target), str(inspect(target).identity[0])
    refusal = _Refusal(_RecordedActor(actor.user_id, actor.label), action, payload, target_type, target_id)
    refusals = _within_budget(actor, refusal)
    if not refusals:
        return

    real = session.registry() if isinstance(session, scoped_session) else session
    if _holds_write_lock(real):
        real.info.setdefault(_PENDING, []).extend(refusals)
        if not real.info.get(_LISTENING):
            event.listen(real, "after_transaction_end", _write_pending)
            real.info[_LISTENING] = True
    else:
        _write(real.get_bind(), refusals)


def _within_budget(actor: Actor, refusal: _Refusal) -> list[_Refusal]:
    """The entries to write for `refusal`: itself if the caller's budget allows, and any summaries now due."""
    if not has_app_context():
        return [refusal]
    from server.settings import current_settings

    settings = current_settings()
    budget = current_app.extensions.setdefault(_BUDGET, RefusalBudget())
    caller = actor.label
    if actor.user_id is None and has_request_context():
        caller = f"{actor.label}@{request.remote_addr}"  # the key only; the address is never written
    written, summaries = budget.admit(caller, actor.label, actor.user_id, refusal.action,
                                      limit=settings.refusal_audit_limit, window_s=settings.refusal_audit_window_seconds)
    if not written:
        log.info("refusal %s by %s not written one by one (over %d per %d s)", refusal.action, actor.label,
                 settings.refusal_audit_limit, settings.refusal_audit_window_seconds)
    entries = [_Refusal(_RecordedActor(s.user_id, s.label), SUMMARY_ACTION, s.details, None, None) for s in summaries]
    return entries + ([refusal] if written else [])


def _holds_write_lock(session: Session) -> bool:
    if not session.in_transaction():
        return False
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        return bool(raw is not None and raw.in_transaction)  # pysqlite opens a transaction only for a write
    if connection.dialect.name == "postgresql":
        return bool(connection.execute(text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")).scalar())
    return True


def _write_pending(session: Session, transaction: Any) -> None:
    if transaction.parent is not None:  # a savepoint or subtransaction ended; the outer one still holds the lock
        return
    pending = session.info.pop(_PENDING, None)
    if pending:
        _write(session.get_bind(), pending)


def _write(bind: Engine, refusals: list[_Refusal]) -> None:
    side = Session(bind=bind)
    try:
        if side.connection().dialect.name == "postgresql":
            # Never wait long for the append lock: losing a refusal record is logged, a hung request is worse.
            side.execute(text("SET LOCAL lock_timeout = '5s'"))
        for refusal in refusals:
            audit.record(side, refusal.actor, refusal.action, details=refusal.details,  # type: ignore[arg-type]
                         target_type=refusal.target_type, target_id=refusal.target_id)
        side.commit()
    except Exception:  # the refusal itself still reaches the person; losing its record is logged loudly
        side.rollback()
        log.exception("could not record %d refusal(s), first %s", len(refusals), refusals[0].action)
    finally:
        side.close()
