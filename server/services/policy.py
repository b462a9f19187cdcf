"""Acceptable-use policy versions: publishing a new one and knowing which one is current.

Publishing a version makes every earlier acknowledgement out of date (see reacknowledgement.needs_reacknowledgement):
the manager confirms against the text's SHA-256, so "the current version" is exactly one text, never a label.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from phonegate.core.text import unprintable_characters
from server.models import PolicyVersion, Role
from server.services import audit
from server.services.actor import Actor
from server.services.errors import Conflict, Forbidden, InvalidInput

LABEL_MAX = 64
TEXT_MAX_CHARS = 200_000  # about 60 pages; an acceptable-use paper is a few
TEXT_MAX_BYTES = TEXT_MAX_CHARS * 4  # what a reader may read before the text is checked (UTF-8: at most 4 a character)


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
    elif unprintable_characters(label):
        errors["version"] = [f"The version label holds control characters ({', '.join(unprintable_characters(label))})."]
    problem = text_problem(text)
    if problem:
        errors["text"] = [problem]
    if errors:
        problems = " ".join(message for messages in errors.values() for message in messages)
        raise InvalidInput(f"The policy version cannot be published. {problems}", errors=errors)

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


def text_problem(text: str) -> str | None:
    """Why `text` cannot be a policy version, or None. Managers read it on a page and confirm its exact bytes."""
    if not text or not text.strip():
        return "The policy text is empty."
    if len(text) > TEXT_MAX_CHARS:
        return f"The policy text is longer than {TEXT_MAX_CHARS:,} characters."
    found = unprintable_characters(text.replace("\r\n", "\n"), allow="\n\t")
    if found:
        return f"The policy text holds control characters ({', '.join(found[:5])}); save it as plain text."
    return None


def _require_admin_or_cli(actor: Actor) -> None:
    # The CLI actor has no user: it is the operator on the server machine, who already controls the database.
    if actor.user is not None and actor.user.role != Role.ADMIN.value:
        raise Forbidden("Only an administrator can publish policy versions.")
