"""Provisioning one phone, as a sequence of steps that yields progress events.

connect -> identify (facts) -> register -> pre-check (the current rules, checked on the phone and sent to the
server, so the manager sees the phone's risks and cannot approve past a blocking one) -> enrolment (request it,
or wait for the manager) -> fetch and verify
the catalogue APK -> check what the phone already has -> grant -> install -> confirm on the phone -> report
(consumes the grant) -> first compliance check.

Every step is safe to repeat, so running `provision` again after any failure finishes the job: registration
and enrolment requests are idempotent on the server; an APK already on the phone with the catalogue's version
and signer is detected and only reported; an unused grant from a broken run is superseded by a new one.
The server decides whether a phone may have the app; this module never assumes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from device_agent.client import PhoneGateClient, ServerPolicyRefusal, sha256_file
from phonegate.core.errors import BadInput, PhoneGateError, PolicyRefusal
from phonegate.core.lifecycle import ENROLLED, HOLDS_APPROVAL
from phonegate.core.packages import MESSAGING_PACKAGES

log = logging.getLogger(__name__)

WATCHED_PACKAGES = MESSAGING_PACKAGES
STEPS = ("connect", "identify", "register", "precheck", "enrol", "fetch", "verify", "grant", "install", "confirm", "report", "check", "done")


@dataclass(frozen=True)
class Target:
    """Who the phone is for: a staff member (individual phone) or a service (its Broadcast phone)."""

    staff_email: str | None = None
    broadcast_service: str | None = None

    def __post_init__(self) -> None:
        if (self.staff_email is None) == (self.broadcast_service is None):
            raise BadInput("Give exactly one of --staff EMAIL or --broadcast SERVICE.")


@dataclass(frozen=True)
class Options:
    target: Target
    apk_path: Path | None = None
    wait_s: float = 0.0
    poll_interval_s: float = 3.0
    ask_again: bool = False  # open a new request after a rejection
    reassign_reason: str | None = None  # the phone belongs to someone else and moves to the target (--reassign)
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "phonegate" / "apks")
    connect_timeout_s: float = 5.0
    install_timeout_s: float = 600.0


@dataclass(frozen=True)
class Outcome:
    exit_code: int  # the README's codes: 0 done, 1 unexpected, 2 bad input, 3 refused, 4 phone problem, 7 server unreachable
    message: str
    serial: str | None = None
    request_url: str | None = None


@dataclass(frozen=True)
class Event:
    phone: str  # the endpoint until the serial is known, then the serial
    step: str
    message: str
    fraction: float
    outcome: Outcome | None = None  # set on the last event only
    warning: bool = False


class _Done(Exception):
    """Internal: the phone's work ended early with this outcome (not approved yet, already installed)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


def _fraction(step: str) -> float:
    return STEPS.index(step) / (len(STEPS) - 1)


async def provision_phone(endpoint: str, options: Options, make_client: Callable[[], PhoneGateClient], key: Any,
                          *, connect: Callable[..., Any] | None = None) -> AsyncIterator[Event]:
    """Provision the phone at `endpoint` ("HOST:PORT", "adb:SERIAL", "usb" or "usb:SERIAL"); the last event
    carries the Outcome."""
    run = _Run(endpoint, options, make_client, key, connect)
    queue: asyncio.Queue[Event | None] = asyncio.Queue()
    run.emit = queue.put_nowait
    task = asyncio.create_task(run.execute())
    task.add_done_callback(lambda _t: queue.put_nowait(None))
    while (event := await queue.get()) is not None:
        yield event
    await task


class _Run:
    def __init__(self, endpoint: str, options: Options, make_client: Callable[[], PhoneGateClient], key: Any,
                 connect: Callable[..., Any] | None) -> None:
        self.endpoint = endpoint
        self.options = options
        self.make_client = make_client
        self.key = key
        self.connect = connect
        self.label = endpoint
        self.serial: str | None = None
        self.request_url: str | None = None
        self.emit: Callable[[Event], None] = lambda _e: None
        self.client: PhoneGateClient | None = None
        self.session: Any = None

    def say(self, step: str, message: str, *, warning: bool = False) -> None:
        self.emit(Event(self.label, step, message, _fraction(step), warning=warning))

    def finish(self, outcome: Outcome) -> None:
        self.emit(Event(self.label, "done", outcome.message, 1.0, outcome=outcome, warning=outcome.exit_code != 0))

    async def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(method, *args, **kwargs)

    async def execute(self) -> None:
        try:
            outcome = await self._steps()
        except _Done as done:
            outcome = done.outcome
        except PhoneGateError as exc:
            outcome = Outcome(exc.exit_code, str(exc), self.serial, self.request_url)
        except Exception as exc:  # one phone's bug must not take the other phones' runs down
            log.debug("provisioning %s failed", self.endpoint, exc_info=True)
            outcome = Outcome(1, f"Unexpected error ({type(exc).__name__}): {exc}", self.serial, self.request_url)
        finally:
            await self._close()
        self.finish(outcome)

    async def _close(self) -> None:
        if self.session is not None:
            try:
                await self.session.close()
            except Exception:  # the phone may be gone already (cable pulled)
                log.debug("closing %s failed", self.endpoint, exc_info=True)
        if self.client is not None:
            self.client.close()

    # -- the steps ------------------------------------------------------------------------------------------

    async def _steps(self) -> Outcome:
        from device_agent.adb import connect as adb_connect
        from device_agent.collect import collect_facts

        self.client = await self.call(self.make_client)
        self.say("connect", f"connecting to {self.endpoint}")
        self.session = await (self.connect or adb_connect)(self.endpoint, self.key, connect_timeout_s=self.options.connect_timeout_s)

        facts = await collect_facts(self.session, WATCHED_PACKAGES)
        if not facts.serial:
            raise PolicyRefusal(f"The phone at {self.endpoint} did not report a serial number; it cannot be enrolled.")
        self.serial = facts.serial
        self.label = facts.serial
        self.say("identify", " ".join(filter(None, [facts.manufacturer, facts.model,
                                                     f"Android {facts.android_release}" if facts.android_release else None])) or "identified")

        registration = facts.to_json()
        # Only a TCP endpoint is somewhere a sweep can reach the phone again; a USB one is wherever it is plugged in.
        registration["adb_endpoint"] = None if self.endpoint.startswith(("usb", "adb:")) else self.endpoint
        registered = await self.call(self.client.register_device, registration)
        self.say("register", "registered with the server")
        if registered["state"] not in ENROLLED:
            # A phone that already holds approval is checked after the install (the first check) instead: before,
            # its approved app would read as an unapproved one.
            await self._check_and_send("precheck", facts, registered["state"], approved_apps=())

        status = await self._ensure_approved(facts)
        app = status["app"]
        apk, info = await self._fetch_and_verify(app)

        facts = await collect_facts(self.session, [app["package"]], known_certificates=info.certificates)
        installed = facts.apps.get(app["package"])
        already = _matches(installed, app)
        if already and status["device_state"] == "provisioned":
            self.say("confirm", f"{app['package']} {app.get('version_name') or app['version_code']} is already installed and recorded")
            await self._first_check(info, app, status)
            return Outcome(0, f"Already provisioned: {app['package']} version {app['version_code']} with the catalogue's signer.", self.serial)

        grant = await self.call(self.client.create_grant, self.serial, app["sha256"])
        self.say("grant", f"single-use grant {grant['grant_id']} issued (expires {grant['expires_at']})")
        if already:
            self.say("install", "the app is already on the phone (an earlier run installed it); not installing again")
        else:
            await self._install(apk, app)
            facts = await collect_facts(self.session, [app["package"]], known_certificates=info.certificates)
            installed = facts.apps.get(app["package"])
            if not _matches(installed, app):
                raise PolicyRefusal(_mismatch_sentence(app, installed))
            self.say("confirm", f"the phone reports {app['package']} version {installed.version_code}, signer matches the catalogue")

        await self._report(grant, app)
        await self._first_check(info, app, status)
        return Outcome(0, f"Installed {app['package']} version {app['version_code']}; the phone is provisioned.", self.serial)

    async def _ensure_approved(self, facts: Any) -> dict:
        target = self.options.target
        status = first = await self.call(self.client.install_status, self.serial)
        for_target = _is_for(status["request"], target)
        if status["can_install"] and for_target:
            self.say("enrol", "approved by the manager")
            return status
        settled = status["device_state"] in HOLDS_APPROVAL and not status["reacknowledgement_due"]
        pending = status["request"] is not None and status["request"]["status"] == "pending"
        if not for_target and pending:
            raise _Done(Outcome(3, "This phone already has an open enrolment request for someone else; the manager must "
                                   f"decide it first at {status['request']['url']}.", self.serial, status["request"]["url"]))
        rejected = for_target and status["request"]["status"] == "rejected"
        if rejected and not self.options.ask_again:
            # Asking again on every run would put the same request in front of the manager until they give in.
            reason = status["request"].get("decision_reason") or "no reason given"
            raise _Done(Outcome(3, f"The manager rejected this enrolment ({reason}). When that is sorted out, run again "
                                   f"with --ask-again to open a new request. Details: {status['request']['url']}",
                                self.serial, status["request"]["url"]))
        if not for_target or (not settled and not pending):
            # A new holder (or purpose) is a new enrolment: the manager confirms again for that person.
            await self.call(self.client.request_enrolment, self.serial, staff_email=target.staff_email,
                            broadcast_service=target.broadcast_service,
                            reassign_reason=self.options.reassign_reason if status["device_state"] in ENROLLED else None)
            status = await self.call(self.client.install_status, self.serial)
        if status["request"] is not None:
            self.request_url = status["request"]["url"]
        await self._report_unauthorised(facts, first)
        if status["can_install"]:
            return status
        if status["device_state"] != "pending_approval":
            raise _Done(Outcome(3, f"Cannot install: {status['reason']}", self.serial, self.request_url))

        deadline = time.monotonic() + max(0.0, self.options.wait_s)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.say("enrol", f"waiting for the manager's decision ({int(remaining)} s left): {self.request_url}")
            await asyncio.sleep(min(self.options.poll_interval_s, remaining))
            status = await self.call(self.client.install_status, self.serial)
            if status["can_install"]:
                self.say("enrol", "approved by the manager")
                return status
            if status["device_state"] != "pending_approval":
                raise _Done(Outcome(3, f"Cannot install: {status['reason']}", self.serial, self.request_url))
        raise _Done(Outcome(3, f"Not approved yet: the manager can decide at {self.request_url}; run this again afterwards.",
                            self.serial, self.request_url))

    async def _report_unauthorised(self, facts: Any, status: dict) -> None:
        """A phone that already carries WhatsApp before approval is reported (the paper allows it only after)."""
        if status["device_state"] in HOLDS_APPROVAL:
            return
        for package in WATCHED_PACKAGES:
            if package in facts.packages:
                entry = facts.packages[package]
                app = facts.apps.get(package)
                signer = app.signer_sha256[0] if app and app.signer_sha256 else None
                await self.call(self.client.report_unauthorised_install, self.serial, package,
                                entry.version_code if entry.version_code is not None else (app.version_code if app else None), signer)
                self.say("enrol", f"{package} is already on this phone without approval: reported as an unauthorised install",
                         warning=True)

    async def _fetch_and_verify(self, app: dict) -> tuple[Path | list[Path], Any]:
        from phonegate.core.apk import ApkInvalid, inspect_apk

        if len(app.get("files") or ()) > 1:
            return await self._fetch_and_verify_set(app)
        if self.options.apk_path is not None:
            apk = self.options.apk_path
            self.say("fetch", f"using {apk.name}")
        else:
            self.say("fetch", f"downloading {app['package']} {app.get('version_name') or app['version_code']} from the catalogue")
            apk = await self.call(self.client.download_apk, app["download_url"], self.options.cache_dir, app["sha256"])
        try:
            info = await asyncio.to_thread(inspect_apk, apk)
        except ApkInvalid as exc:
            raise PolicyRefusal(f"{apk.name} failed verification: {exc}") from None
        signers = [s.lower() for s in info.signer_sha256]
        if info.package != app["package"]:
            raise PolicyRefusal(f"{apk.name} is {info.package}, but the catalogue's app is {app['package']}; nothing was installed.")
        if signers != [app["signer_sha256"]]:
            raise PolicyRefusal(f"{apk.name} is not signed by the catalogue's pinned certificate ({app['signer_sha256'][:16]}...); "
                                "nothing was installed.")
        if info.sha256 != app["sha256"] or await asyncio.to_thread(sha256_file, apk) != app["sha256"]:
            raise PolicyRefusal(f"{apk.name} is not the catalogue's APK (SHA-256 differs); nothing was installed.")
        self.say("verify", f"APK verified: {info.package} version {info.version_code}, signatures {', '.join(sorted(info.schemes))}, "
                           "pinned signer")
        return apk, info

    async def _fetch_and_verify_set(self, app: dict) -> tuple[list[Path], Any]:
        """An APK set: every file downloaded and checked against the catalogue's SHA-256 for it, then the files
        verified as one set (phonegate.core.apk.apk_set) whose identity, package and signer must be the catalogue's."""
        from phonegate.core.apk import ApkInvalid
        from phonegate.core.apk.apk_set import inspect_apk_set

        files = app["files"]
        if self.options.apk_path is not None:
            raise BadInput(f"The catalogue's {app['package']} is an APK set of {len(files)} files; --apk takes one APK. "
                           "Leave --apk out: the set is downloaded from the catalogue.")
        self.say("fetch", f"downloading {app['package']} {app.get('version_name') or app['version_code']} from the catalogue "
                          f"(base and {len(files) - 1} split{'s' if len(files) > 2 else ''})")
        paths = []
        for item in files:
            paths.append(await self.call(self.client.download_apk, item["download_url"], self.options.cache_dir, item["sha256"]))
        try:
            apk_set = await asyncio.to_thread(inspect_apk_set, paths)
        except ApkInvalid as exc:
            raise PolicyRefusal(f"The catalogue's APK set failed verification: {exc} Nothing was installed.") from None
        info = apk_set.base
        if info.package != app["package"]:
            raise PolicyRefusal(f"The APK set is {info.package}, but the catalogue's app is {app['package']}; nothing was installed.")
        if [s.lower() for s in info.signer_sha256] != [app["signer_sha256"]]:
            raise PolicyRefusal(f"The APK set is not signed by the catalogue's pinned certificate ({app['signer_sha256'][:16]}...); "
                                "nothing was installed.")
        if apk_set.sha256 != app["sha256"]:
            raise PolicyRefusal("The APK set is not the catalogue's (its files differ); nothing was installed.")
        self.say("verify", f"APK set verified: {info.package} version {info.version_code}, {len(paths)} files with one "
                           f"pinned signer, signatures {', '.join(sorted(info.schemes))}")
        return [item.path for item in apk_set.files], info

    async def _install(self, apk: Path | list[Path], app: dict) -> None:
        self.say("install", f"installing {app['package']} ({app['size'] // 1024} KiB)")
        if isinstance(apk, list):
            await self.session.install_set(apk, timeout_s=self.options.install_timeout_s)
        else:
            await self.session.install(apk, timeout_s=self.options.install_timeout_s)

    async def _report(self, grant: dict, app: dict) -> None:
        try:
            await self.call(self.client.report_installation, self.serial, grant["secret"], app["package"], app["version_code"],
                            app["signer_sha256"])
        except ServerPolicyRefusal:
            # A report that reached the server before the connection broke is refused as "already used" on the
            # retry; that is success if the server now shows the phone provisioned.
            status = await self.call(self.client.install_status, self.serial)
            if status["device_state"] != "provisioned":
                raise
        self.say("report", "installation reported; the phone is provisioned")

    async def _first_check(self, info: Any, app: dict, status: dict) -> None:
        from device_agent.checks.base import ApprovedApp
        from device_agent.collect import collect_facts

        facts = await collect_facts(self.session, WATCHED_PACKAGES, known_certificates=info.certificates)
        await self._check_and_send("check", facts, "provisioned", role=status["role"],
                                   approved_apps=(ApprovedApp(app["package"], (app["signer_sha256"],), app["version_code"]),))

    async def _check_and_send(self, step: str, facts: Any, state: str, *, approved_apps: tuple, role: str | None = None) -> None:
        """Check the phone against the server's current rules and send the outcomes, so the phone's page, the
        request and the check page show them (a failure to send is a warning: the server decides at approval)."""
        from device_agent.checks.base import DeviceExpectation
        from device_agent.checks.runner import evaluate_device
        from phonegate.core.device_rules import parse_device_rules
        from phonegate.core.rules import default_rules_text

        rules = await self.call(self.client.current_rules)
        document = rules["document"] if rules is not None else default_rules_text()
        role = role or ("broadcast" if self.options.target.broadcast_service is not None else "individual")
        expected = DeviceExpectation(serial=self.serial, role=role, state=state, endpoint=self.endpoint,
                                     approved_apps=approved_apps)
        results = evaluate_device(parse_device_rules(document), facts, expected, datetime.now(timezone.utc))
        summary = await self.call(self.client.record_precheck, self.serial, rules["version"] if rules else None,
                                  [result.to_json() for result in results])
        name = "pre-check" if step == "precheck" else "first compliance check"
        if summary["blocking"]:
            self.say(step, f"{name}: this phone cannot be approved until IT fixes: {', '.join(summary['blocking'])}; "
                           "then run provision again", warning=True)
        elif summary["failing"]:
            self.say(step, f"{name}: {len(summary['failing'])} rule(s) failing: {', '.join(summary['failing'])}", warning=True)
        else:
            self.say(step, f"{name}: all {sum(r.outcome == 'pass' for r in results)} applicable rules pass")


def _is_for(request: dict | None, target: Target) -> bool:
    """Whether the phone's latest enrolment request is for the person or service this run is for."""
    if request is None:
        return False
    if target.staff_email is not None:
        return request.get("role") == "individual" and (request.get("staff_email") or "").lower() == target.staff_email.lower()
    return request.get("role") == "broadcast" and (request.get("service_name") or "").casefold() == target.broadcast_service.casefold()


def _matches(installed: Any, app: dict) -> bool:
    return (installed is not None and installed.version_code == app["version_code"]
            and app["signer_sha256"] in [s.lower() for s in installed.signer_sha256])


def _mismatch_sentence(app: dict, installed: Any) -> str:
    if installed is None:
        return f"After installing, the phone does not list {app['package']}; nothing was reported. Run again."
    if installed.version_code != app["version_code"]:
        return (f"After installing, the phone reports {app['package']} version {installed.version_code}, "
                f"not the catalogue's {app['version_code']}; nothing was reported.")
    return f"After installing, the phone reports a different signer for {app['package']} than the catalogue's; nothing was reported."
