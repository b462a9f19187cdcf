"""One compliance sweep: read every target phone's facts, run the rules' checks, send the results.

Targets are the server's plan (phones with an ADB endpoint, each with what the inventory expects of it) plus
the phones named on the command line (`--tcp`, `--serial`, `--usb`: device_agent/phones.py). A named phone whose
serial number is in the plan is checked against what the inventory expects of it, once, at the named endpoint
(a phone on this computer's adb server is reachable now; its registered endpoint may not be). Phones are checked concurrently (at most `concurrency` at once), each inside its
own time limit covering connect + collect + checks, so one hung phone costs its own limit and nothing more.
Results flow to the server in batches through the outbox (device_agent/sweep_upload.py): when the server is
down they wait on disk and the next sweep delivers them first.

The work is separate from how it is shown: `run_sweep` reports each phone to an `on_phone` callback; the CLI
picks a rich progress bar on a terminal or plain lines otherwise (device_agent/sweep_render.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from device_agent.checks.base import CheckResult, DeviceExpectation
from device_agent.checks.runner import error_results, evaluate_device
from device_agent.facts import DeviceFacts
from device_agent.outbox import Outbox
from device_agent.settings import OUTBOX_FOLDER, AgentSettings
from device_agent.sweep_api import ComplianceApi, ServerRefused, ServerUnreachable
from device_agent.sweep_upload import DeliveryReport, Uploader, deliver_pending
from phonegate.core import device_rules
from phonegate.core.device_rules import parse_device_rules
from phonegate.core.rules import RulesDocument, default_rules_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepTarget:
    endpoint: str
    expected: DeviceExpectation


@dataclass
class PhoneReport:
    target: SweepTarget
    results: list[CheckResult]
    facts: DeviceFacts | None = None
    error: str | None = None  # why the phone could not be read ("timed out after 2 s", ...)
    elapsed_s: float = 0.0
    started: float = 0.0  # time.monotonic() when this phone's clock started

    @property
    def serial(self) -> str | None:
        """Results belong to the inventory's phone at this endpoint (even if another phone answered)."""
        return self.target.expected.serial or (self.facts.serial if self.facts else None)

    @property
    def failing(self) -> list[str]:
        return [r.rule for r in self.results if r.outcome == "fail"]

    @property
    def status(self) -> str:
        if self.error:
            return f"error: {self.error}"
        if self.failing:
            return "non-compliant"
        if any(r.outcome == "error" for r in self.results):
            return "incomplete"
        return "compliant"


@dataclass
class SweepPlan:
    sweep_id: str
    rules: RulesDocument
    rules_version: int | None
    targets: list[SweepTarget]
    online: bool  # False: the server was unreachable, so the packaged default rules and --tcp targets only


@dataclass
class SweepOutcome:
    plan: SweepPlan
    reports: list[PhoneReport] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    earlier: DeliveryReport = field(default_factory=DeliveryReport)  # outbox batches from earlier runs
    server_summary: dict[str, Any] | None = None
    elapsed_s: float = 0.0
    outbox_waiting: int = 0  # batch files not yet acknowledged by the server

    @property
    def non_compliant(self) -> list[str]:
        """The server's verdict when it gave one (grace periods and server-side rules count); else local fails."""
        if self.server_summary is not None and "non_compliant" in self.server_summary:
            return sorted(self.server_summary["non_compliant"])
        return sorted(r.serial or r.target.endpoint for r in self.reports if r.failing)


@dataclass
class SweepOptions:
    key: Any  # device_agent.adb.AdbKey
    concurrency: int = 20
    timeout_per_phone_s: float = 60.0
    source: str = "cli"
    site: str | None = None
    batch_results: int = 200


def build_plan(api: ComplianceApi | None, sweep_id: str, tcp: Sequence[str], source: str, site: str | None = None,
               serial_numbers: Mapping[str, str] | None = None) -> SweepPlan:
    """The server's plan plus the named endpoints (`tcp`: HOST:PORT, adb:SERIAL, usb); without a server, the
    packaged default rules and the named phones only. `serial_numbers` maps a named endpoint to its phone's ro.serialno."""
    online = False
    rules, version, devices = None, None, []
    if api is not None:
        try:
            data = api.start_sweep(sweep_id, source, site)
            online = True
            version, devices = data.rules_version, data.devices
            rules = parse_device_rules(data.rules_document) if data.rules_document.strip() else None
        except ServerUnreachable as exc:
            log.warning("server unreachable, sweeping --tcp phones with the packaged default rules: %s", exc)
    targets: dict[str, SweepTarget] = {}
    for device in devices:
        expected = DeviceExpectation.from_json(device)
        if expected.endpoint:
            targets[expected.endpoint] = SweepTarget(expected.endpoint, expected)
    planned_by_serial = {target.expected.serial: key for key, target in targets.items() if target.expected.serial}
    for endpoint in tcp:
        serial = (serial_numbers or {}).get(endpoint) or _adb_serial(endpoint)
        planned = planned_by_serial.get(serial) if serial else None
        if planned is not None and planned != endpoint:
            expected = dataclasses.replace(targets.pop(planned).expected, endpoint=endpoint)
            targets[endpoint] = SweepTarget(endpoint, expected)
        else:
            targets.setdefault(endpoint, SweepTarget(endpoint, DeviceExpectation(endpoint=endpoint)))
    return SweepPlan(sweep_id, rules or parse_device_rules(default_rules_text()), version, list(targets.values()), online)


def _adb_serial(endpoint: str) -> str | None:
    """A USB phone's adb serial is normally its ro.serialno."""
    return endpoint.removeprefix("adb:") if endpoint.startswith("adb:") else None


def catalogue_packages(rules: RulesDocument, expected: DeviceExpectation) -> list[str]:
    """Packages whose signer and version collection must read: the approved apps and their look-alikes."""
    names = {app.package for app in expected.approved_apps}
    rule = rules.rules.get(device_rules.APPROVED_APP_STATE.rule)
    if rule is not None and rule.enabled:
        names.update(rule.params.get("watch_packages") or [])
    return sorted(names)


async def check_phone(target: SweepTarget, rules: RulesDocument, options: SweepOptions, now: datetime) -> PhoneReport:
    """Connect, collect, check, all inside the per-phone limit; never raises."""
    from device_agent.adb import connect
    from device_agent.collect import collect_facts

    started = time.monotonic()
    limit = options.timeout_per_phone_s
    expected = target.expected

    async def read_facts() -> DeviceFacts:
        # The per-phone limit below is the one that counts; the ADB layer's own limits sit just past it.
        step_s = limit + 1.0
        # A phone the adb server already shows as unauthorised is reported at once: a sweep has nobody to tap Allow.
        auth_s = 0.0 if target.endpoint.startswith("adb:") else step_s
        session = await connect(target.endpoint, options.key, connect_timeout_s=step_s, auth_timeout_s=auth_s, read_timeout_s=step_s)
        try:
            return await collect_facts(
                session, catalogue_packages(rules, expected), timeout_s=step_s, known_certificates=expected.certificates
            )
        finally:
            await session.close()

    try:
        facts = await asyncio.wait_for(read_facts(), limit)
    except (asyncio.TimeoutError, TimeoutError):
        error = f"timed out after {limit:g} s"
    except Exception as exc:  # unreachable, unauthorised, broken connection, a parser bug: this phone only
        error = _describe(exc)
    else:
        results = evaluate_device(rules, facts, expected, now)
        return PhoneReport(target, results, facts, None, time.monotonic() - started, started)
    return PhoneReport(target, error_results(rules, expected, error), None, error, time.monotonic() - started, started)


def _describe(exc: BaseException) -> str:
    from phonegate.core.errors import DeviceUnauthorised, DeviceUnreachable

    if isinstance(exc, DeviceUnauthorised):
        fingerprint = getattr(exc, "fingerprint", None)
        return f"not authorised (tap Allow on the phone for key {fingerprint})" if fingerprint else "not authorised (tap Allow on the phone)"
    if isinstance(exc, DeviceUnreachable):
        return f"unreachable ({str(exc)[:160]})"
    log.warning("checking a phone failed", exc_info=exc)
    return f"failed ({type(exc).__name__})"


async def check_phones(
    targets: Sequence[SweepTarget],
    rules: RulesDocument,
    options: SweepOptions,
    on_phone: Callable[[PhoneReport], None],
    now: datetime | None = None,
) -> list[PhoneReport]:
    """Bounded concurrency: the semaphore is taken before the per-phone clock starts, so waiting is free."""
    moment = now or datetime.now(timezone.utc)
    semaphore = asyncio.Semaphore(max(1, options.concurrency))

    async def one(target: SweepTarget) -> PhoneReport:
        async with semaphore:
            report = await check_phone(target, rules, options, moment)
        on_phone(report)
        return report

    return list(await asyncio.gather(*(one(target) for target in targets)))


def result_rows(report: PhoneReport, check_in_site: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The results-batch rows for one phone, and its sighting (None when it was not seen, or another phone answered).
    `check_in_site`: the phone is plugged into that site's check-in station (its sighting says so)."""
    serial = report.serial
    if serial is None:
        return [], None  # an unreachable --tcp phone: nothing to attribute results to
    checked_at = datetime.now(timezone.utc).isoformat()
    rows = [
        {
            "serial": serial,
            "rule": r.rule,
            "outcome": r.outcome,
            "severity": r.severity or "medium",
            "observed": r.observed,
            "evidence": r.evidence,
            "checked_at": checked_at,
        }
        for r in report.results
    ]
    facts = report.facts
    if facts is None or (facts.serial is not None and facts.serial != serial):
        return rows, None
    summary = {
        "manufacturer": facts.manufacturer,
        "model": facts.model,
        "android_release": facts.android_release,
        "sdk": facts.sdk,
        "security_patch": facts.security_patch.isoformat() if facts.security_patch else None,
        "build_fingerprint": facts.build_fingerprint,
    }
    sighting = {"serial": serial, "facts_summary": {k: v for k, v in summary.items() if v is not None}, "seen_at": checked_at}
    if check_in_site is not None:
        sighting["checked_in_site"] = check_in_site
    return rows, sighting


def run_sweep(
    api: ComplianceApi | None,
    outbox: Outbox,
    options: SweepOptions,
    tcp: Sequence[str] = (),
    *,
    serial_numbers: Mapping[str, str] | None = None,
    sweep_id: str | None = None,
    only_named: bool = False,
    on_plan: Callable[[SweepPlan], None] = lambda plan: None,
    on_phone: Callable[[PhoneReport], None] = lambda report: None,
) -> SweepOutcome:
    """The whole CLI sweep: deliver old outbox batches, plan, check, upload, finish. With `only_named`, only the
    phones in `tcp` are checked (a station checking the phone just plugged in), still against the server's plan."""
    started = time.monotonic()
    earlier = deliver_pending(api, outbox) if api is not None else DeliveryReport(server_down=True)
    sweep_id = sweep_id or str(uuid.uuid4())
    plan = build_plan(api, sweep_id, tcp, options.source, options.site, serial_numbers)
    if only_named:
        plan.targets = [target for target in plan.targets if target.endpoint in tcp]
    on_plan(plan)
    uploader = Uploader(api if plan.online else None, outbox, sweep_id, options.source, options.batch_results)

    def phone_done(report: PhoneReport) -> None:
        rows, device = result_rows(report, _check_in_site(options, report))
        if rows:
            uploader.add(rows, device)
        on_phone(report)

    try:
        reports = asyncio.run(check_phones(plan.targets, plan.rules, options, phone_done))
    except BaseException:
        uploader.close()  # whatever was checked is on disk before the error goes up (Ctrl-C included)
        raise
    summary = uploader.finish()
    return SweepOutcome(plan, reports, uploader.report, earlier, summary, time.monotonic() - started, outbox.count())


def _check_in_site(options: SweepOptions, report: PhoneReport) -> str | None:
    """A phone a check-in station reaches through its adb server is plugged into it: it checked in at the site."""
    if options.source == "station" and options.site and report.target.endpoint.startswith("adb:"):
        return options.site
    return None


def sweep_claimed(
    api: ComplianceApi,
    outbox: Outbox,
    options: SweepOptions,
    sweep_id: str,
    worker: str,
    *,
    chunk: int | None = None,
) -> list[PhoneReport]:
    """A worker's share of a site's sweep (the Celery path): claim phones a chunk at a time, check what was granted.

    Several workers run this on the same sweep and site at once; the server grants each phone to one of them
    (claims are a primary key), so every phone is checked exactly once. Chunks are visited in a shuffled order
    so workers rarely ask for the same phones. The sweep is not finished here: the scheduler does that.
    """
    plan = build_plan(api, sweep_id, (), options.source, options.site)
    if not plan.online:
        raise ServerUnreachable("The server could not be reached to fetch the sweep plan.")
    by_serial = {t.expected.serial: t for t in plan.targets if t.expected.serial}
    serials = list(by_serial)
    random.shuffle(serials)
    size = chunk or max(1, options.concurrency)
    uploader = Uploader(api, outbox, sweep_id, options.source, options.batch_results)
    reports: list[PhoneReport] = []

    def phone_done(report: PhoneReport) -> None:
        rows, device = result_rows(report)
        if rows:
            uploader.add(rows, device)

    try:
        for start in range(0, len(serials), size):
            wanted = serials[start : start + size]
            try:
                granted = api.claim(sweep_id, wanted, worker)
            except ServerRefused as exc:
                if exc.status == 409:  # the sweep was finished meanwhile
                    break
                raise
            targets = [by_serial[serial] for serial in granted if serial in by_serial]
            if targets:
                reports.extend(asyncio.run(check_phones(targets, plan.rules, options, phone_done)))
    finally:
        uploader.close()
    return reports


def sweep_as_agent(sweep_id: str, server_url: str, token: str, *, worker: str, source: str = "scheduler",
                   site: str | None = None, settings: AgentSettings | None = None) -> list[PhoneReport]:
    """Be an agent of a sweep someone else started and will finish (the embedded scheduler, a Celery worker):
    deliver what this agent's outbox still holds, then claim phones of `sweep_id`, check them, send the results."""
    from device_agent.adb import AdbKey

    settings = settings or AgentSettings.from_environ()
    api = ComplianceApi.from_environment(server_url, token)
    outbox = Outbox(settings.outbox_path)
    try:
        deliver_pending(api, outbox)  # anything an earlier run could not send goes first
        options = SweepOptions(key=AdbKey.load_or_create(settings.adb_key_path), concurrency=settings.sweep_concurrency,
                               timeout_per_phone_s=settings.sweep_timeout_s, source=source, site=site)
        return sweep_claimed(api, outbox, options, sweep_id, worker)
    finally:
        api.close()


def scheduler_agent(worker: str) -> Callable[[str, str, str], None]:
    """The in-process agent of `phonegate serve`'s scheduler (its SweepAgent): (sweep_id, server_url, token)."""
    def agent(sweep_id: str, server_url: str, token: str) -> None:
        sweep_as_agent(sweep_id, server_url, token, worker=worker, source="scheduler")

    return agent


def default_outbox(instance: str | Path | None = None) -> Outbox:
    """The outbox in `instance`, or in the agent's instance folder (PHONEGATE_INSTANCE)."""
    if instance is not None:
        return Outbox(Path(instance) / OUTBOX_FOLDER)
    return Outbox(AgentSettings.from_environ().outbox_path)
