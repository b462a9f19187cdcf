"""The audit log: append inside the caller's transaction, verify the whole hash chain.

entry_hash = SHA-256 of a canonical JSON of the entry's fields (everything but its id and its own hash)
including prev_hash, the entry_hash of the entry before it. Changing, deleting or reordering a row breaks
the chain at that point, and `verify_chain` names the first entry where it breaks.

Appends are serialised by a database lock held until the transaction ends (an advisory lock on PostgreSQL,
the write lock on SQLite), so concurrent writers never read the same head; prev_hash is UNIQUE as a backstop.
Details carry ids only: emails and names are personal data and an audit log keeps them for years.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from server.database import lock_for_append
from server.models import GENESIS_HASH, AuditEntry, utcnow
from server.services.actor import Actor

# Any constant works; this one spells "PGAU" so it is recognisable in pg_locks.
AUDIT_LOCK_KEY = 0x50474155
_PERSONAL_KEYS = frozenset({"email", "name", "full_name", "password", "token", "secret", "phone_number"})
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target: Any = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain in the current transaction (no commit) and return it."""
    if target is not None:
        target_type = target_type or target_type_of(target)
        if inspect(target).identity is None:
            session.flush()  # the target needs its id before we can name it
        target_id = target.id
    details_text = canonical_details(details or {})

    lock_for_append(session, AUDIT_LOCK_KEY)
    head = session.scalar(select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1))
    entry = AuditEntry(
        at=utcnow(),
        actor_user_id=actor.user_id,
        actor=actor.label,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=details_text,
        prev_hash=head or GENESIS_HASH,
    )
    entry.entry_hash = entry_hash(entry)
    session.add(entry)
    session.flush()
    return entry


def record_many(
    session: Session,
    actor: Actor,
    action: str,
    items: Sequence[tuple[str, str | int, Mapping[str, Any]]],
) -> int:
    """Append one entry per (target_type, target_id, details), chained exactly as `record` does, under one lock
    and with one flush: a sweep changes the state of thousands of phones at once. Returns entries written."""
    if not items:
        return 0
    texts = [canonical_details(details) for _, _, details in items]  # refuse personal data before anything is written
    lock_for_append(session, AUDIT_LOCK_KEY)
    head = session.scalar(select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS_HASH
    at = utcnow()
    entries = []
    for (target_type, target_id, _), details_text in zip(items, texts):
        entry = AuditEntry(at=at, actor_user_id=actor.user_id, actor=actor.label, action=action, target_type=target_type,
                           target_id=str(target_id), details=details_text, prev_hash=head)
        entry.entry_hash = head = entry_hash(entry)
        entries.append(entry)
    session.add_all(entries)  # the unit of work inserts them in this order, so ids follow the chain
    session.flush()
    return len(entries)


def target_type_of(target: Any) -> str:
    """EnrolmentRequest -> "enrolment_request"."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(target).__name__).lower()


def canonical_details(details: Mapping[str, Any]) -> str:
    _refuse_personal_data(details)
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_json_default)


def entry_hash(entry: AuditEntry) -> str:
    fields = {
        "at": _timestamp(entry.at),
        "actor_user_id": entry.actor_user_id,
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def verify_chain(session: Session, expect_hash: str | None = None) -> tuple[bool, int | None, str]:
    """(True, None, summary) when intact, else (False, id of the first broken entry, why).

    A chain cannot show that entries were cut from its end. `expect_hash`, a head printed by an earlier
    verify and kept elsewhere, closes that gap: it must still be in the chain.
    """
    expected_prev = GENESIS_HASH
    seen_expected = expect_hash is None
    count = 0
    previous_id: int | None = None
    # Streamed in batches (a server-side cursor on PostgreSQL): the log can be far larger than memory allows.
    result = session.scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=500))
    try:
        for entry in result:
            if entry.prev_hash != expected_prev:
                if previous_id is None:
                    why = "it should start the chain, so entries before it were deleted"
                else:
                    why = f"it does not follow entry {previous_id}: an entry between them was deleted or changed"
                return False, entry.id, f"Audit entry {entry.id} is broken: {why}."
            if entry_hash(entry) != entry.entry_hash:
                return False, entry.id, f"Audit entry {entry.id} is broken: its contents were changed after it was written."
            expected_prev = entry.entry_hash
            seen_expected = seen_expected or entry.entry_hash == expect_hash
            previous_id = entry.id
            count += 1
    finally:
        result.close()
    if not seen_expected:
        return False, None, (f"The audit entry with hash {expect_hash} is no longer in the log: "
                             "entries at its end were deleted.")
    return True, None, f"Audit log intact: {count} entries, head {expected_prev}."


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive values only if someone bypassed UTCDateTime
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _timestamp(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"audit details cannot hold {type(value).__name__}")


def _refuse_personal_data(details: Mapping[str, Any]) -> None:
    for key, value in details.items():
        if key.lower() in _PERSONAL_KEYS:
            raise ValueError(f"audit details must not hold {key!r}: record ids, not personal data")
        if isinstance(value, Mapping):
            _refuse_personal_data(value)
        elif isinstance(value, str) and _EMAIL.search(value):
            raise ValueError(f"audit detail {key!r} looks like an email address: record ids, not personal data")
