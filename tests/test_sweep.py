"""Sweeps against simulated phones without a server: per-phone time limits, bounded concurrency, the CLI's
output and exit codes. Sweeps that talk to the real server: test_sweep_server.py."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from device_agent.outbox import Outbox
from device_agent.sweep import SweepOptions, run_sweep
from phonegate.cli import main


@pytest.fixture
def agent_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, adb_key) -> Path:
    monkeypatch.setenv("PHONEGATE_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("PHONEGATE_ADB_KEY", str(adb_key.path))
    monkeypatch.delenv("PHONEGATE_TOKEN", raising=False)
    return tmp_path / "instance"


def test_one_hung_phone_costs_its_own_time_limit_and_nothing_more(phone_simulator, adb_key, tmp_path: Path) -> None:
    phones = phone_simulator(5, profiles=["google-pixel-9", "samsung-galaxy-s24"])
    phones[2].phone.faults.hang = True
    options = SweepOptions(key=adb_key, concurrency=5, timeout_per_phone_s=2.0)
    started = time.monotonic()
    outcome = run_sweep(None, Outbox(tmp_path / "outbox"), options, [p.endpoint for p in phones])
    elapsed = time.monotonic() - started
    by_endpoint = {report.target.endpoint: report for report in outcome.reports}
    assert by_endpoint[phones[2].endpoint].status == "error: timed out after 2 s"
    hung = [r for r in by_endpoint[phones[2].endpoint].results if r.outcome != "not_applicable"]
    assert hung
    assert all(r.outcome == "error" and r.observed == "timed out after 2 s" for r in hung)
    for phone in phones[:2] + phones[3:]:
        report = by_endpoint[phone.endpoint]
        assert report.error is None
        assert report.facts is not None
        assert report.facts.serial == phone.serial
    assert elapsed < 8, f"one hung phone stalled the sweep for {elapsed:.1f} s"  # generous: the limit is 2 s


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_is_bounded(phone_simulator, adb_key, tmp_path: Path, concurrency: int) -> None:
    phones = phone_simulator(6, profiles=["google-pixel-9"])
    for phone in phones:
        phone.phone.faults.latency_ms = 30  # each phone takes a while, so overlaps are visible
    options = SweepOptions(key=adb_key, concurrency=concurrency, timeout_per_phone_s=10.0)
    outcome = run_sweep(None, Outbox(tmp_path / "outbox"), options, [p.endpoint for p in phones])
    assert len(outcome.reports) == 6
    assert all(r.error is None for r in outcome.reports)
    spans = [(r.started, r.started + r.elapsed_s) for r in outcome.reports]
    most_at_once = max(sum(1 for s, e in spans if s <= moment < e) for moment, _ in spans)
    assert 1 <= most_at_once <= concurrency
    if concurrency > 1:
        assert most_at_once > 1  # and it does run phones side by side


def test_cli_sweep_json_and_exit_code_5_on_a_non_compliant_phone(phone_simulator, agent_env: Path, capsys) -> None:
    good, rooted = phone_simulator(2, profiles=["google-pixel-9", "rooted-oneplus"])
    code = main(["sweep", "--tcp", good.endpoint, "--tcp", rooted.endpoint, "--json", "--timeout-per-phone", "10"])
    out = capsys.readouterr()
    assert code == 5
    data = json.loads(out.out)
    status = {phone["endpoint"]: phone for phone in data["phones"]}
    assert status[good.endpoint]["status"] == "compliant"
    assert status[rooted.endpoint]["status"] == "non-compliant"
    assert {"not_rooted", "bootloader_locked", "verified_boot_green", "no_test_keys"} <= set(status[rooted.endpoint]["failing"])
    assert data["non_compliant"] == [rooted.serial]
    assert data["server_reached"] is False
    assert data["outbox"]["waiting"] == 2  # results batch + finish
    assert "non-compliant" in out.err
    assert "Traceback" not in out.err
    assert len(list((agent_env / "outbox").glob("*.jsonl"))) == 2


def test_cli_sweep_refuses_bad_input_with_exit_2(agent_env: Path, capsys) -> None:
    assert main(["sweep", "--tcp", "not-an-endpoint:xyz"]) == 2
    assert main(["sweep"]) == 2  # no token and no --tcp: nothing to sweep
    assert "PHONEGATE_TOKEN" in capsys.readouterr().err


def test_cli_sweep_exit_4_when_no_phone_answers(agent_env: Path, capsys) -> None:
    from ports import free_port

    assert main(["sweep", "--tcp", f"127.0.0.1:{free_port()}", "--timeout-per-phone", "3"]) == 4
    assert "No phone could be read" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_otherwise(phone_simulator, adb_key, tmp_path: Path) -> None:
    from device_agent.sweep_render import PlainProgress, RichProgress, print_summary, progress_for

    phones = phone_simulator(2, profiles=["google-pixel-9", "rooted-oneplus"])
    terminal, pipe = _Terminal(), io.StringIO()
    assert isinstance(progress_for(terminal), RichProgress)
    assert isinstance(progress_for(pipe), PlainProgress)
    for stream in (terminal, pipe):
        progress = progress_for(stream)
        outcome = run_sweep(None, Outbox(tmp_path / "outbox"), SweepOptions(key=adb_key, timeout_per_phone_s=20),
                            [p.endpoint for p in phones], on_plan=progress.start, on_phone=progress.phone)
        progress.stop()
    lines = pipe.getvalue().splitlines()
    assert lines[0].startswith("sweep ")
    assert lines[-1] == "checked 2/2 phone(s)"
    assert any(phones[1].serial in line and "non-compliant" in line for line in lines)
    table = io.StringIO()
    print_summary(outcome, table)
    assert phones[1].serial in table.getvalue()
    assert "not_rooted" in table.getvalue()
