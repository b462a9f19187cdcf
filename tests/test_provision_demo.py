"""`phonegate serve` starts the demo phones for the walkthrough, clearly labelled as simulated."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ports import free_port

PHONEGATE = str(Path(sys.executable).with_name("phonegate"))
LINE = re.compile(r"^SIMULATED PHONE (SIMULATED-PHONE-\d+) listening on (127\.0\.0\.1:\d+)")

@pytest.mark.slow
@pytest.mark.adb
def test_serve_starts_labelled_demo_phones(tmp_path, adb_client):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHONEGATE_")}
    env.update(PHONEGATE_INSTANCE=str(tmp_path / "instance"), PHONEGATE_DEMO_PHONES="2")
    assert subprocess.run([PHONEGATE, "db", "upgrade"], env=env, capture_output=True, timeout=120).returncode == 0
    server = subprocess.Popen([PHONEGATE, "serve", "--port", str(free_port()), "--no-scheduler"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    phones = []
    try:
        deadline = time.monotonic() + 60
        while len(phones) < 2 and time.monotonic() < deadline:
            line = server.stderr.readline()
            if not line:
                break
            if match := LINE.match(line):
                phones.append(match.groups())
        assert [serial for serial, _ in phones] == ["SIMULATED-PHONE-01", "SIMULATED-PHONE-02"]
        endpoint = phones[0][1]
        # `adb connect` returns before the handshake ends: wait until the server lists the phone as a device.
        assert adb_client.connect(endpoint) == "device"
        model = adb_client.run("-s", endpoint, "shell", "getprop ro.product.model").stdout.decode()
        assert model.startswith("SIMULATED PHONE")
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_no_demo_phones_when_switched_off():
    from phonegate.demo import start_demo_phones

    assert start_demo_phones(0) is None
