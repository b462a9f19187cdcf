"""The agent's outbox on a real file system: durable batches, complete-or-absent files, nothing lost silently.
Delivery to a real server (and server-down-mid-sweep) is tested in test_sweep_server.py."""

from __future__ import annotations

import json
from pathlib import Path

from device_agent.outbox import Outbox, OutboxBatch, batches_of
from device_agent.sweep_upload import deliver_pending


def _batch(sweep_id: str = "5b0f6c1e-0000-4000-8000-000000000001", n: int = 3) -> OutboxBatch:
    results = [{"serial": f"S{i}", "rule": "storage_encrypted", "outcome": "pass", "observed": "encrypted", "evidence": {}} for i in range(n)]
    return OutboxBatch(sweep_id, "results", results=results, devices=[{"serial": "S0", "facts_summary": {"sdk": 34}}])


def test_a_stored_batch_reads_back_the_same_and_goes_only_when_acknowledged(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    stored = outbox.put(_batch())
    assert outbox.pending() == [stored.path]
    again = outbox.read(stored.path)
    assert (again.sweep_id, again.kind, again.batch_id) == (stored.sweep_id, "results", stored.batch_id)
    assert again.results == stored.results
    assert again.devices == stored.devices
    assert oct(outbox.folder.stat().st_mode & 0o777) == "0o700"  # results describe phones: not for other users
    outbox.acknowledged(again)
    assert outbox.pending() == []


def test_batches_come_back_oldest_first_and_partial_files_are_ignored(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    first, second = outbox.put(_batch(n=1)), outbox.put(_batch(n=2))
    (tmp_path / "00000000000000000000-cut-short.part").write_text('{"outbox": 1, "kind": "res')
    assert outbox.pending() == [first.path, second.path]


def test_every_line_is_one_json_object(tmp_path: Path) -> None:
    stored = Outbox(tmp_path).put(_batch(n=5))
    lines = stored.path.read_text().splitlines()
    assert len(lines) == 1 + 5 + 1
    assert [next(iter(json.loads(line))) for line in lines] == ["outbox", *["result"] * 5, "device"]


def test_damaged_files_are_set_aside_with_a_reason_not_deleted(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    outbox.folder.mkdir(exist_ok=True)
    bad = outbox.folder / "00000000000000000001-bad.jsonl"
    bad.write_text("not json at all\n")
    foreign = outbox.folder / "00000000000000000002-foreign.jsonl"
    foreign.write_text('{"hello": "world"}\n')
    report = deliver_pending(api=None, outbox=outbox)  # never reaches the server: nothing readable to send
    assert outbox.pending() == []
    assert len(report.set_aside) == 2
    kept = sorted(p.name for p in (outbox.folder / "unreadable").iterdir())
    assert kept == [
        "00000000000000000001-bad.jsonl",
        "00000000000000000001-bad.reason.txt",
        "00000000000000000002-foreign.jsonl",
        "00000000000000000002-foreign.reason.txt",
    ]


def test_batches_of() -> None:
    assert list(batches_of(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(batches_of([], 2)) == []
