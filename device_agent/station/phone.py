"""One phone plugged into a station: find out what the server knows of it, and do the one thing it needs.

- never seen (or registered without a request): registered, and shown as needing enrolment (`provision`);
- waiting for its manager: shown with the request's address;
- approved: its app is installed by the provisioning flow itself (provisioning/flow.py: grant, streamed install,
  confirm, report), then checked;
- enrolled: checked at once through the sweep code, results posted (the outbox keeps them when the server is down).
A phone that is not authorised (or offline) gets the "Allow USB debugging" sentence with the key's fingerprint.
Everything a phone says is shown through printable() by the renderer; nothing here formats it for a terminal.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phonegate.core.errors import DeviceUnauthorised, PhoneGateError
from phonegate.core.lifecycle import ENROLLED

log = logging.getLogger(__name__)
STATION_SOURCE = "station"


@dataclass
class Row:
    """What the station shows for one plugged-in phone (all text untrusted until rendered)."""

    adb_serial: str
    serial: str | None = None
    model: str | None = None
    holder: str | None = None
    done: str = "plugged in"
    next: str = ""
    warning: bool = False
    finished: bool = False  # nothing more will happen until it is plugged in again


@dataclass(frozen=True)
class StationContext:
    site: str
    key: Any  # device_agent.adb.AdbKey
    make_client: Callable[[], Any]  # -> device_agent.client.PhoneGateClient
    make_api: Callable[[], Any]  # -> device_agent.sweep_api.ComplianceApi
    outbox: Any  # device_agent.outbox.Outbox
    cache_dir: Path
    timeout_per_phone_s: float = 60.0
    install_timeout_s: float = 600.0

    def sweep_options(self) -> Any:
        from device_agent.sweep import SweepOptions

        return SweepOptions(key=self.key, timeout_per_phone_s=self.timeout_per_phone_s, source=STATION_SOURCE,
                            site=self.site)


Update = Callable[[Row], None]


async def handle_phone(context: StationContext, row: Row, update: Update) -> None:
    """Do what `row`'s phone needs; never raises (one phone's trouble is its own line)."""
    try:
        await _handle(context, row, update)
    except asyncio.CancelledError:
        raise
    except PhoneGateError as exc:
        _say(row, update, f"stopped: {exc}", _next_after_error(exc), warning=True, finished=True)
    except Exception as exc:  # a bug for this phone only: the station goes on
        log.warning("handling a phone failed", exc_info=True)
        _say(row, update, f"failed ({type(exc).__name__})", "unplug it and plug it in again", warning=True, finished=True)


def _say(row: Row, update: Update, done: str, next_step: str = "", *, warning: bool = False, finished: bool = False) -> None:
    row.done, row.next, row.warning, row.finished = done, next_step, warning, finished
    update(dataclasses.replace(row))


def _next_after_error(exc: PhoneGateError) -> str:
    if isinstance(exc, DeviceUnauthorised):
        return "unlock the phone and tap \"Allow USB debugging\" (then it carries on by itself)"
    return "unplug it and plug it in again"


async def _handle(context: StationContext, row: Row, update: Update) -> None:
    from device_agent.client import ServerUnreachable

    endpoint = "adb:" + row.adb_serial
    _say(row, update, "reading the phone")
    facts = await _read_facts(context, endpoint)
    row.serial, row.model = facts.serial, " ".join(filter(None, [facts.manufacturer, facts.model])) or None
    if not facts.serial:
        _say(row, update, "the phone reports no serial number", "it cannot be enrolled", warning=True, finished=True)
        return
    try:
        status = await _register(context, facts)
    except ServerUnreachable:
        # The server may be down while phones are plugged in: check the phone anyway; the results wait in the outbox.
        await _check(context, row, update, endpoint, offline=True)
        return
    request = status.get("request") or {}
    row.holder = request.get("staff_email") or (f"{request['service_name']} (Broadcast)" if request.get("service_name") else None)
    state = status.get("device_state")
    if state in ENROLLED and state != "approved":
        await _check(context, row, update, endpoint)
    elif status.get("can_install"):
        if await _install(context, row, update, endpoint, request):
            await _check(context, row, update, endpoint)
    elif state == "pending_approval" and request.get("url"):
        _say(row, update, "registered; waiting for the manager's approval", f"the manager decides at {request['url']}",
             finished=True)
    else:
        _say(row, update, "registered", f"needs enrolment (run provision --serial {facts.serial} --staff EMAIL)", finished=True)


async def _read_facts(context: StationContext, endpoint: str) -> Any:
    from device_agent.adb import connect
    from device_agent.collect import collect_facts
    from provisioning.flow import WATCHED_PACKAGES

    # auth_timeout 0: a phone still asking "Allow USB debugging?" is reported at once; the adb server tells the
    # station when it is tapped (the phone's state changes) and the phone is handled again then.
    session = await connect(endpoint, context.key, connect_timeout_s=context.timeout_per_phone_s, auth_timeout_s=0,
                            read_timeout_s=context.timeout_per_phone_s)
    try:
        return await collect_facts(session, WATCHED_PACKAGES, timeout_s=context.timeout_per_phone_s)
    finally:
        await session.close()


async def _register(context: StationContext, facts: Any) -> dict:
    def call() -> dict:
        client = context.make_client()
        try:
            registration = facts.to_json()
            registration["adb_endpoint"] = None  # a USB phone is wherever it is plugged in
            client.register_device(registration)
            return client.install_status(facts.serial)
        finally:
            client.close()

    return await asyncio.to_thread(call)


async def _install(context: StationContext, row: Row, update: Update, endpoint: str, request: dict) -> bool:
    """The provisioning flow, unchanged: the station only chooses the target the manager approved."""
    from provisioning.flow import Options, Target, provision_phone

    if request.get("role") == "broadcast":
        target = Target(broadcast_service=request.get("service_name"))
    else:
        target = Target(staff_email=request.get("staff_email"))
    options = Options(target=target, cache_dir=context.cache_dir, install_timeout_s=context.install_timeout_s,
                      connect_timeout_s=context.timeout_per_phone_s)
    outcome = None
    async for event in provision_phone(endpoint, options, context.make_client, context.key):
        if event.outcome is None:
            _say(row, update, event.message, "installing the approved app", warning=event.warning)
        outcome = event.outcome or outcome
    if outcome is None or outcome.exit_code != 0:
        message = outcome.message if outcome else "the installation did not finish"
        _say(row, update, f"install stopped: {message}", "plug it in again to finish", warning=True, finished=True)
        return False
    _say(row, update, outcome.message, "checking it")
    return True


async def _check(context: StationContext, row: Row, update: Update, endpoint: str, *, offline: bool = False) -> None:
    from device_agent.sweep import run_sweep

    _say(row, update, "checking compliance", "posting the results")

    def sweep() -> Any:
        api = None if offline else context.make_api()
        try:
            return run_sweep(api, context.outbox, context.sweep_options(), [endpoint],
                             serial_numbers={endpoint: row.serial} if row.serial else None, only_named=True)
        finally:
            if api is not None:
                api.close()

    outcome = await asyncio.to_thread(sweep)
    report = next((r for r in outcome.reports if r.target.endpoint == endpoint), None)
    if report is None or report.error:
        _say(row, update, f"check failed: {report.error if report else 'not checked'}", "plug it in again",
             warning=True, finished=True)
        return
    verdict = "compliant" if not report.failing else f"non-compliant: {', '.join(report.failing)}"
    if outcome.delivery.server_down or not outcome.plan.online:
        _say(row, update, f"checked ({verdict}); results kept in the outbox (server unreachable)",
             "they are sent when the server answers; you can unplug it", warning=True, finished=True)
        return
    _say(row, update, f"checked and posted ({verdict})", "done: you can unplug it", warning=bool(report.failing), finished=True)
