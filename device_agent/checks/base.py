"""What every compliance check shares: its inputs (facts, expectation, params, now), its result, its parameters.

A check is a small pure function over DeviceFacts: it never talks to a phone or the server, never raises on
odd facts, and never passes what it could not see. "Unknown" (a fact that is None) is outcome "error" with
observed "unknown", so a phone that hides a fact is never reported compliant for it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from device_agent.facts import DeviceFacts
from phonegate.core.rules import Param, RuleSpec

Outcome = Literal["pass", "fail", "error", "not_applicable"]
OUTCOMES: tuple[str, ...] = ("pass", "fail", "error", "not_applicable")


@dataclass(frozen=True)
class ApprovedApp:
    """One catalogue package this phone may (or, once provisioned, must) carry, with its pinned signers."""

    package: str
    signer_sha256: tuple[str, ...] = ()
    min_version_code: int | None = None
    # The pinned signers' certificates (DER). Android's `dumpsys package` shows only a 32-bit hash of each
    # signer certificate, so the agent can tell a pinned signer from another one only if it knows the pins'
    # certificates: collection maps matching hashes to SHA-256, anything else stays unmatched.
    certificates: tuple[bytes, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApprovedApp:
        signers = data.get("signer_sha256") or []
        if isinstance(signers, str):
            signers = [signers]
        certificates = []
        for text in data.get("signer_certificates") or []:
            try:
                certificates.append(base64.b64decode(str(text), validate=True))
            except (binascii.Error, ValueError):
                continue  # a damaged pin is no pin: the check then reports the signer as unknown, not as passed
        return cls(
            package=str(data["package"]),
            signer_sha256=tuple(str(s).lower().replace(":", "") for s in signers),
            min_version_code=data.get("min_version_code"),
            certificates=tuple(certificates),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "signer_sha256": list(self.signer_sha256),
            "min_version_code": self.min_version_code,
            "signer_certificates": [base64.b64encode(cert).decode("ascii") for cert in self.certificates],
        }


@dataclass(frozen=True)
class DeviceExpectation:
    """What the server's inventory says about one phone; a phone found only by --tcp has an almost empty one."""

    serial: str | None = None
    device_id: int | None = None
    role: str = "individual"
    state: str | None = None  # registered, pending_approval, approved, provisioned, rejected, suspended, retired
    model: str | None = None
    build_fingerprint: str | None = None
    endpoint: str | None = None
    site: str | None = None
    approved_apps: tuple[ApprovedApp, ...] = ()
    # Registered by IT as a lab or dock phone (`phonegate device mark-lab`): reached over the network on purpose
    lab_phone: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeviceExpectation:
        return cls(
            serial=data.get("serial"),
            device_id=data.get("device_id"),
            role=data.get("role") or "individual",
            state=data.get("state"),
            model=data.get("model"),
            build_fingerprint=data.get("build_fingerprint"),
            endpoint=data.get("endpoint"),
            site=data.get("site"),
            approved_apps=tuple(ApprovedApp.from_json(app) for app in data.get("approved_apps") or []),
            lab_phone=data.get("lab_phone") is True,  # only a real true exempts a phone; anything else is no
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "serial": self.serial,
            "role": self.role,
            "state": self.state,
            "model": self.model,
            "build_fingerprint": self.build_fingerprint,
            "endpoint": self.endpoint,
            "site": self.site,
            "approved_apps": [app.to_json() for app in self.approved_apps],
            "lab_phone": self.lab_phone,
        }

    @property
    def certificates(self) -> list[bytes]:
        return [cert for app in self.approved_apps for cert in app.certificates]


@dataclass
class CheckResult:
    rule: str
    outcome: Outcome
    observed: str
    evidence: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None  # set from the policy by the runner; checks leave it alone

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "severity": self.severity,
            "observed": self.observed,
            "evidence": self.evidence,
        }


class Check:
    """Base of every device-side rule. Subclasses set `spec` (from phonegate.core.device_rules) and implement
    `evaluate`; the rule's id, title, parameters and defaults come from the spec, so the server knows them too."""

    spec: ClassVar[RuleSpec]
    rule: ClassVar[str]
    title: ClassVar[str]
    params: ClassVar[tuple[Param, ...]]
    default_roles: ClassVar[tuple[str, ...]]
    default_severity: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.rule = cls.spec.rule
        cls.title = cls.spec.title
        cls.params = cls.spec.params
        cls.default_roles = cls.spec.default_roles
        cls.default_severity = cls.spec.default_severity

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        raise NotImplementedError

    # Small constructors so every check words its results the same way.
    def passed(self, observed: str, **evidence: Any) -> CheckResult:
        return CheckResult(self.rule, "pass", observed, _jsonable(evidence))

    def failed(self, observed: str, **evidence: Any) -> CheckResult:
        return CheckResult(self.rule, "fail", observed, _jsonable(evidence))

    def unknown(self, what: str, **evidence: Any) -> CheckResult:
        return CheckResult(self.rule, "error", "unknown", _jsonable({"unknown": what, **evidence}))

    def not_applicable(self, why: str, **evidence: Any) -> CheckResult:
        return CheckResult(self.rule, "not_applicable", why, _jsonable(evidence))

    def with_defaults(self, params: dict[str, Any] | None) -> dict[str, Any]:
        return self.spec.with_defaults(params)


def _jsonable(value: Any) -> Any:
    """Evidence goes to the server as JSON: anything else is turned into text here rather than failing later."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))
