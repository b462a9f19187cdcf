"""How many refusals of one caller reach the audit log: the first few per window, then one summary.

Every refusal is audited (server/services/refusals.py), so a caller repeating a refused request could grow the
audit log without limit. Per caller (the token or user, or the client address when there is neither) and per
window of `refusal_audit_window_seconds`, the first `refusal_audit_limit` refusals are written as they come;
later ones are only counted, and the count is written as one "audit.refusals_suppressed" entry (actions and how
often) with the caller's next refusal after the window, or anyone's. A request without a valid API token never
gets this far: it writes no audit entry at all (server/api/auth.py).

The counts live in this server process: with several processes the bound is per process.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

SUMMARY_ACTION = "audit.refusals_suppressed"
MAX_CALLERS = 10_000  # windows kept at once; the oldest quiet ones go first


@dataclass
class _Window:
    label: str
    user_id: int | None
    started: float
    started_at: datetime
    written: int = 0
    suppressed: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class Summary:
    """What a closed window suppressed, to be written as one audit entry by the caller (`label`, `user_id`)."""

    label: str
    user_id: int | None
    details: dict


class RefusalBudget:
    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

    def admit(self, caller: str, label: str, user_id: int | None, action: str, *, limit: int,
              window_s: float) -> tuple[bool, list[Summary]]:
        """(whether this refusal is written, summaries of closed windows to write with it). `caller` is the key
        (the actor's label, with the client address when it has no user); `label` and `user_id` are what the
        summary entry is recorded as (never the address: the audit log keeps ids only)."""
        now = self._clock()
        with self._lock:
            summaries = [self._summary(window, window_s) for window in self._expired(now, window_s)]
            window = self._windows.get(caller)
            if window is None:
                if len(self._windows) >= MAX_CALLERS:  # close the oldest window early rather than lose its count
                    summaries.append(self._summary(self._windows.pop(next(iter(self._windows))), window_s))
                window = self._windows[caller] = _Window(label, user_id, now, datetime.now(timezone.utc))
            if window.written < limit:
                window.written += 1
                return True, [summary for summary in summaries if summary is not None]
            window.suppressed[action] += 1
            return False, [summary for summary in summaries if summary is not None]

    def _expired(self, now: float, window_s: float) -> list[_Window]:
        expired = [caller for caller, window in self._windows.items() if now - window.started >= window_s]
        return [self._windows.pop(caller) for caller in expired]

    @staticmethod
    def _summary(window: _Window, window_s: float) -> Summary | None:
        if not window.suppressed:
            return None
        return Summary(window.label, window.user_id, {
            "suppressed": sum(window.suppressed.values()), "actions": dict(sorted(window.suppressed.items())),
            "window_started_at": window.started_at.isoformat(),
            "window_ended_at": (window.started_at + timedelta(seconds=window_s)).isoformat(),
            "written_in_window": window.written,
        })
