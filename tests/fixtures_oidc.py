"""A real OpenID provider on loopback for the sign-in tests: node running tests/oidc_provider/provider.mjs
(the certified npm package oidc-provider). Never a mock.

    oidc_provider    start(redirect_uri, issuer=None, clock_offset_seconds=0, id_token_ttl_seconds=None) -> Provider;
                     each start is a new node process on a free port, stopped after the test. Provider:
                       .url, .client_id, .client_secret
                       .set_user(login, email=..., groups=[...], password=..., email_verified=True)
                       .configure(app, roles="GROUP=ROLE;...", **other settings) gives the app this provider
                       .browser_sign_in(client, login, start="/login/council") -> the callback path and query,
                         doing at the provider what a browser does (its log-in form, then the redirects)
    oidc_provider_for_module   the same start(), its processes kept for the test module
    OIDC_PASSWORD    the password every test user has at the provider
"""

from __future__ import annotations

import dataclasses
import json
import select
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

PROJECT = Path(__file__).resolve().parents[1]
PROVIDER_SCRIPT = PROJECT / "tests" / "oidc_provider" / "provider.mjs"
OIDC_PASSWORD = "provider password 1"
CLIENT_ID = "phonegate-test"
CLIENT_SECRET = "a client secret that is long enough"
START_TIMEOUT_S = 20


@dataclass
class Provider:
    url: str
    issuer: str
    users_file: Path
    process: subprocess.Popen
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    users: dict = field(default_factory=dict)

    def clear_users(self) -> None:
        self.users = {}
        self.users_file.write_text("{}", encoding="utf-8")

    def set_user(self, login: str, *, email: str, groups: list[str], password: str = OIDC_PASSWORD,
                 email_verified: bool = True, name: str = "Test Person") -> None:
        self.users[login] = {"password": password, "email": email, "groups": groups, "email_verified": email_verified,
                             "name": name}
        self.users_file.write_text(json.dumps(self.users), encoding="utf-8")

    def configure(self, app, roles: str, **changes) -> None:
        from server.web import oidc

        app.config["PHONEGATE"] = dataclasses.replace(
            app.config["PHONEGATE"], oidc_issuer=self.issuer, oidc_client_id=self.client_id,
            oidc_client_secret=self.client_secret, oidc_roles=roles, **changes)
        oidc.configure(app)

    def browser_sign_in(self, client, login: str, start: str = "/login/council", password: str = OIDC_PASSWORD) -> str:
        """Start at the app, sign in on the provider's form, follow the redirects back; returns the app's
        callback path with its query (not yet requested, so a test can tamper with the session first)."""
        started = client.get(start)
        assert started.status_code == 302, started.get_data(as_text=True)[:500]
        browser = requests.Session()
        location = started.headers["Location"]
        for _ in range(20):
            if not location.startswith(self.url):
                parts = urlsplit(location)
                return f"{parts.path}?{parts.query}"
            response = browser.get(location, allow_redirects=False, timeout=10)
            if response.status_code == 200 and 'name="login"' in response.text:
                action = urljoin(location, _form_action(response.text))
                response = browser.post(action, data={"login": login, "password": password},
                                        allow_redirects=False, timeout=10)
            assert response.status_code in (302, 303), f"provider answered {response.status_code}: {response.text[:300]}"
            location = urljoin(location, response.headers["Location"])
        raise AssertionError("the provider never sent the browser back to the app")


def _form_action(html: str) -> str:
    marker = 'action="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def _node() -> str:
    from fixtures_server import services_required

    node = shutil.which("node")
    module = PROJECT / "node_modules" / "oidc-provider"
    if node is None or not module.is_dir():
        message = "node or node_modules/oidc-provider is missing (npm install)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    return node


class _Launcher:
    """Starts provider processes in `folder` and stops them all at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.node = _node()
        self.started: list[Provider] = []

    def start(self, redirect_uri: str, *, issuer: str | None = None, clock_offset_seconds: int = 0,
              id_token_ttl_seconds: int | None = None) -> Provider:
        folder = self.folder / f"oidc-{len(self.started)}"
        folder.mkdir()
        users_file = folder / "users.json"
        users_file.write_text("{}", encoding="utf-8")
        config = {"clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [redirect_uri]}],
                  "users_file": str(users_file), "clock_offset_seconds": clock_offset_seconds,
                  "id_token_ttl_seconds": id_token_ttl_seconds}
        if issuer:
            config["issuer"] = issuer
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
        process = subprocess.Popen([self.node, str(PROVIDER_SCRIPT), str(folder / "config.json")], cwd=PROJECT,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
        line = process.stdout.readline() if ready else ""
        if not line:
            process.kill()
            process.wait()
            pytest.fail("the OpenID provider did not start (node tests/oidc_provider/provider.mjs)")
        url = json.loads(line)["url"]
        provider = Provider(url=url, issuer=issuer or url, users_file=users_file, process=process)
        self.started.append(provider)
        return provider

    def stop_all(self) -> None:
        for provider in self.started:
            provider.process.terminate()
            try:
                provider.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                provider.process.kill()
                provider.process.wait()
            provider.process.stdout.close()


@pytest.fixture
def oidc_provider(tmp_path):
    launcher = _Launcher(tmp_path)
    yield launcher.start
    launcher.stop_all()


@pytest.fixture(scope="module")
def oidc_provider_for_module(tmp_path_factory):
    """The same, kept for a whole test module (starting node costs a second or two): clear its users per test."""
    launcher = _Launcher(tmp_path_factory.mktemp("oidc"))
    yield launcher.start
    launcher.stop_all()
