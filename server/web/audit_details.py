"""Audit entries in words: ids become names and links, lists become commas, states become their labels.

The audit log stores ids (they do not change and carry no personal data); people reading the log or a phone's
timeline want "phone TEST0001" and "Alex Example". Names are looked up per page in one query per kind of record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import url_for
from sqlalchemy import select

from server.extensions import db
from server.models import AuditEntry, Device, EnrolmentRequest, PhoneAction, PolicyVersion, Service, StaffMember, Team, User
from server.services.actor import COMMAND_LINE_PREFIX
from server.services.compliance.server_rules import KNOWN_RULES
from server.web.presentation import state_tag

# A detail key (or an entry's target type) -> (model, column shown, endpoint and its argument for a link).
_DEVICE = (Device, Device.serial, "pages.device_page", "device_id", "phone ")
_REQUEST = (EnrolmentRequest, EnrolmentRequest.id, "pages.request_page", "request_id", "request ")
_STAFF = (StaffMember, StaffMember.name, None, None, "")
_TEAM = (Team, Team.name, None, None, "")
_SERVICE = (Service, Service.name, None, None, "")
_USER = (User, User.email, None, None, "")
_POLICY = (PolicyVersion, PolicyVersion.label, "pages.policy_page", "version_id", "version ")
# A retirement's or reinstatement's reason is kept on its row (free text); readers of the entry see the words.
_PHONE_ACTION = (PhoneAction, PhoneAction.reason, None, None, "")
KINDS = {
    "device": _DEVICE, "device_id": _DEVICE, "device_ids": _DEVICE, "from_device_id": _DEVICE, "to_device_id": _DEVICE,
    "grant_device_id": _DEVICE,
    "enrolment_request": _REQUEST, "request_id": _REQUEST, "enrolment_request_id": _REQUEST,
    "staff_member": _STAFF, "staff_member_id": _STAFF,
    "team": _TEAM, "team_id": _TEAM, "from_team_id": _TEAM, "to_team_id": _TEAM,
    "service": _SERVICE, "service_id": _SERVICE,
    "user": _USER, "user_id": _USER, "decided_by_id": _USER, "completed_by_id": _USER,
    "policy_version": _POLICY, "policy_version_id": _POLICY, "current_policy_id": _POLICY,
    "phone_action_id": _PHONE_ACTION,
}
STATE_KEYS = ("from", "to", "state", "from_state", "to_state", "status", "compliance_state")
RULE_KEYS = ("failing_rules",)  # rule ids, shown by their titles
LABELS = {"phone_action_id": "Reason", "failing_rules": "Failing rules", "grants_revoked": "Install grants revoked"}


@dataclass(frozen=True)
class Part:
    """One piece of a detail's value: text, and a link when the record has a page."""
    text: str
    href: str | None = None


@dataclass(frozen=True)
class Detail:
    label: str
    parts: tuple[Part, ...]


def _ids(value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value]
    return [int(v) for v in values if isinstance(v, int) or (isinstance(v, str) and v.isdigit())]


class Names:
    """Names of the records a page of entries mentions, fetched in one query per kind."""

    def __init__(self, wanted: Iterable[tuple[str, Any]]):
        by_kind: dict[tuple, set[int]] = {}
        for key, value in wanted:
            kind = KINDS.get(key)
            if kind is not None:
                by_kind.setdefault(kind, set()).update(_ids(value))
        self._names: dict[tuple, dict[int, Any]] = {}
        for kind, ids in by_kind.items():
            model, column = kind[0], kind[1]
            self._names[kind] = dict(db.session.execute(select(model.id, column).where(model.id.in_(sorted(ids)))).all())

    def part(self, key: str, record_id: int) -> Part:
        model, _, endpoint, argument, prefix = KINDS[key]
        name = self._names.get(KINDS[key], {}).get(record_id)
        if name is None:
            return Part(f"{prefix}{record_id} (no longer exists)" if prefix else f"#{record_id} (no longer exists)")
        href = url_for(endpoint, **{argument: record_id}) if endpoint else None
        return Part(f"{prefix}{name}", href)


def _label(key: str) -> str:
    if key in LABELS:
        return LABELS[key]
    for suffix in ("_ids", "_id"):
        if key.endswith(suffix):
            key = key[: -len(suffix)]
    return key.replace("_", " ").capitalize()


def _plain(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{_label(str(k))}: {_plain(v)}" for k, v in value.items()) or "–"
    return str(value)


def describe(details: dict[str, Any], names: Names) -> list[Detail]:
    described = []
    for key, value in details.items():
        if key in KINDS and _ids(value):
            parts = tuple(names.part(key, record_id) for record_id in _ids(value))
        elif key in STATE_KEYS and isinstance(value, str):
            parts = (Part(state_tag(value)["text"]),)
        elif key in RULE_KEYS and isinstance(value, list):
            parts = (Part("; ".join(KNOWN_RULES[rule].title if rule in KNOWN_RULES else str(rule) for rule in value)),)
        else:
            parts = (Part(_plain(value)),)
        described.append(Detail(_label(key), parts))
    return described


def target_part(target_type: str | None, target_id: str | None, names: Names) -> Part | None:
    if not target_type:
        return None
    if target_type in KINDS and target_id and target_id.isdigit():
        return names.part(target_type, int(target_id))
    return Part(f"{target_type.replace('_', ' ')} {target_id or ''}".strip())


def who(entry: AuditEntry, email: str | None) -> str:
    """The entry's actor in words: the user's e-mail, and where a command was run ("alice on bench-pc", or
    "sam@council.example (at the command line on bench-pc)" when it was run with --as)."""
    if entry.actor.startswith(COMMAND_LINE_PREFIX):
        account, _, host = entry.actor.removeprefix(COMMAND_LINE_PREFIX).rpartition("@")
        if email is not None:
            return f"{email} (at the command line on {host})"
        return f"{account} on {host}" if account else entry.actor
    if entry.actor == "cli":  # entries written before commands recorded their account
        return "the command line (account not recorded)"
    return email or entry.actor


def present(rows: list[dict]) -> list[dict]:
    """Add "described" (details in words) and "about" (the target in words) to timeline/audit rows."""
    wanted = [(k, v) for row in rows for k, v in row["details"].items()]
    wanted += [(row["entry"].target_type, row["entry"].target_id) for row in rows if row["entry"].target_type]
    names = Names(wanted)
    for row in rows:
        row["described"] = describe(row["details"], names)
        row["about"] = target_part(row["entry"].target_type, row["entry"].target_id, names)
    return rows
