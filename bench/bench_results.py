"""Benchmark: storing sweep results, and the team compliance page with a year of history.

    .venv/bin/python bench/bench_results.py                      # SQLite in a temporary folder
    .venv/bin/python bench/bench_results.py --database postgresql+psycopg://postgres@127.0.0.1:5432/bench

1. Ingestion: one POST /api/v1/sweeps/<id>/results with 10,000 results (1,000 phones x 10 rules) through the
   whole stack in-process (token check, marshmallow validation, bulk INSERT ... ON CONFLICT DO NOTHING, commit),
   then the same batch again (all duplicates, as an outbox re-delivery), then finishing that sweep (server-side
   rules, per-rule and per-phone state of every enrolled phone, actions, daily summaries).
2. Team page: one team of 5,000 phones with 365 days of daily summaries (1.8 million rows) and ~15 rule states
   per phone, GET /compliance/teams/<id> as its manager (counts, failing list, trend SVG): median of N requests.
The database is built through the real migrations; a PostgreSQL database given with --database is wiped first.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RULES = ("identity", "min_android_version", "security_patch_max_age_days", "storage_encrypted", "secure_lock_screen",
         "not_rooted", "verified_boot_green", "bootloader_locked", "no_test_keys", "unknown_sources_disallowed",
         "disallowed_apps", "approved_app_state", "media_retention", "acknowledgement_current", "training_current")
PASSWORD = "bench password that is long enough"


def build_app(database: str | None, workdir: Path):
    import flask_migrate
    from sqlalchemy import create_engine, text

    from server import create_app

    url = database or f"sqlite:///{workdir / 'bench.sqlite3'}"
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app({"PHONEGATE_DATABASE_URL": url, "PHONEGATE_INSTANCE": str(workdir / "instance"),
                      "PHONEGATE_SECRET_KEY": "b" * 64, "WTF_CSRF_ENABLED": False})
    with app.app_context():
        flask_migrate.upgrade(directory=app.extensions["migrate"].directory)
    return app


def chunks(rows, size=5000):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def seed(app, phones: int, days: int):
    """A service, one team with `phones` provisioned phones, a manager, an agent token, and `days` of history."""
    from sqlalchemy import insert, text

    from server.extensions import db
    from server.models import ComplianceDaily, Device, DeviceRuleState
    from server.services import org, people, tokens
    from server.services.actor import Actor

    rng = random.Random(5)
    with app.app_context():
        actor = Actor.system()
        service = org.add_service(db.session, "Rights and Participation", actor)
        team = org.add_team(db.session, "Participation Team", service, actor)
        people.add_user(db.session, "manager@bench.example", "manager", actor, team=team, password=PASSWORD)
        it = people.add_user(db.session, "it@bench.example", "it", actor)
        token, _ = tokens.create_token(db.session, it, "agent", actor)
        db.session.commit()
        now = datetime.now(timezone.utc)
        states = ["compliant"] * 85 + ["in_grace"] * 7 + ["non_compliant"] * 5 + ["unknown"] * 3
        device_rows = [{"serial": f"BENCH{i:05d}", "model": "Pixel 8", "role": "broadcast", "state": "provisioned",
                        "team_id": team.id, "service_id": service.id, "adb_endpoint": f"10.0.{i // 250}.{i % 250}:5555",
                        "compliance_state": rng.choice(states), "created_at": now, "updated_at": now, "last_seen_at": now}
                       for i in range(phones)]
        for chunk in chunks(device_rows):
            db.session.execute(insert(Device), chunk)
        ids = [row[0] for row in db.session.execute(db.select(Device.id, Device.compliance_state).order_by(Device.id))]
        state_rows = []
        for device_id in ids:
            for rule in RULES:
                failing = rng.random() < 0.01
                since = now - timedelta(days=rng.randint(1, 60)) if failing else None
                state_rows.append({"device_id": device_id, "rule": rule, "last_outcome": "fail" if failing else "pass",
                                   "severity": "high", "observed": "bench", "failing_since": since,
                                   "grace_until": since + timedelta(days=14) if since else None, "last_checked_at": now})
        for chunk in chunks(state_rows):
            db.session.execute(insert(DeviceRuleState), chunk)
        today = date.today()
        daily = [{"device_id": device_id, "day": today - timedelta(days=offset), "team_id": team.id, "state": rng.choice(states),
                  "failing_rules": ""} for offset in range(days) for device_id in ids]
        for chunk in chunks(daily, 20000):
            db.session.execute(insert(ComplianceDaily), chunk)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # Statistics and visibility map, as autovacuum keeps them on a live server (a bulk load has neither yet).
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))
        return team.id, token, len(daily), len(state_rows)


def bench_ingest(app, token: str, results: int) -> tuple[float, float]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    sweep_id = str(uuid.uuid4())
    assert client.post("/api/v1/sweeps", json={"sweep_id": sweep_id, "source": "cli"}, headers=headers).status_code == 201
    checked = datetime.now(timezone.utc).isoformat()
    per_phone = 10
    batch = [{"serial": f"BENCH{i // per_phone:05d}", "rule": RULES[i % per_phone], "outcome": "pass" if i % 7 else "fail",
              "severity": "high", "observed": "bench observation", "evidence": {"value": i}, "checked_at": checked}
             for i in range(results)]
    sightings = [{"serial": f"BENCH{i:05d}", "facts_summary": {"sdk": 34}, "seen_at": checked} for i in range(results // per_phone)]
    body = {"results": batch, "devices": sightings}
    started = time.perf_counter()
    response = client.post(f"/api/v1/sweeps/{sweep_id}/results", json=body, headers=headers)
    first = time.perf_counter() - started
    assert response.status_code == 200 and response.get_json()["stored"] == results, response.get_json()
    started = time.perf_counter()
    response = client.post(f"/api/v1/sweeps/{sweep_id}/results", json=body, headers=headers)
    again = time.perf_counter() - started
    assert response.get_json() == {"stored": 0, "duplicates": results, "unknown_serials": []}
    started = time.perf_counter()
    response = client.post(f"/api/v1/sweeps/{sweep_id}/finish", json={}, headers=headers)
    finish = time.perf_counter() - started
    assert response.status_code == 200, response.get_json()
    return first, again, finish


def bench_team_page(app, team_id: int, rounds: int) -> list[float]:
    client = app.test_client()
    response = client.post("/login", data={"email": "manager@bench.example", "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    timings = []
    for _ in range(rounds + 1):
        started = time.perf_counter()
        response = client.get(f"/compliance/teams/{team_id}")
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200 and "<svg" in response.get_data(as_text=True)
    return timings[1:]  # the first request warms Jinja's template cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a temporary SQLite file)")
    parser.add_argument("--phones", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--results", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(args.database, Path(folder))
        started = time.perf_counter()
        team_id, token, daily_rows, state_rows = seed(app, args.phones, args.days)
        print(f"seeded {args.phones} phones, {state_rows} rule states, {daily_rows} daily rows "
              f"in {time.perf_counter() - started:.1f} s ({app.config['PHONEGATE'].database_url.split(':')[0]})")
        first, again, finish = bench_ingest(app, token, args.results)
        print(f"ingest {args.results} results: {first:.3f} s; same batch again (all duplicates): {again:.3f} s; "
              f"finish (states of {args.phones} phones, actions, daily summaries): {finish:.3f} s")
        timings = bench_team_page(app, team_id, args.rounds)
        print(f"team page ({args.phones} phones, {args.days} days): median {statistics.median(timings) * 1000:.0f} ms, "
              f"max {max(timings) * 1000:.0f} ms over {len(timings)} requests "
              f"({', '.join(f'{t * 1000:.0f}' for t in timings)})")


if __name__ == "__main__":
    main()
