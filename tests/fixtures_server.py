"""Fixtures for the server: app per test, databases (SQLite and PostgreSQL), clients, tokens.

    db_url       "sqlite" always; "postgresql" too when PHONEGATE_TEST_POSTGRES_URL is set (with
                 PHONEGATE_TEST_REQUIRE_SERVICES=1 and no URL, the postgresql case fails instead of skipping).
                 Each database is migrated ONCE per session through the real Alembic migrations; every test
                 then starts from empty tables (DELETE on SQLite, TRUNCATE ... RESTART IDENTITY on PostgreSQL).
    app          a fresh app on that database with an app context pushed for the test body, so tests can use
                 `db.session` directly. Requests from `client` run in their own app context (own session, own g)
                 and the test's session is expired after each one, so it re-reads what the request changed.
    client       Flask test client.
    runner       runs `phonegate ...` in-process against the same database: runner.invoke(["user", "add", ...],
                 input="...") -> result with .exit_code, .stdout, .stderr.
    factory      factory.service(), .team(), .user(role, team=None, password=None), .staff(team, training=date),
                 .device(**kw), .policy(label), .token(user, scope) -> (plaintext, ApiToken). Each commits.
    live_server  the real WSGI server (waitress) in a thread on a free 127.0.0.1 port, same app, same database:
                 .url ("http://127.0.0.1:PORT"), .app. After calling it, `db.session.expire_all()` before reading.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

POSTGRES_ENV = "PHONEGATE_TEST_POSTGRES_URL"
REQUIRE_ENV = "PHONEGATE_TEST_REQUIRE_SERVICES"
TEST_PASSWORD = "correct horse battery staple"


def services_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false", "no")


def _database_params() -> list[Any]:
    params: list[Any] = ["sqlite"]
    if os.environ.get(POSTGRES_ENV) or services_required():
        params.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    return params


# --------------------------------------------------------------------------------------------- databases


def worker_database(url: str) -> str:
    """With pytest-xdist (`make test` runs several workers) each worker gets its own PostgreSQL database beside
    the one named in PHONEGATE_TEST_POSTGRES_URL (<name>_gw0, <name>_gw1, ...), created on first use, since
    every test empties the tables it finds."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:
        return url
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    admin = create_engine(parsed.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


class MigratedDatabase:
    """One database, migrated once per session, emptied before every test."""

    def __init__(self, url: str, instance: Path) -> None:
        self.url = url
        self.instance = instance
        self.is_postgres = url.startswith("postgresql")
        self.engine = create_engine(url, poolclass=NullPool)
        self.tables: list[str] = []
        self.sequences: list[str] = []

    def migrate(self) -> None:
        if self.is_postgres:
            # A reused local test database may hold an older schema: start from nothing, like CI does.
            with self.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        import flask_migrate

        from server import create_app

        app = create_app({"TESTING": True, "PHONEGATE_DATABASE_URL": self.url,
                          "PHONEGATE_INSTANCE": str(self.instance)})
        with app.app_context():
            flask_migrate.upgrade(directory=app.extensions["migrate"].directory)
            from server.extensions import db

            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
        inspector = inspect(self.engine)
        ordered = [name for name, _ in inspector.get_sorted_table_and_fkc_names() if name and name != "alembic_version"]
        self.tables = list(reversed(ordered))  # children before parents
        if self.is_postgres:
            with self.engine.connect() as conn:
                self.sequences = list(conn.scalars(text(
                    "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'")))

    def empty(self) -> None:
        if not self.tables:
            return
        if self.is_postgres:
            # DELETE + resetting the sequences does what TRUNCATE ... RESTART IDENTITY does, ten times faster
            # on small tables (TRUNCATE replaces every table's files).
            with self.engine.begin() as conn:
                # A test that leaked an open transaction would make this wait forever; fail instead.
                conn.execute(text("SET LOCAL lock_timeout = '15s'"))
                conn.execute(text("; ".join(f'DELETE FROM "{name}"' for name in self.tables)))
                if self.sequences:
                    conn.execute(text("SELECT " + ", ".join(f"setval('\"{seq}\"', 1, false)" for seq in self.sequences)))
        else:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                for name in self.tables:
                    conn.exec_driver_sql(f'DELETE FROM "{name}"')
                conn.commit()


@pytest.fixture(scope="session")
def _databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, MigratedDatabase]]:
    created: dict[str, MigratedDatabase] = {}
    yield created
    for database in created.values():
        database.engine.dispose()


@pytest.fixture(params=_database_params())
def db_url(request: pytest.FixtureRequest, _databases: dict[str, MigratedDatabase],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for this test; the fixture's value is its SQLAlchemy URL."""
    kind = request.param
    if kind not in _databases:
        base = tmp_path_factory.mktemp(f"db-{kind}")
        if kind == "sqlite":
            url = f"sqlite:///{base / 'phonegate-test.sqlite3'}"
        else:
            url = os.environ.get(POSTGRES_ENV, "")
            if not url:
                pytest.fail(f"{REQUIRE_ENV}=1 but {POSTGRES_ENV} is not set: PostgreSQL tests cannot run.")
            url = worker_database(url)
        database = MigratedDatabase(url, base / "instance")
        database.migrate()
        _databases[kind] = database
    database = _databases[kind]
    database.empty()
    yield database.url


# --------------------------------------------------------------------------------------------- app and clients


class FreshContextClient(FlaskClient):
    """Each request gets its own app context (own db.session and g), as in production; afterwards the test's
    own session is expired so that it sees what the request committed."""

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        _expire_test_session()
        return response


def _expire_test_session() -> None:
    from flask import has_app_context

    from server.extensions import db

    if has_app_context():
        db.session.expire_all()


def _dispose(app: Flask) -> None:
    from server.extensions import db

    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    from server import create_app
    from server.extensions import db

    app = create_app({"TESTING": True, "PHONEGATE_DATABASE_URL": db_url,
                      "PHONEGATE_INSTANCE": str(tmp_path / "instance")})
    app.test_client_class = FreshContextClient
    context = app.app_context()
    context.push()
    try:
        yield app
    finally:
        db.session.remove()
        context.pop()
        _dispose(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class PhoneGateRunner:
    """Runs the real console-script entry point (phonegate.cli.main) in-process with this app's environment."""

    def __init__(self, app: Flask) -> None:
        settings = app.config["PHONEGATE"]
        self.env = {"PHONEGATE_DATABASE_URL": settings.database_url,
                    "PHONEGATE_INSTANCE": str(settings.instance_path)}

    def invoke(self, args: list[str], input: str | None = None, env: dict[str, str] | None = None) -> CommandResult:
        from phonegate.cli import main

        runner = CliRunner()
        with runner.isolation(input=input, env={**self.env, **(env or {})}) as (out, err, _):
            code = main(list(args))
            stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
        _expire_test_session()
        return CommandResult(code, stdout, stderr)


@pytest.fixture
def runner(app: Flask) -> PhoneGateRunner:
    return PhoneGateRunner(app)


# --------------------------------------------------------------------------------------------- factory


class Factory:
    """Builds committed test data through the real services (so the audit chain stays valid)."""

    _numbers = itertools.count(1)

    def __init__(self, app: Flask) -> None:
        self.app = app

    def _n(self) -> int:
        return next(self._numbers)

    @property
    def session(self):
        from server.extensions import db

        return db.session

    @property
    def actor(self):
        from server.services.actor import Actor

        return Actor.system()

    def service(self, name: str | None = None):
        from server.services import org

        service = org.add_service(self.session, name or f"Service {self._n()}", self.actor)
        self.session.commit()
        return service

    def team(self, name: str | None = None, service=None):
        from server.services import org

        service = service or self.service()
        team = org.add_team(self.session, name or f"Team {self._n()}", service, self.actor)
        self.session.commit()
        return team

    def user(self, role: str = "it", team=None, password: str | None = None, email: str | None = None,
             must_change_password: bool = False):
        from server.services import people

        if role == "manager" and team is None:
            team = self.team()
        user = people.add_user(self.session, email or f"user{self._n()}@example.test", role, self.actor,
                               team=team, password=password, must_change_password=must_change_password)
        self.session.commit()
        return user

    def staff(self, team=None, training: date | None = None, email: str | None = None, name: str | None = None):
        """A staff member whose training was completed 30 days ago unless `training` says otherwise
        (use staff_untrained() for one with no training recorded)."""
        from server.services import people

        n = self._n()
        staff = people.add_staff(self.session, email or f"staff{n}@example.test", name or f"Staff Member {n}",
                                 team or self.team(), self.actor,
                                 training_completed_on=training or date.today() - timedelta(days=30))
        self.session.commit()
        return staff

    def staff_untrained(self, team=None):
        from server.services import people

        n = self._n()
        staff = people.add_staff(self.session, f"staff{n}@example.test", f"Staff Member {n}", team or self.team(),
                                 self.actor)
        self.session.commit()
        return staff

    def device(self, **kw: Any):
        """A registered device; other fields in kw (state, role, team, service, staff_member, ...) are set
        directly, bypassing the lifecycle, to build test situations quickly."""
        from server.services import devices

        registration = {key: kw.pop(key) for key in list(kw) if key in devices.REGISTRATION_FIELDS}
        serial = kw.pop("serial", None) or f"TEST{self._n():06d}"
        device, _ = devices.register_device(self.session, {"serial": serial, **registration}, self.actor)
        for key, value in kw.items():
            setattr(device, key, getattr(value, "value", value))
        self.session.commit()
        return device

    def policy(self, label: str | None = None, text: str = "Acceptable use of WhatsApp on council phones.\n"):
        import hashlib

        from server.models import PolicyVersion
        from server.services import audit

        label = label or f"v{self._n()}"
        body = f"{text}\n(version {label})\n"
        policy = PolicyVersion(label=label, text=body, sha256=hashlib.sha256(body.encode()).hexdigest())
        self.session.add(policy)
        audit.record(self.session, self.actor, "policy.published", target=policy, details={"label": label})
        self.session.commit()
        return policy

    def token(self, user=None, scope: str = "provision"):
        from server.services import tokens

        user = user or self.user("it")
        plaintext, token = tokens.create_token(self.session, user, scope, self.actor)
        self.session.commit()
        return plaintext, token


@pytest.fixture
def factory(app: Flask) -> Factory:
    return Factory(app)


# --------------------------------------------------------------------------------------------- live server


@dataclass
class LiveServer:
    url: str
    app: Flask
    port: int


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    from waitress import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=8, ident="phonegate-test",
                           clear_untrusted_proxy_headers=True)
    port = server.effective_port
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", app=app, port=port)
    finally:
        def close_everything() -> None:  # runs in the server's own loop thread
            for channel in list(server._map.values()):
                try:
                    channel.close()
                except OSError:
                    pass

        server.trigger.pull_trigger(close_everything)
        thread.join(timeout=10)
        server.task_dispatcher.shutdown(timeout=10)
        _expire_test_session()
