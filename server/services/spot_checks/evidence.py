"""The evidence snapshot of a spot check: what `phonegate spot-check` read from the phone when it was plugged in.

The agent asks for the open spot check of the phone it sees (by serial) and gets what a sweep would: the rules in
force and what the inventory expects of the phone; it then posts the snapshot: a facts summary, a compliance run,
and WhatsApp's storage (media counts and ages per folder, chat backups and their age, exported chats in shared
storage, by folder and age). No message content is ever read, and chat exports are named without the chat's
name (it is usually a person's). The API's schema (server/api/spot_checks.py) checks every field and its size
before anything reaches here.

Re-plugging the phone before the checklist is completed replaces the snapshot (audited); after it, the record
is closed.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.database import lock_row
from server.models import OPEN_SPOT_CHECK, Device, SpotCheck, SpotCheckStatus, utcnow
from server.services import audit
from server.services.actor import Actor
from server.services.compliance import rules as rules_versions
from server.services.compliance.ingest import approved_apps_by_role, plan_entry
from server.services.errors import InvalidTransition, NotFound, PolicyRefused
from server.services.refusals import refuse


def open_for_serial(session: Session, serial: str) -> SpotCheck:
    """The open spot check of the phone with this serial; NotFound (a sentence the command prints) otherwise."""
    device = session.scalar(select(Device).where(Device.serial == serial))
    if device is None:
        raise NotFound("This phone is not in PhoneGate's inventory, so it has no spot check.")
    spot_check = session.scalar(select(SpotCheck).where(SpotCheck.device_id == device.id,
                                                        SpotCheck.status.in_(OPEN_SPOT_CHECK)))
    if spot_check is None:
        raise NotFound("No spot check is open for this phone: its manager starts one from the phone's page in PhoneGate.")
    return spot_check


def agent_plan(session: Session, spot_check: SpotCheck) -> dict[str, Any]:
    """What the agent needs to read and check the phone, in the sweep plan's shapes."""
    row = rules_versions.current_version(session)
    return {
        "spot_check_id": spot_check.id,
        "serial": spot_check.device.serial,
        "bring_by": spot_check.bring_by,
        "status": spot_check.status,
        "rules": {"version": row.version if row else None,
                  "document": row.document if row else rules_versions.default_document()},
        "device": plan_entry(spot_check.device, approved_apps_by_role(session)),
    }


def record_evidence(session: Session, spot_check_id: int, snapshot: dict[str, Any], actor: Actor) -> SpotCheck:
    """Store `snapshot` (already validated by the API schema) on the spot check; refused for another phone or a
    completed check."""
    action = "spot_check.evidence_refused"
    spot_check = session.get(SpotCheck, spot_check_id)
    if spot_check is None:
        raise NotFound("There is no spot check with that number.")
    spot_check = lock_row(session, spot_check)
    if snapshot.get("serial") != spot_check.device.serial:
        raise refuse(session, actor, action, PolicyRefused(
            "The phone that was read is not the phone this spot check is for; nothing was recorded."), target=spot_check)
    if spot_check.status == SpotCheckStatus.COMPLETED.value:
        raise refuse(session, actor, action, InvalidTransition(
            "This spot check is already completed; start a new one to record new evidence."), target=spot_check)
    replaced = spot_check.evidence is not None
    spot_check.evidence = json.dumps(snapshot, sort_keys=True, default=str)
    spot_check.evidence_recorded_at = utcnow()
    spot_check.status = SpotCheckStatus.EVIDENCE_RECORDED.value
    storage = snapshot.get("whatsapp") or {}
    audit.record(session, actor, "spot_check.evidence_recorded", target=spot_check, details={
        "device_id": spot_check.device_id, "replaced": replaced,
        "failing_rules": sorted(result["rule"] for result in snapshot.get("compliance") or [] if result.get("outcome") == "fail"),
        "backups": len(storage.get("backups") or []), "exports": len(storage.get("exports") or [])})
    return spot_check


def evidence_of(spot_check: SpotCheck) -> dict[str, Any] | None:
    """The stored snapshot as a dict (None when no phone was plugged in yet)."""
    if not spot_check.evidence:
        return None
    try:
        value = json.loads(spot_check.evidence)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
