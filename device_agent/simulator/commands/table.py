"""What every command family shares: a command's signature, the table families register into, and answers."""

from __future__ import annotations

from device_agent.simulator.shell import Command, Result


class CommandTable(dict[str, Command]):
    """Shell commands by name, plus the Android services that `cmd NAME ...` and `dumpsys NAME ...` reach.

    A family registers its services here so the `cmd` and `dumpsys` front-ends need not know every family;
    a service handler gets the arguments after the service's name.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cmd_services: dict[str, Command] = {}
        self.dumpsys_services: dict[str, Command] = {}


def ok(text: str) -> Result:
    return text.encode("utf-8"), b"", 0


def fail(text: str, code: int = 1) -> Result:
    return b"", text.encode("utf-8"), code


def no_such_service(name: str) -> Result:
    """What dumpsys prints (on stdout, exit 0) for a service it does not know."""
    return ok(f"Can't find service: {name}\n")
