"""`phonegate provision`: enrol phones and, once a manager has approved them, install the approved app.

Several phones run at once; each gets its own line of progress. The exit code is the worst phone's outcome
(the README's list): 0 all done, 3 refused (e.g. not approved yet: the manager's page address is printed),
4 a phone problem (unreachable, not authorised, the install refused), 7 the server unreachable, 2 bad input
(found before any phone is registered), 1 unexpected. Running it again is always safe.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import click

from device_agent.phones import phone_selection_options
from phonegate.core.errors import BadInput, PhoneGateError


class ProvisioningFailed(PhoneGateError):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@click.command()
@phone_selection_options("A phone reachable over TCP (wireless debugging, adb tcpip); repeat for several.")
@click.option("--staff", "staff_email", metavar="EMAIL", help="The staff member who will hold the phone.")
@click.option("--broadcast", "broadcast_service", metavar="SERVICE", help="Make it this service's Broadcast phone.")
@click.option("--apk", "apk_path", type=click.Path(path_type=Path, dir_okay=False), help="Install this APK file (must be the catalogue's, byte for byte) instead of downloading it.")
@click.option("--wait", "wait_s", type=click.FloatRange(0, 24 * 3600), default=0, show_default=True, metavar="SECONDS",
              help="Wait this long for the manager's approval instead of stopping at once.")
@click.option("--ask-again", is_flag=True, help="After a manager rejected the request, open a new one.")
@click.option("--reassign", is_flag=True,
              help="The phone belongs to someone else and is to move to --staff/--broadcast: the manager approves the "
                   "reassignment. Needs --reason.")
@click.option("--reason", "reassign_reason", metavar="TEXT", help="Why the phone moves to someone else (with --reassign).")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE.csv",
              help="Several phones for several people: a CSV file with the header `serial,staff` (or `serial,broadcast`) "
                   "and one row per phone the adb server knows. Every row is checked before anything is registered.")
def provision(tcp: tuple[str, ...], serials: tuple[str, ...], usb: bool, staff_email: str | None,
              broadcast_service: str | None, apk_path: Path | None, wait_s: float, ask_again: bool,
              reassign: bool, reassign_reason: str | None, plan_path: Path | None) -> int:
    """Enrol phones and, once approved, install the approved app (server: PHONEGATE_SERVER, token: PHONEGATE_TOKEN).

    A phone that cannot be reached (unauthorised, offline, unplugged) gets its own line, with what to do; the
    others go on.
    """
    from device_agent.phones import PhoneOptions, phone_options
    from provisioning.flow import Options, Target
    from provisioning.plan import read_plan

    if apk_path is not None and not apk_path.is_file():
        raise BadInput(f"No APK file at {apk_path}.")
    reassign_reason = _reassignment(reassign, reassign_reason)
    if plan_path is not None:
        if reassign_reason is not None:
            raise BadInput("--reassign is for one phone at a time: run it with --serial and --staff for that phone.")
        if tcp or serials or usb or staff_email or broadcast_service:
            raise BadInput("--plan names the phones and their holders; leave out --tcp, --serial, --usb, --staff and --broadcast.")
        plan = read_plan(plan_path)
        first = plan.rows[0]
        options = Options(target=Target(first.staff_email, first.broadcast_service), apk_path=apk_path, wait_s=wait_s,
                          ask_again=ask_again)
        return run(PhoneOptions(serials=tuple(row.serial for row in plan.rows)), options, plan=plan)
    phones = phone_options(tcp, serials, usb)
    if not phones.given:
        raise BadInput("Give the phones with --tcp HOST:PORT, --serial SERIAL (both repeatable) or --usb, or a --plan file.")
    if len(phones.tcp) + len(phones.serials) > 1:
        raise BadInput(_ONE_HOLDER)
    target = Target(staff_email=staff_email.strip() if staff_email else None,
                    broadcast_service=broadcast_service.strip() if broadcast_service else None)
    options = Options(target=target, apk_path=apk_path, wait_s=wait_s, ask_again=ask_again,
                      reassign_reason=reassign_reason)
    return run(phones, options)


def _reassignment(reassign: bool, reason: str | None) -> str | None:
    """The reason a phone moves to someone else, or None: one without the other is a mistake, caught before anything."""
    reason = (reason or "").strip() or None
    if reassign and reason is None:
        raise BadInput("--reassign needs --reason TEXT: say why the phone moves (the manager reads it). Nothing was changed.")
    if reason is not None and not reassign:
        raise BadInput("--reason goes with --reassign (moving a phone that belongs to someone else). Nothing was changed.")
    if reason is not None and len(reason) > 1000:
        raise BadInput("--reason is too long: keep it under 1,000 characters. Nothing was changed.")
    return reason


# A phone is enrolled for one person, and the manager confirms that person's paper: one --staff for a bench of
# phones would put them all in one person's name.
_ONE_HOLDER = ("--staff and --broadcast are for one phone; for several phones write a plan (a CSV file with the header "
               "serial,staff and one row per phone) and run `phonegate provision --plan FILE.csv`. Nothing was registered.")


def run(phones, options, *, stream=None, plan=None) -> int:
    from device_agent.adb import AdbKey
    from device_agent.adb.keys import default_key_path
    from device_agent.client import PhoneGateClient
    from provisioning.progress import renderer_for

    PhoneGateClient().close()  # fail fast (exit 2) on a missing token or a bad PHONEGATE_SERVER, before any phone
    key = AdbKey.load_or_create(default_key_path())
    with PhoneGateClient() as client:
        jobs = asyncio.run(_jobs(phones, options, plan, client))  # every row checked: nothing touched yet
    renderer = renderer_for(stream)
    try:
        outcomes = asyncio.run(_run_all(jobs, PhoneGateClient, key, renderer))
    finally:
        renderer.close()
    from provisioning.progress import list_request_addresses

    list_request_addresses(outcomes, stream)
    from device_agent.phones import worst_exit_code

    worst = worst_exit_code([o.exit_code for o in outcomes])
    if worst == 0:
        return 0
    failed = [o for o in outcomes if o.exit_code != 0]
    if len(outcomes) == 1:
        raise ProvisioningFailed(failed[0].message, worst)
    raise ProvisioningFailed(f"{len(failed)} of {len(outcomes)} phones were not provisioned (see the lines above); "
                             "fix what they say and run the same command again.", worst)


class _Jobs:
    """What to run: (endpoint, options) per phone, and the phones asked for that answer to nothing."""

    def __init__(self, work, missing) -> None:  # type: ignore[no-untyped-def]
        self.work = work
        self.missing = missing


async def _jobs(phones, options, plan, client) -> _Jobs:  # type: ignore[no-untyped-def]
    """The phones and who each is for. The holders (a plan's every row, or the one --staff/--broadcast) are
    checked here, and any bad one is BadInput (exit 2) before a phone or the server is changed."""
    from device_agent.phones import choose_phones
    from provisioning.flow import Target

    if plan is not None:
        await _check_holders(plan, client)
    else:
        await _check_target(options.target, client)
    chosen = await choose_phones(phones)
    if plan is None:
        if phones.usb and len(chosen.endpoints) > 1:
            raise BadInput(f"The adb server reports {len(chosen.endpoints)} phones. {_ONE_HOLDER}")
        return _Jobs([(endpoint, options) for endpoint in chosen.endpoints], chosen.missing)
    missing = {asked.asked: asked for asked in chosen.missing}
    endpoints = iter(chosen.endpoints)  # in the order asked, without the missing ones (choose_phones keeps it)
    work, row_of_endpoint = [], {}
    for row in plan.rows:
        if row.serial in missing:
            raise plan.row_error(row, f"{missing[row.serial].error}")
        endpoint = next(endpoints)
        if endpoint in row_of_endpoint:
            raise plan.row_error(row, f"this is the same phone as line {row_of_endpoint[endpoint].line} "
                                      f"({row_of_endpoint[endpoint].serial}); one row per phone.")
        row_of_endpoint[endpoint] = row
        work.append((endpoint, replace(options, target=Target(row.staff_email, row.broadcast_service))))
    return _Jobs(work, [])


async def _check_holders(plan, client) -> None:  # type: ignore[no-untyped-def]
    problem_of = await _holder_check(client, [row.staff_email for row in plan.rows if row.staff_email],
                                     [row.broadcast_service for row in plan.rows if row.broadcast_service])
    for row in plan.rows:
        problem = problem_of(row.staff_email, row.broadcast_service)
        if problem is not None:
            raise plan.row_error(row, problem)


async def _check_target(target, client) -> None:  # type: ignore[no-untyped-def]
    """The one phone's holder, asked the same read-only question as a plan's rows: registering the phone first
    would leave it on the server for a person who does not exist."""
    problem_of = await _holder_check(client, [target.staff_email] if target.staff_email else [],
                                     [target.broadcast_service] if target.broadcast_service else [])
    problem = problem_of(target.staff_email, target.broadcast_service)
    if problem is not None:
        raise BadInput(f"Cannot provision: {problem} Nothing was registered.")


async def _holder_check(client, staff: list[str], services: list[str]):  # type: ignore[no-untyped-def]
    """One call to the server's target check; returns (staff e-mail, service) -> a sentence, or None when fine."""
    answer = await asyncio.to_thread(client.unknown_targets, staff, services)
    unknown_staff = {_email_key(email) for email in answer["unknown_staff_emails"]}
    inactive_staff = {_email_key(email) for email in answer["inactive_staff_emails"]}
    unknown_services = {_service_key(name) for name in answer["unknown_broadcast_services"]}

    def problem_of(staff_email: str | None, broadcast_service: str | None) -> str | None:
        if staff_email and _email_key(staff_email) in unknown_staff:
            return f"the server has no staff member with the e-mail {staff_email}."
        if staff_email and _email_key(staff_email) in inactive_staff:
            return f"the staff member {staff_email} is no longer active, so cannot be given a phone."
        if broadcast_service and _service_key(broadcast_service) in unknown_services:
            return f"the server has no service called {broadcast_service!r}."
        return None

    return problem_of


def _email_key(email: str) -> str:
    return email.strip().lower()


def _service_key(name: str) -> str:
    return " ".join(name.split()).lower()


async def _run_all(jobs, make_client, key, renderer):  # type: ignore[no-untyped-def]
    from provisioning.flow import Event, Outcome, provision_phone

    missing = []
    for asked in jobs.missing:  # named, but no phone answers to it: its own line, and the others go on
        outcome = Outcome(asked.error.exit_code, str(asked.error))
        renderer.handle(asked.asked, Event(asked.asked, "done", outcome.message, 1.0, outcome=outcome, warning=True))
        missing.append(outcome)

    async def one(endpoint: str, options):  # type: ignore[no-untyped-def]
        outcome = None
        async for event in provision_phone(endpoint, options, make_client, key):
            renderer.handle(endpoint, event)
            outcome = event.outcome or outcome
        return outcome

    return missing + list(await asyncio.gather(*(one(endpoint, options) for endpoint, options in jobs.work)))
