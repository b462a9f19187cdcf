"""Scheduled compliance sweeps inside `phonegate serve` (PHONEGATE_SWEEP_SCHEDULE, cron syntax; "off" = none).

At each slot the scheduler prunes old raw results, then either
- without PHONEGATE_BROKER_URL: runs the sweep agent in this process against the server's own API, as an
  internal agent (a dedicated login-less user whose token lives only in memory), or
- with PHONEGATE_BROKER_URL: enqueues one Celery task per site on that site's queue (device_agent.tasks), and
  finishes the previous slot's sweep, whose workers had a whole interval to report.

The sweep id of a slot is uuid5(slot time): two schedulers (two `serve` processes on one database) create the
same sweep (the create is idempotent) and claim phones through the same claims table, so no phone is checked
twice in one slot, and the first finish wins (a finish is idempotent too).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from croniter import croniter
from flask import Flask
from sqlalchemy import select

from phonegate.errors import BadInput

log = logging.getLogger(__name__)

SLOT_NAMESPACE = uuid.UUID("6f7e1c2a-94b0-4c55-9d51-3f1f4f1c9a01")  # fixed forever: ids must agree across processes
SCHEDULER_EMAIL = "sweep-scheduler@phonegate.invalid"  # a service identity, not a person
MAX_WAIT_S = 60.0
STALE_TOKEN_AGE = timedelta(days=1)
CLAIM_WAIT_S = 600.0  # how long a scheduler waits for phones another scheduler claimed in the same slot


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
    def __init__(self, app: Flask, expression: str, *, server_url: str, broker_url: str | None = None) -> None:
        self.app = app
        self.expression = expression
        self.server_url = server_url.rstrip("/")
        self.broker_url = broker_url
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
        if self.broker_url:
            finished = self.finish_earlier_sweeps(sweep_id)
            sites = self.enqueue_sites(sweep_id)
            return SlotOutcome(sweep_id, "celery", pruned, sites, None, finished)
        return SlotOutcome(sweep_id, "in-process", pruned, (), self.sweep_in_process(sweep_id))

    def prune(self, now: datetime) -> int:
        from server.extensions import db
        from server.services.compliance_retention import prune_results
        from server.services.compliance_settings import compliance_settings

        with self.app.app_context():
            deleted = prune_results(db.session, now, compliance_settings().result_retention_days)
            db.session.commit()
            db.session.remove()
        return deleted

    def sweep_in_process(self, sweep_id: str) -> dict | None:
        """This process is the agent: claim phones in the slot's sweep, check them, report, finish."""
        from device_agent.adb import AdbKey
        from device_agent.sweep import SweepOptions, default_outbox, sweep_claimed
        from device_agent.sweep_api import ComplianceApi, ServerRefused
        from device_agent.sweep_upload import deliver_pending

        settings = self.app.config["PHONEGATE"]
        api = ComplianceApi.from_environment(self.server_url, self.agent_token())
        outbox = default_outbox(settings.instance_path)
        try:
            deliver_pending(api, outbox)
            options = SweepOptions(key=AdbKey.load_or_create(), source="scheduler")
            sweep_claimed(api, outbox, options, sweep_id, worker=f"scheduler:{socket.gethostname()}:{os.getpid()}")
            self.wait_for_claimed_results(sweep_id)
            try:
                return api.finish(sweep_id)
            except ServerRefused as exc:
                if exc.status == 409:
                    return None  # the other scheduler finished it first
                raise
        finally:
            api.close()

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
        from device_agent.tasks import enqueue_site, make_celery
        from server.extensions import db
        from server.services.actor import Actor
        from server.services.compliance_ingest import UNASSIGNED_SITE, plan_devices, start_sweep

        with self.app.app_context():
            start_sweep(db.session, sweep_id, "scheduler", Actor.system())
            sites = sorted({device["site"] or UNASSIGNED_SITE for device in plan_devices(db.session)})
            db.session.commit()
            db.session.remove()
        celery = make_celery(self.broker_url)
        for site in sites:
            enqueue_site(sweep_id, site, app=celery)
        return tuple(sites)

    def finish_earlier_sweeps(self, current_sweep_id: str) -> tuple[str, ...]:
        """Finish scheduled sweeps from earlier slots that are still open (their Celery workers report to them)."""
        from server.extensions import db
        from server.models import Sweep
        from server.services.actor import Actor
        from server.services.compliance import finish_sweep

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


def start(app: Flask, server_url: str | None = None) -> SweepScheduler | None:
    """Start the scheduler thread for `phonegate serve`; None when the schedule is "off"."""
    settings = app.config["PHONEGATE"]
    expression = parse_schedule(getattr(settings, "sweep_schedule", "0 */4 * * *"))
    if expression is None:
        log.info("scheduled sweeps are off (PHONEGATE_SWEEP_SCHEDULE=off)")
        return None
    url = server_url or os.environ.get("PHONEGATE_SERVER") or "http://127.0.0.1:5000"
    scheduler = SweepScheduler(app, expression, server_url=url, broker_url=os.environ.get("PHONEGATE_BROKER_URL") or None)
    return scheduler.start()
