"""`phonegate serve`: the production WSGI server (waitress) for the web pages and /api/v1, composed here.

This is the edge where the parts meet: the server app (server.create_app), the sweep scheduler (server.scheduling)
with the device agent as its in-process agent (device_agent.sweep.scheduler_agent: the server itself never
imports the agent), and the demo phones of the walkthrough (phonegate/demo.py).
"""

from __future__ import annotations

import logging
import signal
import threading

import click

from phonegate.core.errors import BadInput


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64), help="Worker threads.")
@click.option("--no-scheduler", is_flag=True, help="Do not run the embedded compliance-sweep scheduler.")
def serve(host: str, port: int, threads: int, no_scheduler: bool) -> None:
    """Serve PhoneGate until interrupted."""
    from sqlalchemy import inspect
    from waitress import create_server

    from server import create_app, log_format, operations
    from server.commands.first_admin import ensure_first_admin
    from server.extensions import db

    app = create_app()
    with app.app_context():
        if "alembic_version" not in inspect(db.engine).get_table_names():
            raise BadInput("The database has no tables yet: run `phonegate db upgrade` first.")
        ensure_first_admin()
        db.session.remove()
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="PhoneGate")
    except OSError as exc:
        raise BadInput(f"Cannot listen on {host}:{port} ({exc.strerror}).") from None
    own_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{server.effective_port}"
    scheduler = None if no_scheduler else _start_scheduler(app, own_url)
    demo_phones = _start_demo_phones(app)
    _count_outbox(app, operations)
    context = click.get_current_context(silent=True)
    if not (context and context.find_root().obj and context.find_root().obj.get("debug")):
        logging.getLogger().setLevel(app.config["PHONEGATE"].log_level)
    log_format.use_format(app.config["PHONEGATE"].log_format)
    logging.getLogger("waitress").setLevel(logging.WARNING)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (systemd, docker stop) ends the loop like Ctrl+C, so the finally below still runs.
        signal.signal(signal.SIGTERM, _raise_system_exit)
    click.echo(f"PhoneGate is serving on http://{host}:{server.effective_port}/ (Ctrl+C to stop)", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if scheduler is not None:
            scheduler.stop()
        if demo_phones is not None:
            demo_phones.stop()
        server.close()


def _raise_system_exit(_signum, _frame) -> None:
    raise SystemExit(0)


def _start_demo_phones(app):
    """Simulated phones for the walkthrough (PHONEGATE_DEMO_PHONES, default 3; 0 = none). See phonegate/demo.py."""
    from phonegate.demo import start_demo_phones

    demo = start_demo_phones(app.config["PHONEGATE"].demo_phones)
    for line in demo.lines() if demo else []:
        click.echo(line, err=True)
    return demo


def _count_outbox(app, operations) -> None:
    """/metrics reports the batches waiting in the embedded agent's outbox (the instance folder's)."""
    from device_agent.sweep import default_outbox

    outbox = default_outbox(app.config["PHONEGATE"].instance_path)
    operations.count_outbox_with(app, outbox.count)


def _start_scheduler(app, own_url: str):
    """The embedded sweep scheduler, with this process as its agent (unless PHONEGATE_BROKER_URL sends the sweeps
    to Celery workers near the phones)."""
    import os
    import socket

    from device_agent.sweep import scheduler_agent
    from server import scheduling

    agent = scheduler_agent(worker=f"scheduler:{socket.gethostname()}:{os.getpid()}")
    return scheduling.start(app, server_url=own_url, agent=agent)  # the agent calls this server's own API
