"""WhatsApp media left on shared storage: anything older than the retention period should have been deleted.

Evidence names folders and ages only, never file names: those can carry personal data.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Any

from device_agent.checks.base import Check, CheckResult, DeviceExpectation
from device_agent.facts import DeviceFacts
from phonegate.core import device_rules


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


class MediaRetention(Check):
    spec = device_rules.MEDIA_RETENTION

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        if facts.media_files is None:
            return self.unknown("media_files")
        limit = params["max_age_days"]
        now = _aware(now)
        ages = [((now - _aware(f.modified_at)).days, f.path) for f in facts.media_files]
        old = [(age, path) for age, path in ages if age > limit]
        evidence = {
            "files": len(ages),
            "older_than_limit": len(old),
            "oldest_age_days": max((age for age, _ in ages), default=None),
            "max_age_days": limit,
            "folders": sorted({PurePosixPath(path).parent.name for _, path in old}),
        }
        if old:
            return self.failed(f"{len(old)} media file(s) older than {limit} days (oldest {evidence['oldest_age_days']}). "
                               f"{self.spec.remedy}", **evidence)
        return self.passed(f"{len(ages)} media file(s), none older than {limit} days", **evidence)
