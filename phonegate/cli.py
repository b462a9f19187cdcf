"""The `phonegate` console script.

Subcommands live beside the code they drive (server/commands/, device_agent/cli.py, provisioning/cli.py) and are
imported only when used, so `phonegate simulate` does not pay for Flask and the three packages keep their one
direction of dependency. Errors become exit codes here and nowhere else.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from phonegate.core.errors import PhoneGateError
from phonegate.core.files import PRIVATE_UMASK
from phonegate.core.text import printable

# name -> ("module:attribute", one-line help shown by `phonegate --help` without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("phonegate.serve:serve", "Run the web pages and /api/v1 on a production WSGI server, with the sweep scheduler."),
    "db": ("server.commands.db:db", "Database migrations (db upgrade)."),
    "service": ("server.commands.org:service", "Manage services (service add NAME)."),
    "team": ("server.commands.org:team", "Manage teams (team add NAME --service NAME)."),
    "user": ("server.commands.people:user", "Manage people who log in (user add EMAIL --role ...)."),
    "staff": ("server.commands.people:staff", "Manage staff members who hold phones (staff add EMAIL ...)."),
    "token": ("server.commands.tokens:token", "Create API tokens for provisioning and agents (token create ...)."),
    "policy": ("server.commands.policy:policy", "Publish acceptable-use policy versions (policy publish FILE --version LABEL)."),
    "app": ("server.commands.catalogue:app", "Manage the approved-app catalogue (app add APK --role ...)."),
    "device": ("server.commands.devices:device",
               "Act on a phone (device retire|reinstate|report-lost SERIAL --reason TEXT; device mark-lab SERIAL --reason TEXT)."),
    "audit": ("server.commands.audit:audit", "Check the audit log's hash chain (audit verify)."),
    "simulate": ("device_agent.cli:simulate", "Run simulated phones that speak ADB over TCP."),
    "inspect": ("device_agent.cli:inspect", "Read phones' facts over ADB (--tcp, --serial, --usb); change nothing."),
    "sweep": ("device_agent.cli:sweep", "Run one compliance sweep now."),
    "provision": ("provisioning.cli:provision", "Enrol phones and, once approved, install the approved app."),
    "station": ("device_agent.station.cli:station", "Run a check-in station: phones plugged in are registered, given their app, or checked."),
    "spot-check": ("device_agent.spot_check_cli:spot_check", "Record a spot check's evidence from a plugged-in phone (facts, compliance, WhatsApp storage)."),
    "chat": ("phonegate.chat_cli:chat", "WhatsApp chat exports: find personal data (chat scan), make a transcript (chat transcript)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        target, _ = COMMANDS[cmd_name]
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """PhoneGate: WhatsApp on work phones only after the rules are accepted, and proof that phones still follow them."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    """Run one command; every error becomes one printable sentence on stderr and an exit code.

    Error sentences quote what they are about (a file name, an argument, a phone's or the server's words), all
    untrusted: each is made printable here, on its way to the terminal.
    """
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    umask = os.umask(PRIVATE_UMASK)  # whatever a command creates (database, keys, outbox...) is 0600 / 0700
    try:
        return _run(args, debug)
    finally:
        os.umask(umask)


def _run(args: list[str], debug: bool) -> int:
    try:
        result = cli.main(args=args, prog_name="phonegate", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.message = printable(exc.message)  # usage errors quote the arguments given
        exc.show()
        return 2
    except PhoneGateError as exc:
        if debug:
            logging.getLogger("phonegate").exception("failed")
        click.echo(printable(f"Error: {exc}"), err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 1
    except Exception as exc:  # the last line of defence: one sentence, never a traceback unless asked
        if debug:
            raise
        click.echo(printable(f"Unexpected error ({type(exc).__name__}): {exc}. Run with --debug for details."), err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
