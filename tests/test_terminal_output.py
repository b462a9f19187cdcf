"""Untrusted text never reaches a terminal raw (issue 9): a simulated phone whose properties carry terminal escape
sequences (colour, window-title OSC, clear screen, C1 CSI), backspaces, bells and bidi overrides, read by the real
console script (`inspect`, `provision`, `sweep`), an APK whose version name carries them (`app add`), and hostile
arguments echoed back in error sentences (`policy publish`, `inspect`, a usage error).

Each command runs twice. Through pipes, the captured stdout and stderr, as bytes, hold no control character at
all (they show up escaped: `\\x1b`, `\\u202e`). On a pseudo-terminal (so the rich progress bars and tables draw,
and click strips nothing), the output holds none of the hostile sequences: the progress bars' own styling is
the only escape code left.
"""

from __future__ import annotations

import dataclasses
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from device_agent.simulator.profiles import load_profile

PHONEGATE = str(Path(sys.executable).with_name("phonegate"))
WINDOW_TITLE = "\x1b]0;you have been pwned\x07"
CLEAR_SCREEN = "\x1b[2J\x1b[H"
HOSTILE = f"Pixel{WINDOW_TITLE}{CLEAR_SCREEN}\x1b[31mred\x08\x08\x08\x07\u202eevil\u2066\x9b2J"
RAW = [b"\x1b", b"\x07", b"\x08", b"\xc2\x9b", "\u202e".encode(), "\u2066".encode()]
SEQUENCES = [WINDOW_TITLE.encode(), CLEAR_SCREEN.encode(), b"\x1b[31mred", b"\x1b[5m", b"\x08\x08\x08", b"\x07",
             b"\xc2\x9b", "\u202e".encode(), "\u2066".encode()]

pytestmark = pytest.mark.slow


def hostile_profile():
    profile = load_profile("google-pixel-9")
    properties = dict(profile.properties, **{
        "ro.product.model": HOSTILE, "ro.product.manufacturer": f"Goo{CLEAR_SCREEN}gle",
        "ro.build.fingerprint": f"google/{WINDOW_TITLE}/komodo:15/AP4A/1:user/release-keys",
        "ro.build.version.release": "15\x1b[5m",
    })
    return dataclasses.replace(profile, name="hostile-pixel", properties=properties)


def _env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "COLUMNS": "200", "LINES": "50", "TERM": "xterm-256color"}


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """The console script with its output piped; checked for any raw control character on the way."""
    result = subprocess.run([PHONEGATE, *args], env=_env(env), capture_output=True, timeout=timeout, check=False)
    for stream_name, data in (("stdout", result.stdout), ("stderr", result.stderr)):
        for raw in RAW:
            assert raw not in data, f"{raw!r} raw in {stream_name} of {args[0]}: {data[:2000]!r}"
    return result


def run_on_terminal(args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, bytes]:
    """The console script on a pseudo-terminal (stdout and stderr both); checked for the hostile sequences."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([PHONEGATE, *args], env=_env(env), stdin=subprocess.DEVNULL, stdout=terminal,
                               stderr=terminal, close_fds=True)
    os.close(terminal)
    output = bytearray()
    try:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the command ended and closed the terminal
                break
            if not chunk:
                break
            output.extend(chunk)
    finally:
        os.close(controller)
    code = process.wait(timeout=timeout)
    for sequence in SEQUENCES:
        assert sequence not in output, f"{sequence!r} raw on the terminal of {args[0]}: {bytes(output[:3000])!r}"
    return code, bytes(output)


@pytest.fixture
def agent_env(adb_key, tmp_path) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "PHONEGATE_ADB_KEY": str(adb_key.path),
            "PHONEGATE_INSTANCE": str(tmp_path / "agent-instance")}


def test_inspect_shows_a_hostile_phone_escaped(phone_simulator, agent_env):
    (phone,) = phone_simulator(1, profiles=[hostile_profile()])
    summary = run(["inspect", "--tcp", phone.endpoint], agent_env)
    assert summary.returncode == 0, summary.stderr
    assert b"Pixel\\x1b]0;you have been pwned\\x07" in summary.stdout
    assert run(["inspect", "--tcp", phone.endpoint, "--json"], agent_env).returncode == 0
    code, shown = run_on_terminal(["inspect", "--tcp", phone.endpoint], agent_env)
    assert code == 0
    assert b"\\x1b[2J" in shown


def test_sweep_shows_a_hostile_phone_escaped(phone_simulator, agent_env):
    (phone,) = phone_simulator(1, profiles=[hostile_profile()])
    phone.phone.properties["ro.serialno"] = f"SIM{CLEAR_SCREEN}9"
    phone.phone.properties["ro.crypto.state"] = "unencrypted"  # a failing rule, so the phone is listed
    result = run(["sweep", "--tcp", phone.endpoint], agent_env)  # no token: results go to the outbox
    assert b"\\x1b[2J" in result.stdout + result.stderr
    assert run(["sweep", "--tcp", phone.endpoint, "--json"], agent_env).stdout
    _, shown = run_on_terminal(["sweep", "--tcp", phone.endpoint], agent_env)
    assert b"\\x1b[2J" in shown


def test_provision_shows_a_hostile_phone_escaped(phone_simulator, agent_env, web, live_server, factory):
    (phone,) = phone_simulator(1, profiles=[hostile_profile()])
    token, _ = factory.token(user=web.it, scope="provision")
    env = {**agent_env, "PHONEGATE_SERVER": live_server.url, "PHONEGATE_TOKEN": token}
    result = run(["provision", "--tcp", phone.endpoint, "--staff", web.staff.email], env)
    assert result.returncode == 3, result.stderr  # registered, request opened, waiting for the manager
    code, _ = run_on_terminal(["provision", "--tcp", phone.endpoint, "--staff", web.staff.email], env)
    assert code == 3

    phone.phone.properties["ro.serialno"] = f"SIM\x1b]0;t\x07{CLEAR_SCREEN}"
    assert run(["provision", "--tcp", phone.endpoint, "--staff", web.staff.email], env).returncode != 0
    code, _ = run_on_terminal(["provision", "--tcp", phone.endpoint, "--staff", web.staff.email], env)
    assert code != 0


def test_app_add_shows_a_hostile_version_name_escaped(runner_env, hostile_apk):
    result = run(["app", "add", str(hostile_apk), "--role", "individual"], runner_env)
    assert result.returncode == 0, result.stderr
    assert b"\\u202e" in result.stdout
    code, shown = run_on_terminal(["app", "add", str(hostile_apk), "--role", "individual"], runner_env)
    assert code == 0
    assert b"\\u202e" in shown


def test_error_sentences_echo_arguments_escaped(runner_env, agent_env, tmp_path):
    policy = tmp_path / "policy.txt"
    policy.write_text("Use WhatsApp for work only.\n")
    commands = [
        (["policy", "publish", str(policy), "--version", f"v{WINDOW_TITLE}"], runner_env),
        (["policy", "publish", str(tmp_path / f"no{CLEAR_SCREEN}such.txt"), "--version", "v1"], runner_env),
        (["inspect", "--tcp", f"127.0.0.1:{CLEAR_SCREEN}"], agent_env),
        (["app", "add", "x.apk", "--role", f"individual{WINDOW_TITLE}"], runner_env),
    ]
    for args, env in commands:
        assert run(args, env).returncode == 2
        code, shown = run_on_terminal(args, env)
        assert code == 2
        assert b"\\x1b" in shown  # the argument is named, escaped


@pytest.fixture
def runner_env(app, pinned_app, tmp_path) -> dict[str, str]:
    """The environment the console script needs to reach this test's database, with the test signer pinned."""
    from fixtures_enrolment import pins_for

    settings = pinned_app.config["PHONEGATE"]
    return {"HOME": str(tmp_path / "home"), "PHONEGATE_DATABASE_URL": settings.database_url,
            "PHONEGATE_INSTANCE": str(settings.instance_path),
            "PHONEGATE_SIGNER_PINS": pins_for(next(iter(settings.signer_pins["com.whatsapp"])))}


@pytest.fixture
def hostile_apk(test_apks, tmp_path) -> Path:
    """WhatsApp signed by test key A, whose versionName holds a C1 clear screen and a bidi override (both are
    characters XML allows, so aapt writes them into the manifest)."""
    from fixtures_apks import _framework, build_unsigned, sign

    framework = _framework(tmp_path)
    unsigned = build_unsigned(tmp_path, framework, "hostile", "com.whatsapp", 242201099,
                              "2.24\u009b2J\u202e.99", 21)
    return sign(unsigned, tmp_path / "hostile.apk", test_apks.key_a)
