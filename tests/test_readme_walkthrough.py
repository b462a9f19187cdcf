"""The README's walkthrough runs as written: every shell block marked `<!-- walkthrough: ... -->` is taken from the
README and run literally, in order, in one bash (so variables set by one command are there for the next), in a
fresh directory that looks like a checkout (.venv, scripts, docs linked) with its own ./instance.

`make run` is stood in for by `phonegate db upgrade` (what it runs before serving); the steps that need the
server and the simulated phones (provision, approve in the browser) are covered by test_provision_e2e.py."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[1]
MARKED_BLOCK = re.compile(r"^[ \t]*<!-- walkthrough: (?P<name>[^>]*?) -->\n[ \t]*```sh\n(?P<body>.*?)^[ \t]*```",
                          re.MULTILINE | re.DOTALL)


def walkthrough_blocks(readme: str) -> list[tuple[str, str]]:
    """(name, commands) of each marked block, with the indentation of a list item removed."""
    blocks = []
    for match in MARKED_BLOCK.finditer(readme):
        lines = match.group("body").splitlines()
        indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
        blocks.append((match.group("name"), "\n".join(line[indent:] for line in lines)))
    return blocks


def test_the_readme_marks_its_walkthrough_blocks():
    names = [name for name, _ in walkthrough_blocks((PROJECT / "README.md").read_text(encoding="utf-8"))]
    assert names[0].startswith("organisation")
    assert names[1] == "policy and app"


def test_the_walkthrough_commands_run_as_written(tmp_path):
    for name in (".venv", "scripts", "docs"):
        (tmp_path / name).symlink_to(PROJECT / name)
    script = "\n".join(f"echo '### {name}'\n{body}" for name, body in
                       walkthrough_blocks((PROJECT / "README.md").read_text(encoding="utf-8")))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PHONEGATE_")}
    upgrade = subprocess.run([".venv/bin/phonegate", "db", "upgrade"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert ran.returncode == 0, f"stdout:\n{ran.stdout}\nstderr:\n{ran.stderr}"
    assert re.search(r"<[a-z][a-z ]*>", script) is None  # no placeholder like <printed digest> left to fill in
    assert (tmp_path / "password.txt").stat().st_mode & 0o077 == 0

    database = sqlite3.connect(tmp_path / "instance" / "phonegate.sqlite3")
    try:
        assert database.execute("SELECT count(*) FROM users WHERE email = 'manager@council.example'").fetchone() == (1,)
        assert database.execute("SELECT count(*) FROM policy_versions WHERE label = '2026-11'").fetchone() == (1,)
        assert database.execute("SELECT count(*) FROM catalogue_apps WHERE package = 'com.whatsapp'").fetchone() == (1,)
        # `service add ... --as admin@localhost` records the first admin; the other commands only the account.
        assert database.execute("SELECT count(*) FROM audit_entries WHERE action = 'service.added' AND actor_user_id = "
                                "(SELECT id FROM users WHERE email = 'admin@localhost')").fetchone() == (1,)
        assert database.execute("SELECT count(*) FROM audit_entries WHERE action = 'team.added' AND actor LIKE 'cli:%@%' "
                                "AND actor_user_id IS NULL").fetchone() == (1,)
    finally:
        database.close()


def test_make_run_passes_port_and_host_to_serve():
    dry = subprocess.run(["make", "-n", "-o", ".venv/bin/.installed", "-o", "node_modules/.installed", "run",
                          "PORT=5001", "HOST=0.0.0.0"], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "phonegate serve --host 0.0.0.0 --port 5001" in dry.stdout
