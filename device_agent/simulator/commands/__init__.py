"""The commands of the simulated phone's shell (toybox and Android's tools, as far as PhoneGate and people use
them), one module per command family. build_commands() lets each family register its commands, and the Android
services it owns, into one CommandTable, which simulator.shell looks commands up in.

  properties        getprop
  settings          settings (and `cmd settings`)
  package_manager   pm, `cmd package`, `dumpsys package`
  system_services   the `cmd` and `dumpsys` front-ends; `dumpsys account` and `dumpsys lock_settings`
  files             ls, stat, find, cat, rm, mkdir, sha256sum
  utilities         echo, true, false, grep, head, date, sh, id, whoami, uname, sleep, which, command
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from device_agent.simulator.commands import files, package_manager, properties, settings, system_services, utilities
from device_agent.simulator.commands.table import Command, CommandTable, Result

if TYPE_CHECKING:
    from device_agent.simulator.phone import VirtualPhone

FAMILIES = (properties, settings, package_manager, system_services, files, utilities)

__all__ = ["Command", "CommandTable", "FAMILIES", "Result", "build_commands"]


def build_commands(phone: VirtualPhone) -> CommandTable:
    table = CommandTable()
    for family in FAMILIES:
        family.register(table, phone)
    return table
