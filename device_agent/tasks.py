"""Scaled-out sweeps with Celery (extra `scale`): one task per site, on a queue per site (`sweep.<site>`).

The scheduler (server/scheduling.py) creates a sweep, then sends the task `sweep_site(sweep_id, site)` by name
(phonegate.core.sweep_queues) once per worker it wants on that site. Every copy fetches the site's plan and claims phones a few at a time through the server;
claims are a primary key on (sweep, phone), so two workers never check the same phone in the same sweep, and a
retried or duplicated task only finds phones already taken. Results go through the worker's outbox like a CLI
sweep's. Run a worker with:

    PHONEGATE_BROKER_URL=redis://127.0.0.1:6379/0 PHONEGATE_SERVER=... PHONEGATE_TOKEN=<agent token> \\
        celery -A device_agent.tasks worker -Q sweep.<site> --pool=solo   (or --pool=threads)

Worker settings (environment, read by device_agent/settings.py): PHONEGATE_SWEEP_CONCURRENCY (phones at once,
default 20), PHONEGATE_SWEEP_TIMEOUT_S (per phone, default 60), PHONEGATE_ADB_KEY, PHONEGATE_INSTANCE (outbox).
Without PHONEGATE_BROKER_URL the tasks run in-process when called (Celery's eager mode), as INTERFACE.md says.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from celery import Celery

from device_agent.settings import AgentSettings
from phonegate.core.sweep_queues import SWEEP_SITE_TASK as TASK_NAME
from phonegate.core.sweep_queues import site_queue as queue_for


def make_celery(broker_url: str | None = None) -> Celery:
    url = broker_url if broker_url is not None else AgentSettings.from_environ().broker_url
    app = Celery("phonegate", broker=url or "memory://", set_as_current=False)
    app.conf.update(
        task_always_eager=not url,  # no broker: run where called
        task_ignore_result=True,  # results go to the PhoneGate server, not to a Celery backend
        task_acks_late=True,  # a worker that dies mid-site leaves its task for another (claims stop double checks)
        worker_prefetch_multiplier=1,  # one site task at a time per worker process, so copies spread over workers
        task_default_queue="sweep.default",
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


celery_app = make_celery()
app = celery_app  # `celery -A device_agent.tasks` finds `app`


@celery_app.task(name=TASK_NAME, bind=True)
def sweep_site(self: Any, sweep_id: str, site: str) -> dict[str, Any]:
    """Check this worker's share of `site`'s phones in sweep `sweep_id` and send the results."""
    from device_agent.sweep import sweep_as_agent

    settings = AgentSettings.from_environ()
    worker = f"{socket.gethostname()}:{os.getpid()}:{self.request.id or 'eager'}"[:128]
    reports = sweep_as_agent(sweep_id, settings.server_url, settings.token, worker=worker, source="celery", site=site,
                             settings=settings)
    return {
        "sweep_id": sweep_id,
        "site": site,
        "worker": worker,
        "checked": [report.serial for report in reports],
        "non_compliant": [report.serial for report in reports if report.failing],
    }


def enqueue_site(sweep_id: str, site: str, *, copies: int = 1, app: Celery | None = None) -> None:
    """Put `copies` tasks for one site on its queue (one per worker that should share the site's phones)."""
    sender = app or celery_app
    for _ in range(max(1, copies)):
        if sender.conf.task_always_eager:
            sweep_site.apply(args=(sweep_id, site))  # no broker configured: in-process
        else:
            sender.send_task(TASK_NAME, args=(sweep_id, site), queue=queue_for(site))
