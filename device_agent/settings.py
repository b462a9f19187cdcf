"""The agent's and provisioning's settings: every environment variable they read, read here, once.

The server has its own (server/settings.py); these are what a laptop at an IT bench, a check-in station or a
Celery worker near the phones is configured with. Commands build one `AgentSettings.from_environ()` and hand it
(or the values it holds) to what needs them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from phonegate.core.errors import BadInput

DEFAULT_SERVER = "http://127.0.0.1:5000"
DEFAULT_ADB_KEY = "~/.android/adbkey"  # adb's own key, so phones that trust the adb client trust PhoneGate too
OUTBOX_FOLDER = "outbox"


@dataclass(frozen=True)
class AgentSettings:
    server_url: str = DEFAULT_SERVER  # PHONEGATE_SERVER
    token: str = ""  # PHONEGATE_TOKEN (an API token: scope provision for `provision`, agent for sweeps)
    adb_key_path: Path = Path(DEFAULT_ADB_KEY).expanduser()  # PHONEGATE_ADB_KEY (adbkey; adbkey.pub beside it)
    broker_url: str = ""  # PHONEGATE_BROKER_URL: Celery broker for per-site sweeps; empty = in-process
    instance_path: Path = Path("instance").resolve()  # PHONEGATE_INSTANCE: where the outbox lives
    sweep_concurrency: int = 20  # PHONEGATE_SWEEP_CONCURRENCY: phones checked at once by a worker
    sweep_timeout_s: float = 60.0  # PHONEGATE_SWEEP_TIMEOUT_S: limit per phone

    @property
    def outbox_path(self) -> Path:
        return self.instance_path / OUTBOX_FOLDER

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> AgentSettings:
        env = os.environ if environ is None else environ
        server = (env.get("PHONEGATE_SERVER") or "").strip().rstrip("/") or DEFAULT_SERVER
        if not server.startswith(("http://", "https://")):
            raise BadInput(f"PHONEGATE_SERVER must start with http:// or https://, got {server!r}.")
        return cls(
            server_url=server,
            token=(env.get("PHONEGATE_TOKEN") or "").strip(),
            adb_key_path=Path(env.get("PHONEGATE_ADB_KEY") or DEFAULT_ADB_KEY).expanduser(),
            broker_url=(env.get("PHONEGATE_BROKER_URL") or "").strip(),
            instance_path=Path(env.get("PHONEGATE_INSTANCE") or "instance").expanduser().resolve(),
            sweep_concurrency=_number(env, "PHONEGATE_SWEEP_CONCURRENCY", 20, int),
            sweep_timeout_s=_number(env, "PHONEGATE_SWEEP_TIMEOUT_S", 60.0, float),
        )


def _number(env: Mapping[str, str], name: str, default, kind):
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        number = kind(value)
    except ValueError:
        raise BadInput(f"{name} must be a number, got {value!r}.") from None
    if number <= 0:
        raise BadInput(f"{name} must be more than 0, got {value!r}.")
    return number
