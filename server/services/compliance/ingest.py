"""Sweeps from the server's side: create one (idempotent), hand out its plan, grant claims, store result batches.

Agents retry: a create, a claim or a result batch may arrive twice (the outbox re-delivers after a timeout), so
each is idempotent by a database key, not by remembering requests. Result batches are large (a sweep of 5,000
phones x ~15 rules), so they are written with multi-row INSERT ... ON CONFLICT DO NOTHING, never row by row.
"""

from __future__ import annotations

import base64
import functools
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from phonegate.core.sweep_queues import UNASSIGNED_SITE
from server.models import ENROLLED, CatalogueApp, ComplianceResult, Device, DeviceState, Sweep, SweepClaim, utcnow
from server.services import audit
from server.services.actor import Actor
from server.services.compliance.rules import ensure_current_version
from server.services.errors import Conflict, InvalidInput, NotFound
from server.services.devices import MAX_SDK

SOURCES = ("cli", "scheduler", "celery", "station")
# Phones a sweep visits: enrolled ones, plus phones not (yet) approved, where the app would be an unauthorised install.
PLAN_STATES = tuple(ENROLLED) + (DeviceState.REGISTERED.value, DeviceState.PENDING_APPROVAL.value)
CHUNK = 500  # rows per multi-row INSERT / serials per IN (): well inside SQLite's and PostgreSQL's parameter limits


def dialect_insert(session: Session, table: Table):
    """INSERT for this database, with on_conflict_do_nothing/do_update (same API on SQLite and PostgreSQL)."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database {name}")


def get_sweep(session: Session, sweep_id: str) -> Sweep:
    sweep = session.get(Sweep, _normalise_id(sweep_id))
    if sweep is None:
        raise NotFound("No such sweep.")
    return sweep


def start_sweep(session: Session, sweep_id: str, source: str, actor: Actor) -> tuple[Sweep, bool]:
    """Create the sweep (or return the existing one with the same id). Two schedulers racing both get the same row."""
    sweep_id = _normalise_id(sweep_id)
    if source not in SOURCES:
        raise InvalidInput("Unknown sweep source.", errors={"source": [f"Must be one of: {', '.join(SOURCES)}."]})
    existing = session.get(Sweep, sweep_id)
    if existing is not None:
        return existing, False
    policy = ensure_current_version(session)
    stmt = dialect_insert(session, Sweep.__table__).values(
        id=sweep_id, source=source, rules_version_id=policy.id, started_at=utcnow(),
        started_by_id=actor.user.id if actor.user else None, device_count=0, non_compliant_count=0,
    ).on_conflict_do_nothing(index_elements=["id"]).returning(Sweep.__table__.c.id)
    created = session.execute(stmt).scalar() is not None
    sweep = session.get(Sweep, sweep_id, populate_existing=True)
    if created:
        audit.record(session, actor, "sweep.started", target_type="sweep", target_id=sweep_id,
                     details={"source": source, "policy_version": policy.version})
    return sweep, created


def _normalise_id(sweep_id: str) -> str:
    try:
        return str(uuid.UUID(str(sweep_id)))
    except ValueError as exc:
        raise InvalidInput("The sweep id is not a UUID.", errors={"sweep_id": ["Not a valid UUID."]}) from exc


def plan_devices(session: Session, site: str | None = None) -> list[dict[str, Any]]:
    """Phones the sweep should visit, with what each is expected to carry."""
    query = select(Device).where(Device.adb_endpoint.is_not(None), Device.state.in_(PLAN_STATES)).order_by(Device.serial)
    if site == UNASSIGNED_SITE:
        query = query.where(Device.site.is_(None))
    elif site:
        query = query.where(Device.site == site)
    apps_by_role = approved_apps_by_role(session)
    return [plan_entry(device, apps_by_role) for device in session.scalars(query)]


def plan_entry(device: Device, apps_by_role: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """What the agent is told to expect of one phone (a sweep plan's device, a spot check's phone)."""
    return {
        "device_id": device.id,
        "serial": device.serial,
        "endpoint": device.adb_endpoint,
        "site": device.site,
        "role": device.role,
        "state": device.state,
        "model": device.model,
        "build_fingerprint": device.build_fingerprint,
        "security_patch": device.security_patch,
        "approved_apps": apps_by_role.get(device.role, []),
        "lab_phone": device.lab_phone,  # a lab or dock phone: no_network_adb does not apply
    }


def approved_apps_by_role(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Active catalogue apps grouped per role and package: every pinned signer, and the lowest approved version."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for app in session.scalars(select(CatalogueApp).where(CatalogueApp.active.is_(True)).order_by(CatalogueApp.id)):
        entry = grouped.setdefault((app.role, app.package), {"package": app.package, "signer_sha256": [],
                                                             "min_version_code": app.version_code})
        if app.signer_sha256 not in entry["signer_sha256"]:
            entry["signer_sha256"].append(app.signer_sha256)
        for certificate in signer_certificates(app):
            if certificate not in entry.setdefault("signer_certificates", []):
                entry["signer_certificates"].append(certificate)
        entry["min_version_code"] = min(entry["min_version_code"], app.version_code)
    by_role: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (role, _), entry in sorted(grouped.items()):
        by_role[role].append(entry)
    return by_role


def signer_certificates(app: CatalogueApp) -> list[str]:
    """The APK's signer certificates (base64 DER). Phones show only a 32-bit hash of each signer
    (`dumpsys package`), so the sweep agent needs the certificates to recognise the pinned signer."""
    from server.services.catalogue import apk_path

    return list(_certificates_of(str(apk_path(app)), app.sha256))


@functools.lru_cache(maxsize=64)
def _certificates_of(path: str, sha256: str) -> tuple[str, ...]:  # sha256 in the key: a replaced file is re-read
    from phonegate.core.apk import ApkInvalid, inspect_apk

    try:
        return tuple(base64.b64encode(cert).decode("ascii") for cert in inspect_apk(path).certificates)
    except (ApkInvalid, OSError):
        return ()  # no certificates: the agent reports the signer as unknown rather than passing it


def claim_devices(session: Session, sweep: Sweep, serials: Sequence[str], worker: str) -> tuple[list[str], list[str]]:
    """Give `worker` the phones nobody in this sweep has yet. Returns (granted, refused)."""
    _require_open(sweep)
    worker = (worker or "").strip()
    if not worker or len(worker) > 128:
        raise InvalidInput("Name the worker claiming phones.", errors={"worker": ["1 to 128 characters."]})
    ids = device_ids_by_serial(session, serials)
    now = utcnow()
    rows = [{"sweep_id": sweep.id, "device_id": device_id, "claimed_by": worker, "claimed_at": now} for device_id in ids.values()]
    for chunk in _chunks(rows):
        session.execute(dialect_insert(session, SweepClaim.__table__).on_conflict_do_nothing(
            index_elements=["sweep_id", "device_id"]), chunk)
    mine: set[int] = set()
    for chunk in _chunks(list(ids.values())):
        mine.update(session.scalars(select(SweepClaim.device_id).where(
            SweepClaim.sweep_id == sweep.id, SweepClaim.device_id.in_(chunk), SweepClaim.claimed_by == worker)))
    granted = [serial for serial in dict.fromkeys(serials) if ids.get(serial) in mine]
    refused = [serial for serial in dict.fromkeys(serials) if ids.get(serial) not in mine]
    return granted, refused


def device_ids_by_serial(session: Session, serials: Iterable[str]) -> dict[str, int]:
    wanted = list(dict.fromkeys(s for s in serials if s))
    found: dict[str, int] = {}
    for chunk in _chunks(wanted):
        found.update(session.execute(select(Device.serial, Device.id).where(Device.serial.in_(chunk))).all())
    return found


def store_results(session: Session, sweep: Sweep, results: Sequence[dict[str, Any]],
                  devices: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Store one batch. Returns {"stored", "duplicates", "unknown_serials"}; a re-delivered batch stores nothing new."""
    _require_open(sweep)
    ids = device_ids_by_serial(session, [r["serial"] for r in results] + [d["serial"] for d in devices])
    unknown = sorted({r["serial"] for r in results if r["serial"] not in ids} | {d["serial"] for d in devices if d["serial"] not in ids})
    rows = [
        {
            "sweep_id": sweep.id,
            "device_id": ids[r["serial"]],
            "rule": r["rule"],
            "outcome": r["outcome"],
            "severity": r.get("severity") or "medium",
            "observed": r.get("observed"),
            "evidence": json.dumps(r.get("evidence") or {}, sort_keys=True, default=str),
            "checked_at": r["checked_at"],
        }
        for r in results
        if r["serial"] in ids
    ]
    stored = insert_results(session, rows)
    _record_sightings(session, ids, devices)
    return {"stored": stored, "duplicates": len(rows) - stored, "unknown_serials": unknown}


def insert_results(session: Session, rows: list[dict[str, Any]]) -> int:
    """Multi-row INSERT ... ON CONFLICT (sweep, device, rule) DO NOTHING; returns how many rows were new."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return _insert_results_postgresql(session, rows)
    table = ComplianceResult.__table__
    # One statement executed with many parameter sets: SQLAlchemy compiles it once and sends multi-row VALUES
    # pages ("insertmanyvalues"); RETURNING yields only the rows that were really inserted.
    stmt = dialect_insert(session, table).on_conflict_do_nothing(
        index_elements=["sweep_id", "device_id", "rule"]).returning(table.c.id)
    return len(session.execute(stmt, rows).all())


# PostgreSQL: the batch travels as eight arrays (one per column) and is unnested on the server, so the statement
# stays eight parameters long; a multi-row VALUES of 10,000 rows is 80,000 placeholders for the driver to parse.
_UNNEST_INSERT = text(
    "INSERT INTO compliance_results (sweep_id, device_id, rule, outcome, severity, observed, evidence, checked_at) "
    "SELECT * FROM unnest(CAST(:sweep_id AS varchar[]), CAST(:device_id AS integer[]), CAST(:rule AS varchar[]), "
    "CAST(:outcome AS varchar[]), CAST(:severity AS varchar[]), CAST(:observed AS text[]), CAST(:evidence AS text[]), "
    "CAST(:checked_at AS timestamptz[])) "
    "ON CONFLICT (sweep_id, device_id, rule) DO NOTHING RETURNING id"
)
_COLUMNS = ("sweep_id", "device_id", "rule", "outcome", "severity", "observed", "evidence", "checked_at")


def _insert_results_postgresql(session: Session, rows: list[dict[str, Any]]) -> int:
    stored = 0
    for start in range(0, len(rows), 5000):
        chunk = rows[start:start + 5000]
        params = {column: [row[column] for row in chunk] for column in _COLUMNS}
        params["checked_at"] = [as_aware(value) for value in params["checked_at"]]
        stored += len(session.execute(_UNNEST_INSERT, params).all())
    return stored


def _record_sightings(session: Session, ids: dict[str, int], devices: Sequence[dict[str, Any]]) -> None:
    """Note when each phone was last reached, and the facts that legitimately change (OS updates)."""
    latest: dict[int, dict[str, Any]] = {}
    for entry in devices:
        device_id = ids.get(entry["serial"])
        if device_id is None:
            continue
        previous = latest.get(device_id)
        if previous is None or entry["seen_at"] > previous["last_seen_at"]:
            latest[device_id] = {"id": device_id, "last_seen_at": entry["seen_at"], **_facts_columns(entry.get("facts_summary") or {})}
            if entry.get("checked_in_site"):  # plugged into a check-in station: the due date counts from here
                latest[device_id].update(checked_in_site=entry["checked_in_site"], checked_in_at=entry["seen_at"])
    if not latest:
        return
    current = dict(session.execute(select(Device.id, Device.last_seen_at).where(Device.id.in_(list(latest)))).all())
    # A late re-delivered batch must not move "last seen" backwards.
    changes = [row for device_id, row in latest.items() if current.get(device_id) is None or row["last_seen_at"] > current[device_id]]
    # Same keys in every row: the ORM bulk UPDATE groups rows by key set.
    for group in _group_by_keys(changes):
        session.execute(update(Device), group)


def _facts_columns(summary: dict[str, Any]) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for key, limit in (("android_release", 32), ("build_fingerprint", 512)):
        value = summary.get(key)
        if isinstance(value, str) and value:
            columns[key] = value[:limit]
    sdk = summary.get("sdk")
    if isinstance(sdk, int) and not isinstance(sdk, bool) and 1 <= sdk <= MAX_SDK:
        columns["sdk"] = sdk  # like a garbled patch level, an impossible API level is simply not recorded
    patch = summary.get("security_patch")
    if isinstance(patch, str):
        try:
            columns["security_patch"] = date.fromisoformat(patch)
        except ValueError:
            pass  # device output is untrusted: a garbled patch level is simply not recorded
    return columns


def _group_by_keys(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append(row)
    return list(groups.values())


def _require_open(sweep: Sweep) -> None:
    if sweep.finished_at is not None:
        raise Conflict("This sweep is finished; start a new sweep.")


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def as_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput("Times need a time zone.", errors={"checked_at": ["Give a time zone, e.g. +00:00 or Z."]})
    return value
