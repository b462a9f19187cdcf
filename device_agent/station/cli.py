"""`phonegate station --site NAME`: run a check-in station until stopped (Ctrl-C, SIGTERM).

Settings are the agent's (device_agent/settings.py): PHONEGATE_SERVER, PHONEGATE_TOKEN (a token of scope
`station`), PHONEGATE_ADB_KEY, PHONEGATE_INSTANCE (the outbox), PHONEGATE_SWEEP_TIMEOUT_S, and
PHONEGATE_BROKER_URL: when set, the station is also the Celery worker of its site's queue `sweep.<site>`
(a `celery worker` child process it starts and stops with itself).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import sys

import click

from phonegate.core.errors import BadInput

log = logging.getLogger(__name__)
SITE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,119}")


@click.command()
@click.option("--site", required=True, metavar="NAME", help="The site this station is at (as the phones' site is named on the server).")
@click.option("--sweep-every", "sweep_every_min", type=click.FloatRange(0, 7 * 24 * 60), default=60.0, show_default=True,
              metavar="MINUTES", help="Run the site's sweep (phones plugged in here and the site's TCP phones) this often; 0: never.")
def station(site: str, sweep_every_min: float) -> int:
    """Run a check-in station: every phone plugged in is registered, given its approved app, or checked.

    Runs until stopped (Ctrl-C or SIGTERM). Server: PHONEGATE_SERVER; token: PHONEGATE_TOKEN (scope station).
    """
    from device_agent.adb import AdbKey
    from device_agent.adb.adb_server import default_server
    from device_agent.client import PhoneGateClient
    from device_agent.outbox import Outbox
    from device_agent.settings import AgentSettings
    from device_agent.station.loop import Station
    from device_agent.station.phone import StationContext
    from device_agent.station.render import renderer_for
    from device_agent.sweep_api import ComplianceApi

    if not SITE.fullmatch(site):
        raise BadInput("--site: use letters, digits, '.', '_' and '-' (up to 120), starting with a letter or digit.")
    settings = AgentSettings.from_environ()
    PhoneGateClient(settings.server_url, settings.token).close()  # a missing token is exit 2 before anything starts
    context = StationContext(
        site=site,
        key=AdbKey.load_or_create(settings.adb_key_path),
        make_client=lambda: PhoneGateClient(settings.server_url, settings.token),
        make_api=lambda: ComplianceApi.from_environment(settings.server_url, settings.token, attempts=1, timeout_s=15.0),
        outbox=Outbox(settings.outbox_path),
        cache_dir=settings.instance_path / "apks",
        timeout_per_phone_s=settings.sweep_timeout_s,
    )
    worker = _start_celery_worker(site, settings.broker_url)
    renderer = renderer_for(site)
    try:
        asyncio.run(_run(Station(context, renderer, default_server(), sweep_every_s=sweep_every_min * 60 or None)))
    finally:
        renderer.close()
        if worker is not None:
            _stop(worker)
    return 0


async def _run(station) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await station.run(stop)


def _start_celery_worker(site: str, broker_url: str) -> subprocess.Popen[bytes] | None:
    """The Celery worker for `sweep.<site>` (device_agent/tasks.py), as a child: Celery's worker wants the main
    thread and its own signals, so it gets its own process, started and stopped with the station."""
    if not broker_url:
        return None
    from phonegate.core.sweep_queues import site_queue

    command = [sys.executable, "-m", "celery", "-A", "device_agent.tasks", "worker", "-Q", site_queue(site),
               "--pool=solo", "--loglevel=WARNING", "--without-heartbeat", "--without-mingle", "--without-gossip",
               "-n", f"station-{site}@%h"]
    click.echo(f"station: Celery worker for queue {site_queue(site)} started", err=True)
    return subprocess.Popen(command, env=dict(os.environ), stdin=subprocess.DEVNULL)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()  # Celery's warm shutdown: the current task finishes (its results are in the outbox anyway)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(10)



