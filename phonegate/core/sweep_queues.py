"""How scheduled sweeps reach Celery workers: the task's name and one queue per site.

The server's scheduler sends the task by name (it never imports the agent); workers near the phones run it
(device_agent/tasks.py, `celery -A device_agent.tasks worker -Q sweep.<site>`). Both spell it from here.
"""

from __future__ import annotations

SWEEP_SITE_TASK = "phonegate.sweep_site"  # args: (sweep_id, site)
UNASSIGNED_SITE = "unassigned"  # the site of phones that have none: they get their own queue


def site_queue(site: str) -> str:
    return f"sweep.{site}"
