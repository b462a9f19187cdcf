"""What the council's IT runs PhoneGate with: a health check for the load balancer and Prometheus metrics.

/healthz   no log-in. 200 {"status": "ok"} when the database answers and its schema is at the migrations' head,
           else 503 with which of the two failed ("database": "unreachable", "migrations": "behind"), nothing more.
/metrics   Prometheus text format (prometheus-client). With PHONEGATE_METRICS_TOKEN set, it needs
           `Authorization: Bearer <that token>` from anywhere; unset, it is served only to a loopback client
           whose request came through no proxy (a request carrying X-Forwarded-For is refused).

Metrics hold counts and names of endpoints, states and audit actions: never an address, e-mail, name or serial.
Requests are counted by endpoint (the route's name, not the path) and status; refusals are the audit entries
this process wrote whose action says refused or failed; phones by state, sweeps and the last sweep's end are
read from the database at each scrape; the agent outbox's waiting batches when the composition tells us how
to count them (`count_outbox_with`).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, Flask, Response, current_app, g, has_app_context, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import event, func, select, text

from server.extensions import csrf, db
from server.models import AuditEntry, Device, Sweep

log = logging.getLogger("phonegate.requests")

operations_bp = Blueprint("operations", __name__)
EXTENSION = "phonegate.metrics"
_REFUSAL = re.compile(r"(refused|_failed)$")


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    durations: Histogram
    refusals: Counter
    outbox_count: list[Callable[[], int]] = field(default_factory=list)
    schema_heads: tuple[str, ...] | None = None


def init_app(app: Flask) -> None:
    registry = CollectorRegistry(auto_describe=True)  # one per app: tests build many apps in one process
    metrics = Metrics(
        registry=registry,
        requests=Counter("phonegate_http_requests", "HTTP requests answered, by endpoint and status.",
                         ["endpoint", "method", "status"], registry=registry),
        durations=Histogram("phonegate_http_request_duration_seconds", "Time to answer, by endpoint.",
                            ["endpoint"], registry=registry),
        refusals=Counter("phonegate_refusals", "Refusals and failed log-ins written to the audit log by this "
                         "process, by audit action.", ["action"], registry=registry),
    )
    registry.register(_DatabaseCollector(app, metrics))
    app.extensions[EXTENSION] = metrics
    app.before_request(_start_timer)
    app.after_request(_count_request)
    csrf.exempt(operations_bp)
    app.register_blueprint(operations_bp)
    if not event.contains(AuditEntry, "after_insert", _count_refusal):
        event.listen(AuditEntry, "after_insert", _count_refusal)


def count_outbox_with(app: Flask, counter: Callable[[], int]) -> None:
    """Let /metrics report the agent outbox's waiting batches (the outbox belongs to the agent, not the server)."""
    app.extensions[EXTENSION].outbox_count[:] = [counter]


def _start_timer() -> None:
    g._request_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    metrics: Metrics = current_app.extensions[EXTENSION]
    endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
    metrics.requests.labels(endpoint, request.method if request.method in _METHODS else "other",
                            str(response.status_code)).inc()
    started = g.get("_request_started")
    if started is not None:
        elapsed = time.perf_counter() - started
        metrics.durations.labels(endpoint).observe(elapsed)
        # The route's name, never the path or query (they can carry search terms); no client address.
        log.info("%s %s %d %.0f ms", request.method, endpoint, response.status_code, elapsed * 1000,
                 extra={"endpoint": endpoint, "method": request.method, "status": response.status_code,
                        "duration_ms": round(elapsed * 1000, 1)})
    return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _count_refusal(_mapper, _connection, entry: AuditEntry) -> None:
    if not has_app_context() or EXTENSION not in current_app.extensions:
        return
    if entry.action and _REFUSAL.search(entry.action):
        current_app.extensions[EXTENSION].refusals.labels(entry.action).inc()


class _DatabaseCollector:
    """Read at each scrape: a few GROUP BY counts on small tables (devices, sweeps)."""

    def __init__(self, app: Flask, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    def describe(self):
        return []

    def collect(self):
        with self.app.app_context():
            try:
                phones = db.session.execute(select(Device.state, func.count()).group_by(Device.state)).all()
                compliance = db.session.execute(
                    select(Device.compliance_state, func.count()).group_by(Device.compliance_state)).all()
                sweeps = db.session.scalar(select(func.count()).select_from(Sweep)) or 0
                unfinished = db.session.scalar(select(func.count()).select_from(Sweep).where(
                    Sweep.finished_at.is_(None))) or 0
                last_end = db.session.scalar(select(func.max(Sweep.finished_at)))
            except Exception:  # a scrape must not fail because the database is down: /healthz says that
                db.session.rollback()
                log.warning("metrics: the database could not be read")
                return
            finally:
                db.session.remove()
        by_state = GaugeMetricFamily("phonegate_phones", "Phones by lifecycle state.", labels=["state"])
        for state, count in phones:
            by_state.add_metric([state], count)
        yield by_state
        by_compliance = GaugeMetricFamily("phonegate_phones_compliance", "Phones by compliance state.",
                                          labels=["compliance_state"])
        for state, count in compliance:
            by_compliance.add_metric([state], count)
        yield by_compliance
        yield CounterMetricFamily("phonegate_sweeps", "Compliance sweeps started (all time).", value=sweeps)
        yield GaugeMetricFamily("phonegate_sweeps_unfinished", "Sweeps started and not finished.", value=unfinished)
        if last_end is not None:
            yield GaugeMetricFamily("phonegate_last_sweep_finished_timestamp_seconds",
                                    "When the last sweep finished (Unix time).", value=last_end.timestamp())
        for counter in self.metrics.outbox_count:
            try:
                waiting = counter()
            except OSError:
                continue
            yield GaugeMetricFamily("phonegate_outbox_waiting_batches",
                                    "Sweep result batches waiting in the agent outbox for the server.", value=waiting)


# ------------------------------------------------------------------------------------------------- endpoints


@operations_bp.get("/healthz")
def healthz():
    database, migrations = "ok", "current"
    try:
        with db.engine.connect() as connection:
            revisions = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
    except Exception:  # whatever the driver raises: the answer is "unreachable", never the error's text
        database, migrations = "unreachable", "unknown"
        revisions = set()
    if database == "ok" and revisions != set(_schema_heads()):
        migrations = "behind"
    healthy = database == "ok" and migrations == "current"
    body = {"status": "ok"} if healthy else {"status": "unavailable", "database": database, "migrations": migrations}
    response = jsonify(body)
    response.status_code = 200 if healthy else 503
    return response


def _schema_heads() -> tuple[str, ...]:
    metrics: Metrics = current_app.extensions[EXTENSION]
    if metrics.schema_heads is None:
        from alembic.script import ScriptDirectory

        metrics.schema_heads = tuple(ScriptDirectory(current_app.extensions["migrate"].directory).get_heads())
    return metrics.schema_heads


@operations_bp.get("/metrics")
def metrics():
    if not _may_read_metrics():
        response = jsonify({"code": 403, "status": "Forbidden", "error": "forbidden", "errors": {},
                            "message": "Metrics are served to loopback, or with the metrics token."})
        response.status_code = 403
        return response
    body = generate_latest(current_app.extensions[EXTENSION].registry)
    return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})


def _may_read_metrics() -> bool:
    token = current_app.config["PHONEGATE"].metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())
    if "X-Forwarded-For" in request.headers and not current_app.config["PHONEGATE"].trust_proxy:
        return False  # came through a proxy we were not told about: the loopback address is the proxy's
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
