"""Who a person signed in by the council's OpenID provider is in PhoneGate, and with which role.

PHONEGATE_OIDC_ROLES lists rules, separated by ";", each `WHO=ROLE` or `WHO=ROLE:TEAM`:
    WHO   a group as the provider's groups claim names it (Entra ID: the group's object id), or
          `@domain` for everyone whose e-mail address is in that domain (the provider must vouch for it)
    ROLE  admin, manager, it or auditor
    TEAM  the PhoneGate team's name (needed for manager)
The first rule that matches decides, so put the most specific first. A person no rule matches is refused,
and a sign-in always sets the role its rule gives: taking someone out of a group takes the role away at their
next sign-in (and ends their sessions if no role is left).

The person is found by the identity the provider gives (issuer and subject, bound at the first sign-in), else
by e-mail address; a user bound to another identity is never taken over through a matching address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from phonegate.core.errors import BadInput
from server.models import Role, Team, User
from server.services import audit, people, refusals, sign_in, web_sessions
from server.services.actor import Actor
from server.services.errors import InvalidInput

ROLES = tuple(role.value for role in Role)


@dataclass(frozen=True)
class RoleRule:
    position: int  # 1-based, named in audit entries instead of the group
    who: str  # a group, or "@domain"
    role: str
    team_name: str | None

    @property
    def is_domain(self) -> bool:
        return self.who.startswith("@")

    def matches(self, groups: frozenset[str], email_domain: str | None) -> bool:
        if self.is_domain:
            return email_domain is not None and email_domain == self.who[1:].lower()
        return self.who in groups


def parse_role_rules(text: str) -> tuple[RoleRule, ...]:
    """The rules in PHONEGATE_OIDC_ROLES; BadInput naming the rule that cannot be read."""
    rules = []
    for position, raw in enumerate((part.strip() for part in (text or "").split(";")), start=1):
        if not raw:
            continue
        who, equals, target = raw.partition("=")
        who, target = who.strip(), target.strip()
        role, _, team = target.partition(":")
        role, team = role.strip().lower(), team.strip()
        if not equals or not who or who == "@":
            raise BadInput(f"PHONEGATE_OIDC_ROLES rule {position} must be GROUP=ROLE, GROUP=ROLE:TEAM or @DOMAIN=ROLE.")
        if role not in ROLES:
            raise BadInput(f"PHONEGATE_OIDC_ROLES rule {position}: the role must be one of {', '.join(ROLES)}.")
        if role == Role.MANAGER.value and not team:
            raise BadInput(f"PHONEGATE_OIDC_ROLES rule {position}: a manager rule names the team (GROUP=manager:TEAM).")
        rules.append(RoleRule(position, who, role, team or None))
    return tuple(rules)


@dataclass(frozen=True)
class Identity:
    """What PhoneGate uses from a validated ID token."""

    subject_sha256: str
    email: str | None
    email_domain: str | None  # only when the provider vouches for the address
    groups: frozenset[str]

    @classmethod
    def from_claims(cls, claims: dict[str, Any], *, email_claim: str, groups_claim: str) -> Identity:
        subject = f"{claims.get('iss', '')}\n{claims.get('sub', '')}"
        raw_email = claims.get(email_claim)
        email = None
        if isinstance(raw_email, str) and raw_email.strip():
            try:
                email = people.normalise_email(raw_email)
            except InvalidInput:
                email = None
        vouched = email is not None and claims.get("email_verified") is not False
        raw_groups = claims.get(groups_claim)
        if isinstance(raw_groups, str):
            raw_groups = [raw_groups]
        groups = frozenset(g for g in raw_groups if isinstance(g, str)) if isinstance(raw_groups, list) else frozenset()
        return cls(subject_sha256=hashlib.sha256(subject.encode("utf-8")).hexdigest(),
                   email=email if vouched else None,
                   email_domain=email.rsplit("@", 1)[1] if vouched and email else None,
                   groups=groups)


class Refused(Exception):
    """Sign-in refused; `reason` is a stable word (audited), `message` a sentence for the page."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


NO_ROLE_MESSAGE = ("Your council account is not in any group that gives access to PhoneGate. "
                   "If you need access, ask your manager or the IT service desk to add you to the right group.")


def sign_in_user(session: Session, identity: Identity, rules: tuple[RoleRule, ...]) -> User:
    """The PhoneGate user for `identity`, created or updated to the role its groups give; raises Refused.
    The caller commits (a refusal's audit entry too)."""
    user = session.scalar(select(User).where(User.oidc_subject_sha256 == identity.subject_sha256))
    if user is None and identity.email is not None:
        user = session.scalar(select(User).where(func.lower(User.email) == identity.email))
        if user is not None and user.oidc_subject_sha256 is not None:
            _refuse(session, user, "identity_mismatch")
            raise Refused("identity_mismatch", "This e-mail address belongs to another council account in PhoneGate. "
                                               "Ask a PhoneGate administrator.")
    rule = next((r for r in rules if r.matches(identity.groups, identity.email_domain)), None)
    if rule is None:
        if user is not None:
            _refuse(session, user, "no_role")
            web_sessions.end_all_for_user(session, user, Actor.system(), web_sessions.NO_ROLE)
        raise Refused("no_role", NO_ROLE_MESSAGE)
    team = None
    if rule.team_name:
        team = session.scalar(select(Team).where(func.lower(Team.name) == rule.team_name.lower()))
        if team is None:
            if user is not None:
                _refuse(session, user, "team_unknown", rule=rule.position)
            raise Refused("team_unknown", "PhoneGate is set up to give you a team that does not exist. "
                                          "Ask a PhoneGate administrator to check the sign-in settings.")
    if user is None:
        if identity.email is None:
            raise Refused("no_email", "Your council account did not tell PhoneGate a verified e-mail address. "
                                      "Ask the IT service desk.")
        user = people.add_user(session, identity.email, rule.role, Actor.system(), team=team)
        audit.record(session, Actor.system(), "user.created_at_sign_in", target=user, details={"rule": rule.position})
    if not user.active:
        _refuse(session, user, "inactive")
        raise Refused("inactive", "Your PhoneGate account has been deactivated. Ask a PhoneGate administrator.")
    _follow_rule(session, user, rule, team)
    if user.oidc_subject_sha256 is None:
        user.oidc_subject_sha256 = identity.subject_sha256
        audit.record(session, Actor.for_user(user), "user.identity_bound", target=user)
    sign_in.succeeded(session, user, "oidc")
    return user


def _follow_rule(session: Session, user: User, rule: RoleRule, team: Team | None) -> None:
    team_id = team.id if team is not None else None  # the team follows the rule too
    if rule.role == user.role and team_id == user.team_id:
        return
    details = {"from_role": user.role, "to_role": rule.role, "from_team_id": user.team_id, "to_team_id": team_id,
               "rule": rule.position}
    user.role = rule.role
    user.team_id = team_id
    if team is not None:
        user.team = team
    audit.record(session, Actor.system(), "user.role_changed", target=user, details=details)


def _refuse(session: Session, user: User, reason: str, **details: Any) -> None:
    refusals.record_refusal(session, Actor.for_user(user), "user.login_refused", reason=reason, target=user,
                            details={"method": "oidc", **details})
