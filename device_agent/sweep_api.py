"""The compliance endpoints the sweep agent calls, over the project's one HTTP client.

The JSON shapes are the server's contract (server/api/compliance.py, written first for this agent):
    POST /api/v1/sweeps {sweep_id, source, site?}        -> {sweep_id, created, rules: {version, document}, devices: [...]}
    POST /api/v1/sweeps/<id>/claims {serials, worker}    -> {granted: [...], refused: [...]}
    POST /api/v1/sweeps/<id>/results {results, devices}  -> {stored, duplicates, unknown_serials}
    POST /api/v1/sweeps/<id>/finish {}                   -> {counts, non_compliant: [...], in_grace, actions, ...}
Every device and result is keyed by serial; the server stores each (sweep, device, rule) once, so re-sending
a batch after a lost answer is harmless. Each planned device's approved_apps entry is
{package, signer_sha256: [hex], min_version_code, signer_certificates: [base64 DER]}: phones show only a 32-bit
hash of each signer certificate, so the certificates are what lets the agent recognise a pinned signer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from device_agent.client import PhoneGateClient, RetryPolicy, ServerRefused, ServerUnreachable
from device_agent.settings import AgentSettings

__all__ = ["ComplianceApi", "ServerRefused", "ServerUnreachable", "SweepPlanData"]


@dataclass
class SweepPlanData:
    sweep_id: str
    rules_version: int | None
    rules_document: str
    devices: list[dict[str, Any]]


class ComplianceApi:
    """The compliance calls over the shared client. The client is not thread-safe (one requests.Session), so
    given a `client_factory` each thread gets its own client; given a bare client, use it from one thread only."""

    def __init__(self, client: Any = None, *, client_factory: Callable[[], Any] | None = None) -> None:
        if client is None and client_factory is None:
            raise ValueError("ComplianceApi needs a client or a client_factory")
        self._factory = client_factory
        self._first = client if client is not None else client_factory()  # type: ignore[misc]
        self._first_thread = threading.get_ident()
        self._local = threading.local()
        self._clients = [self._first]
        self._lock = threading.Lock()

    @property
    def thread_safe(self) -> bool:
        return self._factory is not None

    @property
    def client(self) -> Any:
        if self._factory is None or threading.get_ident() == self._first_thread:
            return self._first
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._factory()
            with self._lock:
                self._clients.append(client)
        return client

    @classmethod
    def from_environment(
        cls, server: str | None = None, token: str | None = None, *, timeout_s: float = 30.0, attempts: int = 3
    ) -> ComplianceApi:
        """PHONEGATE_SERVER / PHONEGATE_TOKEN unless given; BadInput when there is no token at all."""
        url = server or AgentSettings.from_environ().server_url
        retry = RetryPolicy(attempts=max(1, attempts), first_delay_s=0.05 if attempts <= 2 else 0.5)
        return cls(client_factory=lambda: PhoneGateClient(url, token, timeout_s=timeout_s, retry=retry))

    def start_sweep(self, sweep_id: str, source: str, site: str | None = None) -> SweepPlanData:
        body: dict[str, Any] = {"sweep_id": sweep_id, "source": source}
        if site is not None:
            body["site"] = site
        answer = self._post("/sweeps", body)
        rules = answer.get("rules") or {}
        return SweepPlanData(
            sweep_id=str(answer["sweep_id"]),
            rules_version=rules.get("version"),
            rules_document=rules.get("document") or "",
            devices=list(answer.get("devices") or []),
        )

    def claim(self, sweep_id: str, serials: Sequence[str], worker: str) -> list[str]:
        answer = self._post(f"/sweeps/{sweep_id}/claims", {"serials": list(serials), "worker": worker})
        return list(answer.get("granted") or [])

    def post_results(self, sweep_id: str, results: list[dict[str, Any]], devices: list[dict[str, Any]]) -> dict[str, Any]:
        return self._post(f"/sweeps/{sweep_id}/results", {"results": results, "devices": devices})

    def finish(self, sweep_id: str) -> dict[str, Any]:
        return self._post(f"/sweeps/{sweep_id}/finish", {})

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        # The shared client's JSON call: it owns auth, timeouts, retries and the error family (ServerError).
        answer = self.client.request_json("POST", f"/api/v1{path}", json=body)
        if not isinstance(answer, dict):
            raise ServerUnreachable(f"The server answered {path} with an unexpected shape.")
        return answer
