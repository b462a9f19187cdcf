"""Registering phones and finding them.

Registration is idempotent by serial and safe when two clients register the same phone at once: the insert
is INSERT ... ON CONFLICT (serial) DO NOTHING, so the database's unique serial decides who created it and the
loser reads the winner's row (PostgreSQL waits for the winner's commit; SQLite's write lock serialises them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from phonegate.core.text import unprintable_characters
from server.database import lock_row
from server.models import Device, DeviceRole, DeviceState, utcnow
from server.services import audit
from server.services.actor import Actor
from server.services.errors import Conflict, InvalidInput, NotFound

# What a phone reports about itself; a later registration of the same serial refreshes these.
FACT_FIELDS = ("manufacturer", "model", "android_release", "sdk", "security_patch", "build_fingerprint")
REGISTRATION_FIELDS = (*FACT_FIELDS, "adb_endpoint", "site", "asset_tag")
MAX_SDK = 1000  # Android's API levels are in the 30s; anything past this is a phone's garbage, not a version


def register_device(session: Session, data: Mapping[str, Any], actor: Actor) -> tuple[Device, bool]:
    """Create the device for data["serial"], or return the existing one with its facts refreshed."""
    serial = str(data.get("serial") or "").strip()
    if not serial:
        raise InvalidInput("A device needs a serial number.", errors={"serial": ["Missing data for required field."]})
    unknown = set(data) - {"serial", *REGISTRATION_FIELDS}
    if unknown:
        raise InvalidInput("Unknown device fields.", errors={name: ["Unknown field."] for name in sorted(unknown)})
    values = {name: data[name] for name in REGISTRATION_FIELDS if data.get(name) is not None}
    if "asset_tag" in values:
        holder = session.scalar(select(Device.serial).where(Device.asset_tag == values["asset_tag"]))
        if holder is not None and holder != serial:
            raise Conflict("Another device already has that asset tag.", errors={"asset_tag": ["Already in use."]})
    now = utcnow()
    statement = _insert_ignoring_duplicate_serial(session).values(
        serial=serial,
        role=DeviceRole.INDIVIDUAL.value,
        state=DeviceState.REGISTERED.value,
        created_at=now,
        updated_at=now,
        last_seen_at=now,
        **values,
    )
    inserted_id = session.execute(statement.returning(Device.id)).scalar_one_or_none()
    device = session.scalars(
        select(Device).where(Device.serial == serial).execution_options(populate_existing=True)
    ).one()
    if inserted_id is not None:
        audit.record(session, actor, "device.registered", target=device, details={"serial": serial})
        return device, True

    changed = sorted(name for name in FACT_FIELDS if name in values and getattr(device, name) != values[name])
    for name in changed:
        setattr(device, name, values[name])
    if values.get("adb_endpoint") and device.adb_endpoint != values["adb_endpoint"]:
        # Sweeps reach the phone at this address from now on: who moved it, from where to where, is on record.
        audit.record(session, actor, "device.endpoint_changed", target=device,
                     details={"from": device.adb_endpoint, "to": values["adb_endpoint"]})
        device.adb_endpoint = values["adb_endpoint"]
    device.last_seen_at = now
    if changed:
        audit.record(session, actor, "device.facts_updated", target=device, details={"fields": changed})
    return device, False


def _insert_ignoring_duplicate_serial(session: Session):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(Device).on_conflict_do_nothing(index_elements=["serial"])
    if dialect == "sqlite":
        return sqlite.insert(Device).on_conflict_do_nothing(index_elements=["serial"])
    return insert(Device)  # other databases: the unique constraint still refuses duplicates


def get_by_serial(session: Session, serial: str) -> Device:
    device = session.scalar(select(Device).where(Device.serial == serial))
    if device is None:
        raise NotFound("No device has that serial number.")
    return device


def device_query(
    *,
    state: str | None = None,
    role: str | None = None,
    team_id: int | None = None,
    service_id: int | None = None,
    site: str | None = None,
    q: str | None = None,
) -> Select[tuple[Device]]:
    """A filtered, stably ordered query for device lists (pagination is the caller's)."""
    query = select(Device)
    if state:
        query = query.where(Device.state == state)
    if role:
        query = query.where(Device.role == role)
    if team_id is not None:
        query = query.where(Device.team_id == team_id)
    if service_id is not None:
        query = query.where(Device.service_id == service_id)
    if site:
        query = query.where(Device.site == site)
    if q:
        pattern = f"%{_escape_like(q.strip())}%"
        query = query.where(
            or_(
                Device.serial.ilike(pattern, escape="\\"),
                Device.model.ilike(pattern, escape="\\"),
                Device.asset_tag.ilike(pattern, escape="\\"),
            )
        )
    return query.order_by(Device.id)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")



LAB_REASON_MAX = 500
_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def set_lab_phone(session: Session, device: Device, lab_phone: bool, actor: Actor, *, reason: str) -> bool:
    """Register `device` as a lab or dock phone (or as a work phone again): the rule no_network_adb then does not
    apply to it (or applies again). Who and why go to the audit log. Returns False when it already was so
    (nothing changed, nothing audited)."""
    reason = _clean_lab_reason(reason)
    device = lock_row(session, device)  # two people marking the same phone: the second sees the first's answer
    if device.lab_phone is lab_phone:
        return False
    device.lab_phone = lab_phone
    audit.record(session, actor, "device.lab_phone_marked" if lab_phone else "device.lab_phone_unmarked",
                 target=device, details={"serial": device.serial, "reason": reason})
    return True


def _clean_lab_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason (why this phone is, or is no longer, a lab or dock phone).",
                           errors={"reason": ["Missing data for required field."]})
    if len(reason) > LAB_REASON_MAX:
        raise InvalidInput(f"The reason is too long: keep it under {LAB_REASON_MAX} characters.",
                           errors={"reason": ["Too long."]})
    if unprintable_characters(reason):
        raise InvalidInput("The reason holds a control or direction character: write it as plain text.",
                           errors={"reason": ["Unprintable character."]})
    if _EMAIL_LIKE.search(reason):
        # The audit log keeps it for years and records ids, never people's addresses.
        raise InvalidInput("The reason must not hold an e-mail address: say why, not who.",
                           errors={"reason": ["Holds an e-mail address."]})
    return reason
