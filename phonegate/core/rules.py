"""The compliance rules document: versioned YAML that admins edit, validated here before anyone relies on it.

("Policy" in PhoneGate means the acceptable-use paper only; this document is the compliance *rules*.)

One document configures every rule, wherever it is evaluated: device rules run in the sweep agent
(device_agent.checks; their metadata is phonegate.core.device_rules), server rules (acknowledgement, training,
last seen) on the server (server.services.compliance.server_rules). Whoever parses passes the rules it knows as
`specs`. Unknown keys, unknown rules and wrong types are refused with a message naming the rule and the field, so
a typo never silently switches a rule off. A rule missing from the document is off; the shipped default lists
every rule.

Shape (see compliance_default.yaml):
    schema: 1
    rules:
      <rule id>:
        enabled: true
        severity: low | medium | high | critical
        roles: [individual, broadcast]
        grace_days: 7
        on_failure: {mark: true, email_manager: true, escalate_after_days: 14, suspend: false}
        params: {...}            # per rule, see the rule's Param list
        description: free text   # optional, for admins
    spot_checks: {sample_rate_percent: 10, period: quarter, bring_within_days: 14}   # optional (spot_check_rules.py)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

import yaml

from phonegate.core.errors import BadInput
from phonegate.core.spot_check_rules import SpotCheckRules, parse_spot_checks

SCHEMA_VERSION = 1
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
ROLES: tuple[str, ...] = ("individual", "broadcast")
DEFAULT_DOCUMENT = "compliance_default.yaml"


@dataclass(frozen=True)
class Param:
    """One tunable of a rule, as the rules document spells it; `kind` is int, bool, str or list[str].

    A `deprecated` parameter is still accepted (older stored versions name it) but has no effect; the text
    says what replaced it.
    """

    name: str
    kind: Literal["int", "bool", "str", "list[str]"]
    default: Any
    help: str
    minimum: int | None = None
    deprecated: str | None = None


@dataclass(frozen=True)
class RuleSpec:
    """What a rule is, for the document: its id, its title, where it is evaluated, and its defaults."""

    rule: str
    title: str
    evaluated_by: Literal["device", "server"]
    params: tuple[Param, ...] = ()
    default_roles: tuple[str, ...] = ROLES
    default_severity: str = "medium"
    # What the holder (and their manager) should do when the rule fails, in one sentence; None: nothing they can do.
    remedy: str | None = None
    # Whether a failure stops a manager approving the phone (the document can say otherwise per rule).
    blocks_approval: bool = False

    def with_defaults(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        merged = {param.name: _copy(param.default) for param in self.params if param.deprecated is None}
        merged.update(params or {})
        return merged


class RulesInvalid(BadInput):
    """The document was refused; `errors` maps "rules.<rule>.<field>" to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        first = "; ".join(f"{where}: {msgs[0]}" for where, msgs in list(errors.items())[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"The compliance rules are not valid: {first}{more}.")


@dataclass(frozen=True)
class OnFailure:
    mark: bool = True
    email_manager: bool = True
    escalate_after_days: int | None = None
    suspend: bool = False
    email_holder: bool = False  # tell the phone's holder what to do (the rule's remedy), once per failure


@dataclass(frozen=True)
class RuleConfig:
    rule: str
    evaluated_by: str  # "device" or "server"
    enabled: bool
    severity: str
    roles: tuple[str, ...]
    grace_days: int
    on_failure: OnFailure
    params: dict[str, Any]
    description: str | None = None
    # While this rule fails on a phone's latest facts, no manager can approve it (server.services.precheck).
    blocks_approval: bool = False


@dataclass(frozen=True)
class RulesDocument:
    schema: int
    rules: dict[str, RuleConfig] = field(default_factory=dict)
    spot_checks: SpotCheckRules = field(default_factory=SpotCheckRules)

    def device_rules(self) -> list[RuleConfig]:
        return [rule for rule in self.rules.values() if rule.evaluated_by == "device" and rule.enabled]

    def server_rules(self) -> list[RuleConfig]:
        return [rule for rule in self.rules.values() if rule.evaluated_by == "server" and rule.enabled]


class _RulesLoader(yaml.SafeLoader):
    """yaml.SafeLoader without aliases: a rules document needs none, and "billion laughs" aliases make a small
    text into an enormous structure for whatever walks it next."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a rules document",
                                              event.start_mark)
        return super().compose_node(parent, index)


_RULE_KEYS = {"enabled", "severity", "roles", "grace_days", "on_failure", "params", "description", "blocks_approval"}
_ON_FAILURE_KEYS = {"mark", "email_manager", "escalate_after_days", "suspend", "email_holder"}
_TOP_KEYS = {"schema", "rules", "spot_checks"}


def parse_rules(text: str, specs: Mapping[str, RuleSpec], *, others_evaluated_elsewhere: bool = False) -> RulesDocument:
    """Validate a rules document against the rules in `specs` and return it with every default filled in.

    Raises RulesInvalid naming every problem. With `others_evaluated_elsewhere` (the agent, which knows only the
    device rules), rules not in `specs` are left out instead of refused: the server validated the whole document
    against every rule when it was published.
    """
    try:
        data = yaml.load(text, Loader=_RulesLoader)  # noqa: S506 (a SafeLoader that also refuses aliases)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "document"
        raise RulesInvalid({where: [f"not valid YAML ({getattr(exc, 'problem', None) or exc})"]}) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise RulesInvalid({"document": ["nested far too deeply to be a rules document"]}) from None
    errors: dict[str, list[str]] = {}
    if not isinstance(data, dict):
        raise RulesInvalid({"document": ["must be a mapping with 'schema' and 'rules'"]})
    for key in sorted(set(data) - _TOP_KEYS, key=str):
        errors.setdefault(str(key), []).append("unknown key")
    schema = data.get("schema")
    if schema != SCHEMA_VERSION or isinstance(schema, bool):
        errors.setdefault("schema", []).append(f"must be {SCHEMA_VERSION}")
    raw_rules = data.get("rules")
    rules: dict[str, RuleConfig] = {}
    if not isinstance(raw_rules, dict):
        errors.setdefault("rules", []).append("must be a mapping of rule id to settings")
        raw_rules = {}
    for rule_id, raw in raw_rules.items():
        spec = specs.get(str(rule_id))
        if spec is None:
            if not others_evaluated_elsewhere:
                errors.setdefault(f"rules.{rule_id}", []).append(f"unknown rule (known: {', '.join(sorted(specs))})")
            continue
        config = _parse_rule(spec, raw, errors)
        if config is not None:
            rules[config.rule] = config
    spot_checks = parse_spot_checks(data.get("spot_checks"), errors)
    if errors:
        raise RulesInvalid(errors)
    return RulesDocument(schema=SCHEMA_VERSION, rules=rules, spot_checks=spot_checks)


def default_rules_text() -> str:
    """The packaged default document (every rule, each explained), which a fresh server publishes as version 1."""
    return resources.files("phonegate.core").joinpath(DEFAULT_DOCUMENT).read_text(encoding="utf-8")


def _parse_rule(spec: RuleSpec, raw: Any, errors: dict[str, list[str]]) -> RuleConfig | None:
    rule_id = spec.rule
    where = f"rules.{rule_id}"

    def complain(field_name: str, message: str) -> None:
        errors.setdefault(f"{where}.{field_name}" if field_name else where, []).append(message)

    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        complain("", "must be a mapping of settings")
        return None
    for key in sorted(set(raw) - _RULE_KEYS, key=str):
        complain(str(key), "unknown key")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        complain("enabled", "must be true or false")
    severity = raw.get("severity", spec.default_severity)
    if severity not in SEVERITIES:
        complain("severity", f"must be one of {', '.join(SEVERITIES)}")
    roles = raw.get("roles", list(spec.default_roles))
    if not isinstance(roles, list) or not roles or any(role not in ROLES for role in roles):
        complain("roles", f"must be a non-empty list of {', '.join(ROLES)}")
        roles = []
    grace_days = raw.get("grace_days", 0)
    if not _is_int(grace_days) or grace_days < 0:
        complain("grace_days", "must be a whole number of days, 0 or more")
    on_failure = _parse_on_failure(raw.get("on_failure", {}), complain)
    params = _parse_params(spec.params, raw.get("params", {}), complain)
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        complain("description", "must be text")
    blocks_approval = raw.get("blocks_approval", spec.blocks_approval)
    if not isinstance(blocks_approval, bool):
        complain("blocks_approval", "must be true or false")
    elif blocks_approval and spec.evaluated_by != "device":
        # Only a phone's own facts are there before approval; a server rule (training, acknowledgement) is about
        # the holder, and approval is where those are confirmed.
        complain("blocks_approval", "only a rule checked on the phone can block approval")
    return RuleConfig(
        rule=rule_id,
        evaluated_by=spec.evaluated_by,
        enabled=bool(enabled),
        severity=str(severity),
        roles=tuple(dict.fromkeys(roles)),
        grace_days=grace_days if _is_int(grace_days) else 0,
        on_failure=on_failure,
        params=params,
        description=description if isinstance(description, str) else None,
        blocks_approval=blocks_approval if isinstance(blocks_approval, bool) else False,
    )


def _parse_on_failure(raw: Any, complain: Any) -> OnFailure:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        complain("on_failure", "must be a mapping of mark, email_manager, escalate_after_days, suspend, email_holder")
        return OnFailure()
    for key in sorted(set(raw) - _ON_FAILURE_KEYS, key=str):
        complain(f"on_failure.{key}", "unknown key")
    values: dict[str, Any] = {}
    for key in ("mark", "email_manager", "suspend", "email_holder"):
        value = raw.get(key, getattr(OnFailure, key))
        if not isinstance(value, bool):
            complain(f"on_failure.{key}", "must be true or false")
            value = getattr(OnFailure, key)
        values[key] = value
    escalate = raw.get("escalate_after_days")
    if escalate is not None and (not _is_int(escalate) or escalate < 0):
        complain("on_failure.escalate_after_days", "must be a whole number of days, 0 or more, or null")
        escalate = None
    return OnFailure(escalate_after_days=escalate, **values)


def _parse_params(specs: tuple[Param, ...], raw: Any, complain: Any) -> dict[str, Any]:
    params = {spec.name: _copy(spec.default) for spec in specs if spec.deprecated is None}
    if raw is None:
        return params
    if not isinstance(raw, dict):
        complain("params", "must be a mapping")
        return params
    by_name = {spec.name: spec for spec in specs}
    for key, value in raw.items():
        spec = by_name.get(key)
        if spec is None:
            known = ", ".join(by_name) or "none"
            complain(f"params.{key}", f"unknown parameter (this rule takes: {known})")
            continue
        message = _type_problem(spec, value)
        if message:
            complain(f"params.{key}", message)
            continue
        if spec.deprecated is None:
            params[key] = _copy(value)
    return params


def _type_problem(spec: Param, value: Any) -> str | None:
    if spec.kind == "int":
        if not _is_int(value):
            return "must be a whole number"
        if spec.minimum is not None and value < spec.minimum:
            return f"must be at least {spec.minimum}"
    elif spec.kind == "bool" and not isinstance(value, bool):
        return "must be true or false"
    elif spec.kind == "str" and not isinstance(value, str):
        return "must be text"
    elif spec.kind == "list[str]" and (not isinstance(value, list) or not all(isinstance(v, str) and v for v in value)):
        return "must be a list of non-empty text values"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value
