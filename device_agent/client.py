"""The one HTTP client for PhoneGate's API (used by device_agent for sweeps, and by `provision`, which builds on device_agent).

Bearer token and base URL from the agent's settings (PHONEGATE_TOKEN, PHONEGATE_SERVER: device_agent/settings.py). Every request has a timeout; connection
failures are retried with exponential backoff (the server restarting must not fail a whole provisioning run);
HTTP errors become one family of exceptions (ServerError) so the CLI prints one sentence and the right exit code:
400/404/409 -> ServerBadInput (2), 401 -> ServerBadInput (the token), 403 -> ServerPolicyRefusal (3),
5xx/unreachable/broken -> ServerUnreachable (7). The server's own message (INTERFACE.md's
{"code","status","message","errors"}) is kept.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from device_agent.settings import AgentSettings
from phonegate.core.errors import BadInput, PhoneGateError, PolicyRefusal, ServerUnavailable
from phonegate.core.files import private_folder

log = logging.getLogger(__name__)

SHA256_HEADER = "X-Content-SHA256"
CHUNK = 1024 * 1024


class ServerError(PhoneGateError):
    """The family of everything the server can answer badly, or not at all. `status` is the HTTP status (None when
    nothing answered); `errors` and `code` are the server's own (INTERFACE.md's error shape)."""

    def __init__(self, message: str, status: int | None = None, errors: dict | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.errors, self.code = status, errors or {}, code


class ServerUnreachable(ServerError, ServerUnavailable):
    """No answer, a broken connection or a 5xx: try again later (exit 7); nothing on the phone was changed by this
    step, and whatever a sweep was sending stays in its outbox."""


class ServerRefused(ServerError):
    """The server answered 4xx: sending the same thing again will not help (except after fixing the token)."""

    status: int


class ServerBadInput(ServerRefused, BadInput):
    """400/401/404/409: the request (or the token) was wrong; exit 2."""


class ServerPolicyRefusal(ServerRefused, PolicyRefusal):
    """403: refused by the rules (not approved, grant used, wrong role); exit 3."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delays(self):
        delay = self.first_delay_s
        for _ in range(self.attempts - 1):
            yield delay
            delay = min(delay * 2, self.max_delay_s)


class PhoneGateClient:
    """A thin, typed wrapper over the API. One instance per thread (requests.Session is not thread-safe)."""

    def __init__(self, server: str | None = None, token: str | None = None, *, timeout_s: float = 15.0,
                 download_timeout_s: float = 120.0, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if server is None or token is None:
            settings = AgentSettings.from_environ()  # PHONEGATE_SERVER and PHONEGATE_TOKEN
            server = server or settings.server_url
            token = token if token is not None else settings.token
        self.server = server.rstrip("/")
        if not self.server.startswith(("http://", "https://")):
            raise BadInput(f"PHONEGATE_SERVER must start with http:// or https://, got {self.server!r}.")
        self.token = token
        if not self.token:
            raise BadInput("Set PHONEGATE_TOKEN to an API token (`phonegate token create --user EMAIL --scope provision`).")
        self.timeout_s = timeout_s
        self.download_timeout_s = download_timeout_s
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = requests.Session()
        self._http.headers.update({"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                                   "User-Agent": "phonegate-provision"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PhoneGateClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the API --------------------------------------------------------------------------------------------

    def register_device(self, facts: dict[str, Any]) -> dict:
        fields = ("serial", "manufacturer", "model", "android_release", "sdk", "security_patch", "build_fingerprint",
                  "adb_endpoint")
        return self.request_json("POST", "/api/v1/devices", json={k: facts[k] for k in fields if facts.get(k) is not None})

    def request_enrolment(self, serial: str, *, staff_email: str | None = None, broadcast_service: str | None = None,
                          reassign_reason: str | None = None) -> dict:
        """Ask for the phone to be enrolled; with `reassign_reason`, the phone belongs to someone else and moves."""
        body: dict[str, Any] = {"serial": serial}
        if reassign_reason is not None:
            body["reassign"] = True
            body["reason"] = reassign_reason
        if staff_email is not None:
            body["staff_email"] = staff_email
        if broadcast_service is not None:
            body["broadcast_service"] = broadcast_service
        return self.request_json("POST", "/api/v1/enrolments", json=body)

    def unknown_targets(self, staff_emails: list[str], broadcast_services: list[str]) -> dict:
        """Which of these staff e-mails and service names the server does not know, and which staff members are no
        longer active (changes nothing)."""
        return self.request_json("POST", "/api/v1/enrolments/targets/check",
                                 json={"staff_emails": staff_emails, "broadcast_services": broadcast_services})

    def current_rules(self) -> dict | None:
        """The compliance rules now in force ({version, document}), or None when none is published yet."""
        try:
            return self.request_json("GET", "/api/v1/compliance/rules/current")
        except ServerBadInput as exc:
            if exc.status == 404:
                return None
            raise

    def record_precheck(self, serial: str, rules_version: int | None, results: list[dict[str, Any]]) -> dict:
        """Send the rules as just checked on the phone; the answer names the failing and the blocking ones."""
        # What a phone said can be long; the server keeps 500 characters of it and refuses over 2,000.
        body = {"rules_version": rules_version,
                "results": [{"rule": result["rule"], "outcome": result["outcome"],
                             **({"severity": result["severity"]} if result.get("severity") else {}),
                             **({"observed": str(result["observed"])[:2000]} if result.get("observed") else {})}
                            for result in results]}
        return self.request_json("PUT", f"/api/v1/devices/{_path(serial)}/precheck", json=body)

    def install_status(self, serial: str) -> dict:
        return self.request_json("GET", f"/api/v1/devices/{_path(serial)}/install-status")

    def catalogue(self, role: str | None = None) -> list[dict]:
        return self.request_json("GET", "/api/v1/catalogue", params={"role": role} if role else None)

    def create_grant(self, serial: str, apk_sha256: str | None = None) -> dict:
        body: dict[str, Any] = {"device_serial": serial}
        if apk_sha256:
            body["apk_sha256"] = apk_sha256
        return self.request_json("POST", "/api/v1/grants", json=body)

    def report_installation(self, serial: str, grant_secret: str, package: str, version_code: int, signer_sha256: str) -> dict:
        return self.request_json("POST", "/api/v1/installations", json={
            "device_serial": serial, "grant_secret": grant_secret, "package": package, "version_code": version_code, "signer_sha256": signer_sha256,
        })

    def report_unauthorised_install(self, serial: str, package: str, version_code: int | None, signer_sha256: str | None) -> dict:
        return self.request_json("POST", "/api/v1/unauthorised-installs", json={
            "device_serial": serial, "package": package, "version_code": version_code, "signer_sha256": signer_sha256,
        })

    def current_policy(self) -> dict:
        return self.request_json("GET", "/api/v1/policies/current")

    def download_apk(self, url_or_sha256: str, destination_dir: Path, expected_sha256: str) -> Path:
        """Stream the APK into destination_dir/<sha256>.apk; refuse it unless its SHA-256 is `expected_sha256`."""
        expected = expected_sha256.lower()
        private_folder(destination_dir)
        target = destination_dir / f"{expected}.apk"
        if target.is_file() and sha256_file(target) == expected:
            return target  # already fetched by an earlier run
        url = url_or_sha256 if "/" in url_or_sha256 else f"{self.server}/api/v1/catalogue/{expected}/apk"
        response = self._send("GET", url, stream=True, timeout=(self.timeout_s, self.download_timeout_s))
        try:
            announced = (response.headers.get(SHA256_HEADER) or "").lower()
            if announced and announced != expected:
                raise PolicyRefusal("The server offered a different APK than the grant names; nothing was installed.")
            fd, tmp = tempfile.mkstemp(dir=destination_dir, suffix=".part")
            digest = hashlib.sha256()
            try:
                with os.fdopen(fd, "wb") as out:
                    for chunk in response.iter_content(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                if digest.hexdigest() != expected:
                    raise PolicyRefusal("The downloaded APK does not match the catalogue's SHA-256; nothing was installed.")
                os.replace(tmp, target)
            except requests.RequestException as exc:
                raise ServerUnreachable(f"The APK download from {self.server} broke off ({exc.__class__.__name__}); run again.") from None
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        finally:
            response.close()
        return target

    # -- plumbing -------------------------------------------------------------------------------------------

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call with auth, timeout, retries and error mapping; the answer parsed as JSON."""
        response = self._send(method, f"{self.server}{path}", timeout=self.timeout_s, **kwargs)
        try:
            return response.json()
        except requests.RequestException as exc:  # the answer cut off mid-body: we cannot know it was stored
            raise ServerUnreachable(f"The connection to the server broke ({type(exc).__name__}).") from None
        except ValueError:
            raise ServerUnreachable(f"The server at {self.server} answered {path} with something that is not JSON.") from None

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        delays = self.retry.delays()
        while True:
            try:
                response = self._http.request(method, url, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                # Connection failures are retried for every method: the grant and report endpoints are safe to
                # repeat (a repeated grant supersedes the first; a repeated report is refused as "already used",
                # which the flow checks against the phone's state).
                delay = next(delays, None)
                if delay is None:
                    raise ServerUnreachable(f"Cannot reach the PhoneGate server at {self.server} ({exc.__class__.__name__}); "
                                            "check PHONEGATE_SERVER and that the server is running, then run again.") from None
                log.info("server unreachable (%s), retrying in %.1f s", exc.__class__.__name__, delay)
                self._sleep(delay)
                continue
            if response.status_code >= 500:
                delay = next(delays, None)
                if delay is not None and method == "GET":
                    response.close()
                    self._sleep(delay)
                    continue
            if response.status_code >= 400:
                raise _error_for(response, self.server)
            return response


def _error_for(response: requests.Response, server: str) -> PhoneGateError:
    status = response.status_code
    message, errors, code = None, None, None
    try:
        body = response.json()
        if isinstance(body, dict):
            message = body.get("message")
            errors = body.get("errors") if isinstance(body.get("errors"), dict) else None
            code = body.get("status") if isinstance(body.get("status"), str) else None
    except ValueError:
        pass
    finally:
        response.close()
    if errors and (not message or message in ("Bad Request", "Unprocessable Entity")):
        message = "; ".join(f"{field}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
                            for field, msgs in _flatten(errors).items())
    message = message or f"The server answered HTTP {status}."
    if status == 401:
        return ServerBadInput(f"The server did not accept PHONEGATE_TOKEN: {message}", status, errors, code)
    if status == 403:
        return ServerPolicyRefusal(message, status, errors, code)
    if status >= 500:
        return ServerUnreachable(f"The PhoneGate server at {server} failed (HTTP {status}): {message}", status, errors, code)
    return ServerBadInput(message, status, errors, code)


def _flatten(errors: dict, prefix: str = "") -> dict:
    flat: dict = {}
    for key, value in errors.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _path(value: str) -> str:
    return requests.utils.quote(value, safe="")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
