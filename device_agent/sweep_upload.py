"""Getting sweep results to the server: in batches, through the outbox, never lost and never counted twice.

Each batch is written to the outbox first, then posted; its file goes only when the server acknowledged it.
When the server stops answering, the uploader stops trying for the rest of the sweep (one timeout, not one per
batch) and the batches wait in the outbox for `deliver_pending`, which every sweep runs before it starts.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

from device_agent.outbox import Outbox, OutboxBatch, OutboxUnreadable
from device_agent.sweep_api import ComplianceApi, ServerRefused, ServerUnreachable

log = logging.getLogger(__name__)
BATCH_RESULTS = 200


@dataclass
class DeliveryReport:
    delivered: int = 0  # batch files acknowledged
    stored: int = 0  # result rows the server stored new
    duplicates: int = 0  # rows it already had (a re-delivered batch)
    set_aside: list[str] = field(default_factory=list)  # file names moved out of the queue, with the reason
    server_down: bool = False
    finish: dict[str, Any] | None = None  # the server's answer to a delivered finish


def deliver_batch(api: ComplianceApi, outbox: Outbox, batch: OutboxBatch, report: DeliveryReport) -> None:
    """Send one stored batch; raise ServerUnreachable (batch kept) or record what happened."""
    try:
        if batch.kind == "finish":
            report.finish = api.finish(batch.sweep_id)
        else:
            answer = _post_results(api, batch)
            report.stored += int(answer.get("stored") or 0)
            report.duplicates += int(answer.get("duplicates") or 0)
    except ServerRefused as exc:
        if exc.status in (401, 403):
            raise ServerUnreachable(f"{exc} (the batch stays in the outbox until the token is fixed)") from exc
        if batch.kind == "finish" and exc.status == 409:
            outbox.acknowledged(batch)  # already finished: nothing left to do
            report.delivered += 1
            return
        assert batch.path is not None
        outbox.set_aside(batch.path, "refused", str(exc))
        report.set_aside.append(f"{batch.path.name}: {exc}")
        log.warning("outbox batch %s refused by the server: %s", batch.batch_id, exc)
        return
    outbox.acknowledged(batch)
    report.delivered += 1


def _post_results(api: ComplianceApi, batch: OutboxBatch) -> dict[str, Any]:
    try:
        return api.post_results(batch.sweep_id, batch.results, batch.devices)
    except ServerRefused as exc:
        if exc.status != 404:
            raise
    # The sweep is not on the server (it was started while the server was down): create it, then send again.
    api.start_sweep(batch.sweep_id, batch.source)
    return api.post_results(batch.sweep_id, batch.results, batch.devices)


def deliver_pending(api: ComplianceApi, outbox: Outbox) -> DeliveryReport:
    """Send every waiting batch, oldest first; stop at the first sign that the server is down."""
    report = DeliveryReport()
    for path in outbox.pending():
        try:
            batch = outbox.read(path)
        except FileNotFoundError:
            continue
        except OutboxUnreadable as exc:
            outbox.set_aside(path, "unreadable", str(exc))
            report.set_aside.append(str(exc))
            continue
        try:
            deliver_batch(api, outbox, batch, report)
        except ServerUnreachable:
            report.server_down = True
            break
    return report


class Uploader:
    """Collects per-phone results into batches of about BATCH_RESULTS rows and sends them through the outbox.

    Writing and posting happen on background sender threads, so the sweep's event loop keeps talking to phones
    while batches are on their way; two senders keep the server busy while one waits for its commit. Batches
    are independent (the server keys rows by sweep, phone and rule), so their order does not matter; the
    finish is sent only after every results batch has been dealt with.
    """

    def __init__(self, api: ComplianceApi | None, outbox: Outbox, sweep_id: str, source: str,
                 batch_results: int = BATCH_RESULTS, senders: int = 2) -> None:
        self.api = api
        self.outbox = outbox
        self.sweep_id = sweep_id
        self.source = source
        self.batch_results = batch_results
        self.report = DeliveryReport(server_down=api is None)
        self._results: list[dict[str, Any]] = []
        self._devices: list[dict[str, Any]] = []
        self._queue: queue.Queue[OutboxBatch | None] = queue.Queue()
        self._lock = threading.Lock()
        self._failure: BaseException | None = None
        count = senders if api is not None and api.thread_safe else 1
        self._threads = [threading.Thread(target=self._run, name=f"upload-{sweep_id[:8]}-{i}", daemon=True) for i in range(count)]
        for thread in self._threads:
            thread.start()
        self._closed = False

    def add(self, results: list[dict[str, Any]], device: dict[str, Any] | None) -> None:
        """One phone's results (kept together in one batch) and its sighting."""
        self._results.extend(results)
        if device is not None:
            self._devices.append(device)
        if len(self._results) >= self.batch_results:
            self.flush()

    def flush(self) -> None:
        if not self._results and not self._devices:
            return
        batch = OutboxBatch(self.sweep_id, "results", source=self.source, results=self._results, devices=self._devices)
        self._results, self._devices = [], []
        self._queue.put(batch)

    def close(self) -> None:
        """Flush and wait until every batch is on disk and, if the server answers, delivered."""
        if not self._closed:
            self._closed = True
            self.flush()
            for _ in self._threads:
                self._queue.put(None)
            for thread in self._threads:
                thread.join()
        if self._failure is not None:
            raise self._failure

    def finish(self) -> dict[str, Any] | None:
        """Send everything, then ask the server to finish the sweep (also through the outbox, so it happens)."""
        self.close()
        self._send(self.outbox.put(OutboxBatch(self.sweep_id, "finish", source=self.source)))
        return self.report.finish

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            try:
                self._send(self.outbox.put(batch))
            except BaseException as exc:  # e.g. a full disk: reported by close(), after the sweep's phones are done
                self._failure = self._failure or exc

    def _send(self, batch: OutboxBatch) -> None:
        if self.api is None or self.report.server_down:
            return
        mine = DeliveryReport()
        try:
            deliver_batch(self.api, self.outbox, batch, mine)
        except ServerUnreachable as exc:
            log.warning("server unreachable, keeping results in the outbox: %s", exc)
            self.report.server_down = True
        except Exception as exc:  # anything else: the batch is safe on disk, the next run tries again
            log.warning("sending results failed (%s), keeping them in the outbox", type(exc).__name__, exc_info=True)
            self.report.server_down = True
        with self._lock:
            self.report.delivered += mine.delivered
            self.report.stored += mine.stored
            self.report.duplicates += mine.duplicates
            self.report.set_aside.extend(mine.set_aside)
            if mine.finish is not None:
                self.report.finish = mine.finish
