"""Benchmark: a compliance sweep of 1,000 simulated phones, results stored in the real server.

    .venv/bin/python bench/bench_sweep.py                                   # SQLite only
    .venv/bin/python bench/bench_sweep.py --database sqlite \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/bench_sweep --celery redis://127.0.0.1:6379/14

What runs, each part in its own process (as in production, and so they do not share one interpreter lock):
- `phonegate simulate -n 1000 --latency-ms 20`: phones cycling through the five shipped profiles, every packet a
  phone sends delayed by 20 ms (round trips of a busy Wi-Fi network);
- `phonegate serve --no-scheduler` on a freshly migrated database holding the 1,000 phones (endpoints, site);
- the sweep: `device_agent.sweep.run_sweep` in this process (the code behind `phonegate sweep`), every rule of
  the packaged default policy on, results posted in batches of 200, then the sweep finished (phone states,
  server-side rules, actions);
- with --celery: the same fleet swept again by two real `celery worker` processes sharing the site through
  claims (Redis broker), timed from enqueueing until every result is stored, then finished.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHONEGATE = [sys.executable, "-m", "phonegate.cli"]
SITE = "bench"


def start_simulator(workdir: Path, phones: int, latency_ms: float):
    from device_agent.adb import AdbKey

    key = AdbKey.create(workdir / "adbkey")
    keys = workdir / "adb_keys"
    keys.write_text(key.public_line + "\n")
    command = [*PHONEGATE, "simulate", "-n", str(phones), "--port", "0", "--latency-ms", str(latency_ms),
               "--authorized-keys", str(keys)]
    for profile in ("google-pixel-9", "samsung-galaxy-s24", "motorola-moto-g6", "rooted-oneplus", "samsung-galaxy-a12-outdated"):
        command += ["--profile", profile]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    fleet = []
    assert process.stdout is not None
    for _ in range(phones):
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the simulator stopped before all phones were up")
        serial, endpoint = line.split()
        fleet.append((serial, endpoint))
    return process, key, fleet


def prepare_database(url: str, workdir: Path, fleet: list[tuple[str, str]]) -> str:
    """Migrate, add the phones and an agent token; return the token."""
    import flask_migrate
    from sqlalchemy import create_engine, insert, text

    from server import create_app
    from server.extensions import db
    from server.models import Device
    from server.services import people, tokens
    from server.services.actor import Actor

    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app({"PHONEGATE_DATABASE_URL": url, "PHONEGATE_INSTANCE": str(workdir / "instance"), "PHONEGATE_SECRET_KEY": "s" * 64})
    with app.app_context():
        flask_migrate.upgrade(directory=app.extensions["migrate"].directory)
        actor = Actor.system()
        it = people.add_user(db.session, "it@bench.example", "it", actor)
        token, _ = tokens.create_token(db.session, it, "agent", actor)
        states = ["approved", "registered", "approved", "pending_approval"]
        rows = [{"serial": serial, "adb_endpoint": endpoint, "site": SITE, "state": states[i % len(states)],
                 "role": "broadcast" if i % 10 == 0 else "individual"} for i, (serial, endpoint) in enumerate(fleet)]
        db.session.execute(insert(Device), rows)
        db.session.commit()
        db.engine.dispose()
    return token


def start_server(url: str, workdir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "PHONEGATE_DATABASE_URL": url, "PHONEGATE_INSTANCE": str(workdir / "instance"),
           "PHONEGATE_SECRET_KEY": "s" * 64, "PHONEGATE_DEMO_PHONES": "0"}
    process = subprocess.Popen([*PHONEGATE, "serve", "--no-scheduler", "--port", str(port), "--threads", "8"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    import requests

    for _ in range(200):
        try:
            requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1)
            return process
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def stored_results(url: str, sweep_id: str, device_rules_only: bool = False) -> int:
    """Result rows of a sweep; device_rules_only leaves out the server's own rules (stored when a sweep finishes)."""
    from sqlalchemy import create_engine, text

    from server.services.compliance.server_rules import SERVER_RULES

    engine = create_engine(url)
    query = "SELECT count(*) FROM compliance_results WHERE sweep_id = :s"
    if device_rules_only:
        query += " AND rule NOT IN (" + ", ".join(f"'{rule}'" for rule in SERVER_RULES) + ")"
    with engine.connect() as conn:
        count = conn.execute(text(query), {"s": sweep_id}).scalar_one()
    engine.dispose()
    return int(count)


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) a process has used so far: /proc/<pid>/stat, all threads."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cli_sweep(server_url: str, token: str, key, workdir: Path, concurrency: int, batch_results: int = 200) -> tuple[float, str, dict]:
    from device_agent.outbox import Outbox
    from device_agent.sweep import SweepOptions, run_sweep
    from device_agent.sweep_api import ComplianceApi

    api = ComplianceApi.from_environment(server_url, token, timeout_s=120)
    marks: dict[str, float] = {}
    real_finish = api.finish

    def timed_finish(sweep_id: str) -> dict:
        marks["finish_started"] = time.perf_counter()
        return real_finish(sweep_id)

    api.finish = timed_finish  # type: ignore[method-assign]  # to report the finish on its own
    started = time.perf_counter()
    outcome = run_sweep(api, Outbox(workdir / "outbox"), SweepOptions(key=key, concurrency=concurrency, timeout_per_phone_s=60,
                                                                       batch_results=batch_results),
                        on_plan=lambda plan: marks.setdefault("planned", time.perf_counter()),
                        on_phone=lambda report: marks.__setitem__("checked", time.perf_counter()))
    elapsed = time.perf_counter() - started
    errors = sum(1 for r in outcome.reports if r.error)
    summary = {"phones": len(outcome.reports), "unreadable": errors, "non_compliant": len(outcome.non_compliant),
               "outbox_waiting": outcome.outbox_waiting,
               # where the wall time went: plan (create sweep), phones (connect/collect/check, uploads beside it),
               # then the last uploads, then the finish (states for every phone, server rules, actions)
               "phases_s": {"plan": round(marks["planned"] - started, 2), "phones": round(marks["checked"] - marks["planned"], 2),
                            "last_uploads": round(marks.get("finish_started", started + elapsed) - marks["checked"], 2),
                            "finish": round(started + elapsed - marks.get("finish_started", started + elapsed), 2)}}
    return elapsed, outcome.plan.sweep_id, summary


def celery_sweep(server_url: str, token: str, key, workdir: Path, broker: str, concurrency: int, expected: int, db_url: str) -> float:
    from device_agent.sweep_api import ComplianceApi
    from device_agent.tasks import enqueue_site, make_celery, queue_for

    env = {**os.environ, "PHONEGATE_BROKER_URL": broker, "PHONEGATE_SERVER": server_url, "PHONEGATE_TOKEN": token,
           "PHONEGATE_ADB_KEY": str(key.path), "PHONEGATE_INSTANCE": str(workdir / "worker"),
           "PHONEGATE_SWEEP_CONCURRENCY": str(concurrency), "PHONEGATE_SWEEP_TIMEOUT_S": "60"}
    queue = f"{queue_for(SITE)}"
    app = make_celery(broker)
    app.control.purge()
    workers = [subprocess.Popen([sys.executable, "-m", "celery", "-A", "device_agent.tasks", "worker", "-Q", queue,
                                 "--pool=solo", "-n", f"bench{i}@%h", "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT) for i in (1, 2)]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=1.0) or []
            if len(replies) >= 2:
                break
        api = ComplianceApi.from_environment(server_url, token, timeout_s=120)
        sweep_id = str(uuid.uuid4())
        api.start_sweep(sweep_id, "scheduler")
        started = time.perf_counter()
        enqueue_site(sweep_id, SITE, copies=2, app=app)
        while stored_results(db_url, sweep_id, device_rules_only=True) < expected:
            if time.perf_counter() - started > 600:
                raise SystemExit("the Celery sweep did not finish within 10 minutes")
            time.sleep(0.2)
        api.finish(sweep_id)
        return time.perf_counter() - started  # enqueue -> every device result stored -> sweep finished
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phones", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=200, help="phones checked at once by the CLI sweep")
    parser.add_argument("--batch-results", type=int, default=200, help="results per POST")
    parser.add_argument("--database", action="append", help="'sqlite' or a PostgreSQL URL (repeat); default sqlite")
    parser.add_argument("--celery", metavar="BROKER_URL", help="also sweep through two Celery workers on this Redis")
    args = parser.parse_args()

    import socket

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        workdir = Path(tmp)
        simulator, key, fleet = start_simulator(workdir, args.phones, args.latency_ms)
        try:
            for index, database in enumerate(args.database or ["sqlite"]):
                dbdir = workdir / f"db{index}"
                dbdir.mkdir()
                url = f"sqlite:///{dbdir / 'bench.sqlite3'}" if database == "sqlite" else database
                label = "SQLite" if database == "sqlite" else "PostgreSQL"
                token = prepare_database(url, dbdir, fleet)
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", 0))
                    port = sock.getsockname()[1]
                server = start_server(url, dbdir, port)
                try:
                    server_url = f"http://127.0.0.1:{port}"
                    before = (cpu_s(), cpu_s(simulator.pid), cpu_s(server.pid))
                    elapsed, sweep_id, summary = cli_sweep(server_url, token, key, dbdir, args.concurrency, args.batch_results)
                    used = [after - start for after, start in zip((cpu_s(), cpu_s(simulator.pid), cpu_s(server.pid)), before)]
                    summary["cpu_s"] = {"sweep": round(used[0], 1), "phones": round(used[1], 1), "server": round(used[2], 1)}
                    summary["load_average"] = round(os.getloadavg()[0], 1)
                    stored = stored_results(url, sweep_id)
                    rows.append((label, "CLI sweep (one process)", elapsed, args.phones / elapsed, stored, summary))
                    print(f"{label}: CLI sweep {elapsed:.2f} s, {args.phones / elapsed:.0f} phones/s, {stored} results stored, {summary}", flush=True)
                    if args.celery:
                        load = os.getloadavg()[0]
                        device_rows = stored_results(url, sweep_id, device_rules_only=True)
                        c_elapsed = celery_sweep(server_url, token, key, dbdir, args.celery, max(1, args.concurrency // 2), device_rows, url)
                        rows.append((label, "Celery, 2 workers", c_elapsed, args.phones / c_elapsed, stored,
                                     {"load_average": round(max(load, os.getloadavg()[0]), 1)}))
                        print(f"{label}: Celery 2 workers {c_elapsed:.2f} s, {args.phones / c_elapsed:.0f} phones/s", flush=True)
                finally:
                    server.terminate()
                    server.wait(timeout=30)
        finally:
            simulator.terminate()
            simulator.wait(timeout=30)
    print()
    print("| database | path | wall time (s) | phones/s | results stored | CPU s (sweep / phones / server) | load avg |")
    print("|---|---|---|---|---|---|---|")
    for label, path, elapsed, rate, stored, info in rows:
        cpu = info.get("cpu_s")
        cpu_text = f"{cpu['sweep']} / {cpu['phones']} / {cpu['server']}" if cpu else "-"
        print(f"| {label} | {path} | {elapsed:.2f} | {rate:.0f} | {stored} | {cpu_text} | {info.get('load_average', '-')} |")


if __name__ == "__main__":
    main()
