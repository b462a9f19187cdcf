"""Every file PhoneGate writes is 0600 and its folders 0700 (issue 9: the SQLite database and the outbox files were
0644), checked with stat after real runs of the console script (started with umask 022, as a shell would), and
for a server built in-process by create_app (as another WSGI server would), also narrowing older files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

PHONEGATE = str(Path(sys.executable).with_name("phonegate"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _run(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PHONEGATE, *args], env=env, capture_output=True, text=True, timeout=120, check=False,
                          umask=0o022, **kw)


@pytest.fixture
def instance(tmp_path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "deployment" / "instance"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path / "home"),
           "PHONEGATE_INSTANCE": str(folder), "PHONEGATE_DEMO_PHONES": "0"}
    return folder, env


@pytest.mark.slow
def test_database_secret_key_and_catalogue_are_private_after_real_runs(instance, test_apks):
    from fixtures_enrolment import pins_for
    from ports import free_port

    folder, env = instance
    upgraded = _run(["db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert mode(folder) == 0o700
    assert mode(folder / "phonegate.sqlite3") == 0o600
    assert mode(folder / "secret_key") == 0o600

    added = _run(["app", "add", str(test_apks.whatsapp), "--role", "individual"],
                 {**env, "PHONEGATE_SIGNER_PINS": pins_for(test_apks.key_a.sha256)})
    assert added.returncode == 0, added.stderr
    assert mode(folder / "catalogue") == 0o700
    apks = list((folder / "catalogue").iterdir())
    assert [mode(apk) for apk in apks] == [0o600]

    port = free_port()
    server = subprocess.Popen([PHONEGATE, "serve", "--port", str(port), "--no-scheduler"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, umask=0o022)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        requests.get(f"http://127.0.0.1:{port}/login", timeout=5)  # the database is open in WAL mode now
        for suffix in ("-wal", "-shm"):
            companion = folder / f"phonegate.sqlite3{suffix}"
            assert companion.exists(), suffix
            assert mode(companion) == 0o600, suffix
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_the_outbox_is_private_after_a_real_sweep(instance, phone_simulator, adb_key):
    folder, env = instance
    (phone,) = phone_simulator(1, profiles=["google-pixel-9"])
    swept = _run(["sweep", "--tcp", phone.endpoint], {**env, "PHONEGATE_ADB_KEY": str(adb_key.path)})
    assert swept.returncode == 6, swept.stderr  # no token: the results wait in the outbox
    outbox = folder / "outbox"
    assert mode(folder) == 0o700
    assert mode(outbox) == 0o700
    batches = list(outbox.glob("*.jsonl"))
    assert batches
    assert {mode(batch) for batch in batches} == {0o600}


def test_a_server_built_in_process_makes_its_files_private_and_narrows_old_ones(tmp_path):
    from server import create_app
    from server.extensions import db

    folder = tmp_path / "instance"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    database = folder / "phonegate.sqlite3"
    database.touch()
    os.chmod(database, 0o644)  # written by an older PhoneGate
    previous = os.umask(0o022)
    try:
        app = create_app({"PHONEGATE_INSTANCE": str(folder), "PHONEGATE_DATABASE_URL": f"sqlite:///{database}"})
        with app.app_context():
            db.session.execute(db.text("CREATE TABLE probe (id INTEGER)"))
            db.session.commit()
            wal = Path(f"{database}-wal")
            assert wal.exists()
            assert mode(wal) == 0o600
            db.session.remove()
            db.engine.dispose()
    finally:
        os.umask(previous)
    assert mode(folder) == 0o700
    assert mode(database) == 0o600
    assert mode(folder / "secret_key") == 0o600
