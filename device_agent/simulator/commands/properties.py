"""`getprop`: one property (with an optional default), or every property as `[key]: [value]` lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from device_agent.simulator.commands.table import CommandTable, Result, ok

if TYPE_CHECKING:
    from device_agent.simulator.phone import VirtualPhone


def register(table: CommandTable, phone: VirtualPhone) -> None:
    def getprop(argv: list[str], stdin: bytes) -> Result:
        props = phone.properties
        if len(argv) > 1:
            return ok(props.get(argv[1], argv[2] if len(argv) > 2 else "") + "\n")
        return ok("".join(f"[{key}]: [{props[key]}]\n" for key in sorted(props)))

    table["getprop"] = getprop
