"""Acceptable-use policy versions: publishing a new one and knowing which one is current.

Publishing a version makes every earlier acknowledgement out of date (see reacknowledgement.needs_reacknowledgement):
the manager confirms against the text's SHA-256, so "the current version" is exactly one text, never a label.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import PolicyVersion, Role
from server.services import audit
from server.services.actor import Actor
from server.services.errors import Conflict, Forbidden, InvalidInput

LABEL_MAX = 64


def policy_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_policy(session: Session) -> PolicyVersion | None:
    """The newest published version (ties broken by id, so two versions published in the same instant still order)."""
    return session.scalar(select(PolicyVersion).order_by(PolicyVersion.published_at.desc(), PolicyVersion.id.desc()).limit(1))


def publish_policy(session: Session, text: str, label: str, actor: Actor) -> PolicyVersion:
    """Publish `text` as version `label`. Admins (or the operator's CLI) only; label and text must both be new."""
    _require_admin_or_cli(actor)
    label = (label or "").strip()
    errors: dict[str, list[str]] = {}
    if not label:
        errors["version"] = ["Give the version a label, for example 2026-11."]
    elif len(label) > LABEL_MAX:
        errors["version"] = [f"The version label is longer than {LABEL_MAX} characters."]
    if not text or not text.strip():
        errors["text"] = ["The policy text is empty."]
    if errors:
        raise InvalidInput("The policy version cannot be published.", errors=errors)

    digest = policy_sha256(text)
    if session.scalar(select(PolicyVersion.id).where(PolicyVersion.label == label)) is not None:
        raise Conflict(f"A policy version labelled {label!r} already exists; choose a new label.")
    existing = session.scalar(select(PolicyVersion).where(PolicyVersion.sha256 == digest))
    if existing is not None:
        raise Conflict(f"This exact text is already published as version {existing.label!r}.")

    version = PolicyVersion(label=label, text=text, sha256=digest, published_by_id=actor.user.id if actor.user else None)
    session.add(version)
    session.flush()
    audit.record(session, actor, "policy.published", target=version, details={"label": label, "sha256": digest})
    return version


def _require_admin_or_cli(actor: Actor) -> None:
    # The CLI actor has no user: it is the operator on the server machine, who already controls the database.
    if actor.user is not None and actor.user.role != Role.ADMIN.value:
        raise Forbidden("Only an administrator can publish policy versions.")
