"""Starting spot checks: one phone called in by its manager, or a team's random sample for the period.

The holder is e-mailed at once to bring the phone by a date (through the compliance mail settings); a message the
relay did not accept leaves `holder_notified_at` empty, and the page offers to send it again. A Broadcast phone
has no holder: its manager fetches it.

The sample is drawn from the team's phones in use (approved or provisioned; the service's Broadcast phone is not
part of any team's sample) at the rules document's rate, with a seed kept on the sample so the draw can be
replayed and shown to be fair. One sample per team per period: a unique constraint, so two managers drawing at
once get one sample.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from phonegate.core.spot_check_rules import MAX_BRING_WITHIN_DAYS, SpotCheckRules
from server.database import lock_row
from server.mail import MailMessage, send_messages
from server.models import (
    HOLDS_APPROVAL,
    OPEN_SPOT_CHECK,
    Device,
    DeviceRole,
    SpotCheck,
    SpotCheckSample,
    Team,
    utcnow,
)
from server.services import access, audit
from server.services.actor import Actor
from server.services.compliance import rules as rules_versions
from server.services.errors import Conflict, Forbidden, InvalidInput, PolicyRefused
from server.services.refusals import refuse
from server.settings import Settings

SEED_BITS = 63  # fits a signed 64-bit column on both databases


def spot_check_rules(session: Session) -> SpotCheckRules:
    """The `spot_checks` section of the compliance rules in force (the packaged default before any is published)."""
    row = rules_versions.current_version(session)
    return rules_versions.parse_document(row.document if row else rules_versions.default_document()).spot_checks


def default_bring_by(session: Session, today: date) -> date:
    return today + timedelta(days=spot_check_rules(session).bring_within_days)


def start_spot_check(session: Session, device: Device, actor: Actor, settings: Settings, *, bring_by: date | None = None,
                     today: date | None = None) -> SpotCheck:
    """Call `device` in for a spot check and e-mail its holder. Refused (and audited) for anyone but its manager."""
    today = today or utcnow().date()
    bring_by = bring_by or default_bring_by(session, today)
    spot_check = _start(session, device, actor, bring_by, today, sample=None)
    notify_holders(session, [spot_check], actor, settings)
    return spot_check


def _start(session: Session, device: Device, actor: Actor, bring_by: date, today: date,
           sample: SpotCheckSample | None) -> SpotCheck:
    action = "spot_check.start_refused"
    problem = access.spot_check_start_problem(actor.user, device)
    if problem is not None:
        raise refuse(session, actor, action, Forbidden(problem), target=device)
    if bring_by < today or (bring_by - today).days > MAX_BRING_WITHIN_DAYS:
        raise InvalidInput("Choose the date the phone is brought by.", errors={
            "bring_by": [f"The date must be from today to {MAX_BRING_WITHIN_DAYS} days ahead"]})
    device = lock_row(session, device)  # two managers at once: the second sees the first one's spot check
    if device.state not in HOLDS_APPROVAL:
        raise refuse(session, actor, action, PolicyRefused(
            f"Only a phone in use can be spot-checked; this one is {device.state.replace('_', ' ')}."), target=device)
    existing = open_spot_check(session, device.id)
    if existing is not None:
        raise refuse(session, actor, action, Conflict(
            f"This phone already has an open spot check (number {existing.id}, started {existing.started_at:%-d %B %Y}); "
            "nothing was changed."), target=device, details={"spot_check_id": existing.id})
    individual = device.role == DeviceRole.INDIVIDUAL.value
    spot_check = SpotCheck(
        device_id=device.id, role=device.role, staff_member_id=device.staff_member_id if individual else None,
        team_id=device.team_id if individual else None,
        service_id=device.service_id if device.service_id is not None else (device.team.service_id if device.team else None),
        sample_id=sample.id if sample is not None else None, started_by_id=actor.user_id, bring_by=bring_by)
    try:
        with session.begin_nested():  # the partial unique index is the last word on "one open spot check per phone"
            session.add(spot_check)
            session.flush()
    except IntegrityError:
        raise refuse(session, actor, action, Conflict("This phone already has an open spot check; nothing was changed."),
                     target=device) from None
    audit.record(session, actor, "spot_check.started", target=spot_check, details={
        "device_id": device.id, "staff_member_id": spot_check.staff_member_id, "sample_id": spot_check.sample_id,
        "bring_by": bring_by})
    return spot_check


def open_spot_check(session: Session, device_id: int) -> SpotCheck | None:
    return session.scalar(select(SpotCheck).where(SpotCheck.device_id == device_id, SpotCheck.status.in_(OPEN_SPOT_CHECK)))


def draw_sample(session: Session, team: Team | None, actor: Actor, settings: Settings, *, today: date | None = None,
                seed: int | None = None) -> tuple[SpotCheckSample, list[SpotCheck]]:
    """Draw `team`'s sample for the current period and start a spot check for each phone drawn (`team` None: the
    signed-in person has no team, and is refused like anyone else who is not its manager)."""
    action = "spot_check.sample_refused"
    problem = access.sample_problem(actor.user, team)
    if problem is not None or team is None:
        raise refuse(session, actor, action, Forbidden(problem or ""), target=team)
    today = today or utcnow().date()
    rules = spot_check_rules(session)
    if rules.sample_rate_percent == 0:
        raise refuse(session, actor, action, PolicyRefused(
            "The compliance rules set no sampling (spot_checks: sample_rate_percent is 0)."), target=team)
    period = rules.period_of(today)
    team = lock_row(session, team)  # two managers drawing at once: the second sees the first one's sample
    drawn = session.scalar(select(SpotCheckSample).where(SpotCheckSample.team_id == team.id, SpotCheckSample.period == period))
    if drawn is not None:
        raise refuse(session, actor, action, Conflict(
            f"This team's sample for {period} was already drawn on {drawn.drawn_at:%-d %B %Y}; nothing was changed."),
            target=team, details={"sample_id": drawn.id})
    population = list(session.scalars(select(Device).where(
        Device.team_id == team.id, Device.role == DeviceRole.INDIVIDUAL.value, Device.state.in_(HOLDS_APPROVAL))
        .order_by(Device.id)))
    busy = set(session.scalars(select(SpotCheck.device_id).where(SpotCheck.status.in_(OPEN_SPOT_CHECK))))
    candidates = [device for device in population if device.id not in busy]
    seed = secrets.randbits(SEED_BITS) if seed is None else seed
    chosen = choose(candidates, rules.sample_size(len(population)), seed)
    sample = SpotCheckSample(team_id=team.id, period=period, rate_percent=rules.sample_rate_percent,
                             population=len(population), seed=seed, drawn_by_id=actor.user_id)
    try:
        with session.begin_nested():
            session.add(sample)
            session.flush()
    except IntegrityError:
        raise refuse(session, actor, action, Conflict(f"This team's sample for {period} was already drawn; nothing was changed."),
                     target=team) from None
    bring_by = today + timedelta(days=rules.bring_within_days)
    checks = [_start(session, device, actor, bring_by, today, sample) for device in chosen]
    audit.record(session, actor, "spot_check.sample_drawn", target=sample, details={
        "team_id": team.id, "period": period, "rate_percent": rules.sample_rate_percent, "population": len(population),
        "seed": seed, "device_ids": [device.id for device in chosen], "already_open": sorted(busy & {d.id for d in population})})
    notify_holders(session, checks, actor, settings)
    return sample, checks


def choose(candidates: Sequence[Device], size: int, seed: int) -> list[Device]:
    """`size` of `candidates` (ordered by id) at random, the same ones for the same seed; ordered by id again."""
    picked = random.Random(seed).sample(list(candidates), min(size, len(candidates)))
    return sorted(picked, key=lambda device: device.id)


def notify_holders(session: Session, checks: Sequence[SpotCheck], actor: Actor, settings: Settings) -> int:
    """E-mail each spot check's holder (one connection for all); returns how many the relay accepted."""
    due = [check for check in checks if check.staff_member is not None and check.staff_member.active]
    accepted = send_messages(settings.smtp, [holder_message(check) for check in due])
    sent = 0
    for check, ok in zip(due, accepted):
        if not ok:
            continue
        sent += 1
        check.holder_notified_at = utcnow()
        audit.record(session, actor, "spot_check.holder_notified", target=check,
                     details={"staff_member_id": check.staff_member_id})
    return sent


def holder_message(check: SpotCheck) -> MailMessage:
    device = check.device
    label = ", ".join(part for part in (f"serial {device.serial}", f"asset tag {device.asset_tag}" if device.asset_tag else "",
                                        " ".join(filter(None, (device.manufacturer, device.model)))) if part)
    by = f"{check.bring_by.day} {check.bring_by:%B %Y}"
    body = "\n".join([
        f"Dear {check.staff_member.name},",
        "",
        f"Your manager has asked to spot-check your work phone ({label}). Please bring it to them by {by}.",
        "",
        "The WhatsApp acceptable-use paper asks staff to make the work phone available for a manager's spot check at "
        "any time. At the check the phone is connected to a computer for a few minutes: PhoneGate reads its settings, "
        "which apps are installed, and how many WhatsApp files there are and how old they are. It does not read your "
        "messages. Your manager then goes through a short checklist with you.",
        "",
        "Before you come: enter the conversations about case work or safeguarding in the case record, then delete the "
        "conversations and media that are no longer active, and any exported chats left on the phone.",
        "",
        f"Spot check number {check.id}. You receive this because you hold this phone in PhoneGate.",
    ])
    return MailMessage(to=check.staff_member.email, subject=f"PhoneGate: please bring your work phone for a spot check by {by}",
                       body=body)


def remind_holder(session: Session, spot_check: SpotCheck, actor: Actor, settings: Settings) -> bool:
    """Send the holder's e-mail again (the relay refused it, or the phone has not come); True when accepted."""
    action = "spot_check.reminder_refused"
    problem = access.spot_check_decision_problem(actor.user, spot_check)
    if problem is not None:
        raise refuse(session, actor, action, Forbidden(problem), target=spot_check)
    if not spot_check.is_open or spot_check.staff_member is None:
        raise refuse(session, actor, action, PolicyRefused(
            "Only an open spot check of a phone with a holder can be sent again."), target=spot_check)
    return notify_holders(session, [spot_check], actor, settings) == 1
