"""`settings get|put|list NAMESPACE ...` (also reached as `cmd settings ...`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from device_agent.simulator.commands.table import CommandTable, Result, fail, ok

if TYPE_CHECKING:
    from device_agent.simulator.phone import VirtualPhone

USAGE = ("usage:  settings [--user <USER_ID> | current] get namespace key\n"
         "        settings [--user <USER_ID> | current] list namespace\n")


def register(table: CommandTable, phone: VirtualPhone) -> None:
    def settings(argv: list[str], stdin: bytes) -> Result:
        args = [a for a in argv[1:] if not a.startswith("--user")]
        if len(args) >= 2 and args[0] == "list" and args[1] in phone.settings:
            values = phone.settings[args[1]]
            return ok("".join(f"{key}={values[key]}\n" for key in sorted(values)))
        if len(args) >= 3 and args[0] == "get" and args[1] in phone.settings:
            return ok(phone.settings[args[1]].get(args[2], "null") + "\n")
        if len(args) >= 4 and args[0] == "put" and args[1] in phone.settings:
            phone.settings[args[1]][args[2]] = args[3]
            return ok("")
        return fail(USAGE, 255)

    table["settings"] = settings
    table.cmd_services["settings"] = lambda args, stdin: settings(["settings", *args], stdin)
