"""Scheduled compliance sweeps inside `phonegate serve` (PHONEGATE_SWEEP_SCHEDULE, cron syntax; "off" = none).

At each slot the scheduler prunes old raw results, then either
- without PHONEGATE_BROKER_URL: hands the slot's sweep to the `agent` it was given (`phonegate serve` composes
  device_agent's in-process agent here: phonegate/serve.py), which talks to this server's own API with a token
  of a dedicated login-less user that lives only in memory; then finishes the sweep, or
- with PHONEGATE_BROKER_URL: sends one Celery task per site, by name, to that site's queue
  (phonegate.core.sweep_queues; workers near the phones run device_agent.tasks), and finishes the previous
  slot's sweep, whose workers had a whole interval to report.
The server never imports the agent: it only knows the agent's signature (SweepAgent) and the task's name.

The sweep id of a slot is uuid5(slot time): two schedulers (two `serve` processes on one database) create the
same sweep (the create is idempotent) and claim phones through the same claims table, so no phone is checked
twice in one slot, and the first finish wins (a finish is idempotent too).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from croniter import croniter
from flask import Flask
from sqlalchemy import select

from phonegate.core.errors import BadInput
from phonegate.core.sweep_queues import SWEEP_SITE_TASK, UNASSIGNED_SITE, site_queue

log = logging.getLogger(__name__)

SLOT_NAMESPACE = uuid.UUID("6f7e1c2a-94b0-4c55-9d51-3f1f4f1c9a01")  # fixed forever: ids must agree across processes
SCHEDULER_EMAIL = "sweep-scheduler@phonegate.invalid"  # a service identity, not a person
MAX_WAIT_S = 60.0
STALE_TOKEN_AGE = timedelta(days=1)
CLAIM_WAIT_S = 600.0  # how long a scheduler waits for phones another scheduler claimed in the same slot

# The agent of an in-process sweep: (sweep_id, server_url, agent_token) -> None. It claims the slot's phones,
# checks them and posts the results over the API; the scheduler finishes the sweep afterwards.
SweepAgent = Callable[[str, str, str], None]


def parse_schedule(expression: str) -> str | None:
    """The cron expression, or None for "off"; BadInput (exit 2) when it is not valid cron syntax."""
    expression = (expression or "").strip()
    if expression.lower() in ("", "off", "none", "disabled"):
        return None
    if not croniter.is_valid(expression):
        raise BadInput(f"PHONEGATE_SWEEP_SCHEDULE is not a cron expression: {expression!r} (e.g. \"0 */4 * * *\", or off).")
    return expression


def slot_sweep_id(slot: datetime) -> str:
    return str(uuid.uuid5(SLOT_NAMESPACE, slot.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M")))


def next_slot(expression: str, after: datetime) -> datetime:
    return croniter(expression, after.astimezone(timezone.utc)).get_next(datetime).astimezone(timezone.utc)


@dataclass
class SlotOutcome:
    sweep_id: str
    mode: str  # "in-process" or "celery"
    pruned: int = 0
    sites: tuple[str, ...] = ()
    summary: dict | None = None
    finished_earlier: tuple[str, ...] = ()


class SweepScheduler:
    def __init__(self, app: Flask, expression: str, *, server_url: str, broker_url: str | None = None,
                 agent: SweepAgent | None = None) -> None:
        self.app = app
        self.expression = expression
        self.server_url = server_url.rstrip("/")
        self.broker_url = broker_url
        self.agent = agent
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._token: str | None = None

    # --- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> SweepScheduler:
        self._thread = threading.Thread(target=self._loop, name="sweep-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _loop(self) -> None:
        slot = next_slot(self.expression, datetime.now(timezone.utc))
        log.info("next scheduled sweep at %s", slot.isoformat())
        while not self._stop.is_set():
            wait = (slot - datetime.now(timezone.utc)).total_seconds()
            if wait > 0:
                self._stop.wait(min(wait, MAX_WAIT_S))
                continue
            try:
                outcome = self.run_slot(slot)
                log.info("scheduled sweep %s (%s) done", outcome.sweep_id, outcome.mode)
            except Exception:  # one failed slot must not stop the schedule
                log.exception("scheduled sweep for %s failed", slot.isoformat())
            slot = next_slot(self.expression, max(slot, datetime.now(timezone.utc)))

    # --- one slot -------------------------------------------------------------------------------------------
    def run_slot(self, slot: datetime) -> SlotOutcome:
        sweep_id = slot_sweep_id(slot)
        pruned = self.prune(slot)
        self.remind_check_ins(slot)
        if self.broker_url:
            finished = self.finish_earlier_sweeps(sweep_id)
            sites = self.enqueue_sites(sweep_id)
            return SlotOutcome(sweep_id, "celery", pruned, sites, None, finished)
        if self.agent is None:
            raise BadInput("In-process sweeps need an agent: run them from `phonegate serve`, or set PHONEGATE_BROKER_URL.")
        return SlotOutcome(sweep_id, "in-process", pruned, (), self.sweep_in_process(sweep_id))

    def prune(self, now: datetime) -> int:
        from server.extensions import db
        from server.services.compliance.retention import prune_results

        with self.app.app_context():
            deleted = prune_results(db.session, now, self.app.config["PHONEGATE"].compliance_retention_days)
            db.session.commit()
            db.session.remove()
        return deleted

    def remind_check_ins(self, now: datetime) -> int:
        """Phones due for a check-in soon: one e-mail to holder and managers per due date (services/compliance/check_in.py)."""
        from server.extensions import db
        from server.services.actor import Actor
        from server.services.compliance.check_in import send_reminders
        from server.services.compliance.rules import consequences, current_version, default_document

        with self.app.app_context():
            try:
                version = current_version(db.session)  # read only: publishing is the sweep's (one writer)
                rules = consequences(version.document if version is not None else default_document())
                return send_reminders(db.session, now, self.app.config["PHONEGATE"], rules, Actor.system())
            finally:
                db.session.remove()

    def sweep_in_process(self, sweep_id: str) -> dict:
        """Start the slot's sweep, let the agent claim and check phones, wait for every claimed phone, finish."""
        from server.extensions import db
        from server.services.actor import Actor
        from server.services.compliance.ingest import start_sweep
        from server.services.compliance.sweeps import finish_sweep

        with self.app.app_context():
            start_sweep(db.session, sweep_id, "scheduler", Actor.system())
            db.session.commit()
            db.session.remove()
        self.agent(sweep_id, self.server_url, self.agent_token())
        self.wait_for_claimed_results(sweep_id)
        with self.app.app_context():
            summary = finish_sweep(db.session, sweep_id, Actor.system())  # a second scheduler's finish only reports
            db.session.commit()
            db.session.remove()
        return summary

    def wait_for_claimed_results(self, sweep_id: str, timeout_s: float = CLAIM_WAIT_S) -> bool:
        """Wait until every phone claimed in this sweep has reported (another scheduler may still be checking its
        share): finishing earlier would refuse that scheduler's late results. True when all reported in time."""
        from sqlalchemy import func

        from server.extensions import db
        from server.models import ComplianceResult, SweepClaim

        deadline = time.monotonic() + timeout_s
        while True:
            with self.app.app_context():
                missing = db.session.scalar(select(func.count()).select_from(SweepClaim).where(
                    SweepClaim.sweep_id == sweep_id,
                    ~select(ComplianceResult.id).where(ComplianceResult.sweep_id == sweep_id,
                                                       ComplianceResult.device_id == SweepClaim.device_id).exists()))
                db.session.remove()
            if not missing:
                return True
            if time.monotonic() >= deadline or self._stop.wait(2.0):
                log.warning("finishing sweep %s with %d claimed phone(s) not reported", sweep_id, missing)
                return False

    def enqueue_sites(self, sweep_id: str) -> tuple[str, ...]:
        """Create the slot's sweep, then one task per site (phones without a site go to the "unassigned" queue)."""
        from celery import Celery

        from server.extensions import db
        from server.services.actor import Actor
        from server.services.compliance.ingest import plan_devices, start_sweep

        with self.app.app_context():
            start_sweep(db.session, sweep_id, "scheduler", Actor.system())
            sites = sorted({device["site"] or UNASSIGNED_SITE for device in plan_devices(db.session)})
            db.session.commit()
            db.session.remove()
        celery = Celery("phonegate", broker=self.broker_url, set_as_current=False)
        try:
            for site in sites:
                celery.send_task(SWEEP_SITE_TASK, args=(sweep_id, site), queue=site_queue(site))
        finally:
            celery.close()
        return tuple(sites)

    def finish_earlier_sweeps(self, current_sweep_id: str) -> tuple[str, ...]:
        """Finish scheduled sweeps from earlier slots that are still open (their Celery workers report to them)."""
        from server.extensions import db
        from server.models import Sweep
        from server.services.actor import Actor
        from server.services.compliance.sweeps import finish_sweep

        finished = []
        with self.app.app_context():
            open_ids = db.session.scalars(select(Sweep.id).where(
                Sweep.finished_at.is_(None), Sweep.source.in_(("scheduler", "celery")), Sweep.id != current_sweep_id)
                .order_by(Sweep.started_at)).all()
            for sweep_id in open_ids:
                finish_sweep(db.session, sweep_id, Actor.system())
                db.session.commit()
                finished.append(sweep_id)
            db.session.remove()
        return tuple(finished)

    # --- the internal agent ---------------------------------------------------------------------------------
    def agent_token(self) -> str:
        """An agent token for this process's scheduler, kept in memory only (a restart makes a new one)."""
        if self._token is not None:
            return self._token
        from sqlalchemy.exc import IntegrityError

        from server.extensions import db
        from server.models import ApiToken, Role, User, utcnow
        from server.services import tokens
        from server.services.actor import Actor

        with self.app.app_context():
            actor = Actor.system()
            user = db.session.scalar(select(User).where(User.email == SCHEDULER_EMAIL))
            if user is None:
                try:
                    with db.session.begin_nested():
                        # No password: this identity can never log in to the web pages; it only holds agent tokens.
                        db.session.add(User(email=SCHEDULER_EMAIL, role=Role.IT.value, password_hash=None, active=True))
                except IntegrityError:
                    pass  # another scheduler created it at the same moment
                user = db.session.scalar(select(User).where(User.email == SCHEDULER_EMAIL))
            # Tokens of earlier processes: revoke those unused for a day. A live second scheduler keeps its own.
            stale = utcnow() - STALE_TOKEN_AGE
            for old in db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))):
                if (old.last_used_at or old.created_at) < stale:
                    tokens.revoke_token(db.session, old.id, actor)
            self._token, _ = tokens.create_token(db.session, user, "agent", actor)
            db.session.commit()
            db.session.remove()
        return self._token


def start(app: Flask, server_url: str, agent: SweepAgent | None = None) -> SweepScheduler | None:
    """Start the scheduler thread for `phonegate serve`; None when the schedule is "off".

    `server_url` is where the agent reaches this server's API; `agent` runs in-process sweeps (needed unless
    PHONEGATE_BROKER_URL sends them to Celery workers).
    """
    settings = app.config["PHONEGATE"]
    expression = parse_schedule(settings.sweep_schedule)
    if expression is None:
        log.info("scheduled sweeps are off (PHONEGATE_SWEEP_SCHEDULE=off)")
        return None
    broker = settings.broker_url or None
    if broker is None and agent is None:
        raise BadInput("Scheduled sweeps need an agent in this process or PHONEGATE_BROKER_URL for Celery workers.")
    scheduler = SweepScheduler(app, expression, server_url=server_url, broker_url=broker, agent=agent)
    return scheduler.start()
