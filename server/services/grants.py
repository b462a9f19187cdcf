"""Single-use install grants and the installation reports that consume them.

Whatever the provisioning client says, the server decides: a grant is issued only for a phone that is approved
(or already provisioned, for a re-install or upgrade) on an approval that rests on the current policy version,
for the catalogue APK of the phone's role, by IT or an administrator. The grant is bound to the phone and the
APK's SHA-256, expires, and its secret is returned once and stored as SHA-256. Reporting the installation
names the phone and consumes the grant; the unique grant_id on Installation makes "at most once" a database fact.

Issuing and reporting for one phone at once: both lock the phone's row first (database.lock_row), so they happen
one after the other. Two reports of one grant: the second finds it used; a grant issued while a report runs
either comes after it (the report counts) or replaces the reported grant first (the report is refused as
replaced). Each loser is told why, and audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.database import lock_row
from server.models import HOLDS_APPROVAL, CatalogueApp, Device, DeviceState, Installation, InstallGrant, Role, utcnow
from server.services import audit, lifecycle
from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, PolicyRefused
from server.services.reacknowledgement import latest_approved_request, reacknowledgement_due
from server.services.refusals import refuse
from server.settings import current_settings


@dataclass(frozen=True)
class Observed:
    """What the phone itself reports about an installed package (after `dumpsys package`)."""

    package: str
    version_code: int | None
    signer_sha256: str | None


def _secret_hash(secret: str) -> str:
    # 256-bit random secrets: a plain SHA-256 is enough (nothing to brute-force from a dictionary).
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def grant_ttl() -> timedelta:
    return timedelta(minutes=current_settings().grant_ttl_minutes)


def _check_provisioner(session: Session, actor: Actor, action: str, target) -> None:
    user = actor.user
    if user is None or not user.active or user.role not in (Role.IT.value, Role.ADMIN.value):
        raise refuse(session, actor, action, Forbidden("Only IT staff or an administrator can provision phones."), target=target)


def installability_problem(session: Session, device: Device, app: CatalogueApp | None) -> str | None:
    """Why `app` may not be installed on `device` now, or None. The server's rule, whatever the client claims."""
    if device.state not in HOLDS_APPROVAL:
        return f"The phone is {device.state.replace('_', ' ')}; the app can be installed only after a manager approves it."
    approved = latest_approved_request(session, device)
    if approved is None:
        return "The phone has no approved enrolment request."
    if reacknowledgement_due(session, device) == "policy":  # the holder's acknowledgement, not just this approval
        return "A new policy version was published: the manager must re-confirm (re-acknowledgement due) before installing."
    if device.role == "individual" and (device.staff_member is None or not device.staff_member.active):
        return "The phone's holder is no longer an active staff member."
    if app is None:
        return f"The catalogue has no app for {device.role} phones yet."
    if not app.active:
        return "That catalogue app has been withdrawn."
    if app.role != device.role:
        return f"That catalogue app is for {app.role} phones, and this is a {device.role} phone."
    return None


def issue_grant(session: Session, device: Device, catalogue_app: CatalogueApp | None, actor: Actor,
                *, now: datetime | None = None) -> tuple[InstallGrant, str]:
    """Issue a grant; returns (grant, secret). The secret is never stored and cannot be shown again.

    Earlier unused grants for the same phone are revoked: their secrets were shown once and may be lost (a
    crashed run), so a re-run gets a fresh one rather than being blocked.
    """
    action = "grant.refused"
    _check_provisioner(session, actor, action, device)
    device = lock_row(session, device)  # one grant decision per phone at a time (see the module's docstring)
    problem = installability_problem(session, device, catalogue_app)
    if problem is not None:
        raise refuse(session, actor, action, PolicyRefused(problem), target=device,
                     details={"apk_sha256": catalogue_app.sha256 if catalogue_app else None})
    now = now or utcnow()
    for old in session.scalars(select(InstallGrant).where(
        InstallGrant.device_id == device.id, InstallGrant.used_at.is_(None), InstallGrant.revoked_at.is_(None)
    )):
        old.revoked_at = now
        audit.record(session, actor, "grant.revoked", target=old, details={"device_id": device.id, "why": "superseded"})
    secret = secrets.token_urlsafe(32)
    grant = InstallGrant(
        secret_hash=_secret_hash(secret), device_id=device.id, catalogue_app_id=catalogue_app.id,
        apk_sha256=catalogue_app.sha256, issued_to_id=actor.user.id, issued_at=now, expires_at=now + grant_ttl(),
    )
    session.add(grant)
    session.flush()
    audit.record(session, actor, "grant.issued", target=grant, details={
        "device_id": device.id, "catalogue_app_id": catalogue_app.id, "apk_sha256": catalogue_app.sha256,
        "expires_at": grant.expires_at.isoformat(),
    })
    return grant, secret


def find_grant(session: Session, secret: str) -> InstallGrant | None:
    if not secret:
        return None
    return session.scalar(select(InstallGrant).where(InstallGrant.secret_hash == _secret_hash(secret)))


def report_installation(session: Session, grant_secret: str, observed: Observed, actor: Actor,
                        *, reported_serial: str, now: datetime | None = None) -> Installation:
    """Consume the grant with what the phone `reported_serial` reports; the phone becomes "provisioned".

    A grant is bound to one phone: reported from another phone, it is refused (and audited) and stays usable for
    its own phone.
    """
    action = "installation.refused"
    now = now or utcnow()
    _check_provisioner(session, actor, action, None)
    grant = find_grant(session, grant_secret)
    if grant is None:
        raise refuse(session, actor, action, PolicyRefused("That install grant is not known."))
    if grant.device.serial != reported_serial:
        raise refuse(session, actor, action, PolicyRefused(
            "That install grant is for another phone; nothing was recorded. Ask for a grant for this phone."
        ), target=grant, details={"grant_device_id": grant.device_id, "reported_serial": reported_serial})
    lock_row(session, grant.device)  # waits for an issue or a report for this phone running now
    grant = lock_row(session, grant)  # and sees what it did
    used = session.scalar(select(Installation).where(Installation.grant_id == grant.id))
    if grant.used_at is not None or used is not None:
        when = f" at {used.installed_at:%H:%M:%S} UTC" if used is not None else ""
        raise refuse(session, actor, action, PolicyRefused(
            f"That install grant has already been used{when}; nothing was recorded."), target=grant)
    if grant.revoked_at is not None:
        raise refuse(session, actor, action, PolicyRefused("That install grant was replaced by a newer one."), target=grant)
    if grant.expires_at <= now:
        raise refuse(session, actor, action, PolicyRefused("That install grant has expired; ask for a new one."), target=grant)
    device = grant.device
    app = grant.catalogue_app
    problem = installability_problem(session, device, app)
    if problem is not None:
        raise refuse(session, actor, action, PolicyRefused(problem), target=grant)
    mismatch = _mismatch(app, observed)
    if mismatch is not None:
        raise refuse(session, actor, action, PolicyRefused(mismatch), target=grant, details=_observed_details(observed))

    installation = Installation(
        grant_id=grant.id, device_id=device.id, package=observed.package, version_code=int(observed.version_code),
        signer_sha256=observed.signer_sha256.lower(), installed_at=now, reported_by_id=actor.user.id,
    )
    try:
        with session.begin_nested():  # two reports racing for one grant: the unique grant_id lets one win
            session.add(installation)
            session.flush()
    except IntegrityError:  # only without the row lock (another database); the unique grant_id still decides
        raise refuse(session, actor, action, PolicyRefused(
            "That install grant has already been used; nothing was recorded."), target=grant) from None
    grant.used_at = now
    if device.state == DeviceState.APPROVED.value:
        lifecycle.transition(session, device, DeviceState.PROVISIONED, actor, reason=f"installation {installation.id} confirmed")
    audit.record(session, actor, "installation.reported", target=installation, details={
        "device_id": device.id, "grant_id": grant.id, **_observed_details(observed),
    })
    return installation


def _mismatch(app: CatalogueApp, observed: Observed) -> str | None:
    if observed.package != app.package:
        return f"The phone reports {observed.package}, but the grant is for {app.package}."
    if observed.version_code is None or int(observed.version_code) != app.version_code:
        return f"The phone reports version {observed.version_code}, but the grant is for version {app.version_code}."
    if not observed.signer_sha256 or observed.signer_sha256.lower() != app.signer_sha256:
        return "The installed app's signer is not the catalogue APK's signer."
    return None


def _observed_details(observed: Observed) -> dict:
    return {"package": observed.package, "version_code": observed.version_code, "signer_sha256": observed.signer_sha256}


def report_unauthorised_install(session: Session, device: Device, observed: Observed, actor: Actor) -> dict:
    """Record that `device` carries a messaging app it was not approved for (found while provisioning or sweeping).

    It changes no state here: the compliance part decides what follows (notify the manager, suspend). The
    audit entry is the durable record, so information governance can see every such phone.
    """
    user = actor.user
    if user is None or not user.active or user.role == Role.AUDITOR.value:  # auditors read, never write
        raise refuse(session, actor, "unauthorised_install.refused", Forbidden("This account cannot report installs."), target=device)
    if not observed.package:
        raise InvalidInput("Say which package was found.", errors={"package": ["Required."]})
    approved = device.state in HOLDS_APPROVAL
    entry = audit.record(session, actor, "device.unauthorised_install", target=device, details={
        **_observed_details(observed), "device_state": device.state, "device_approved": approved,
    })
    return {"device_id": device.id, "audit_entry_id": entry.id, "device_state": device.state}
