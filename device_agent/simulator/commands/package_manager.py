"""The package manager's commands: `pm VERB ...`, `cmd package VERB ...` (the same verbs) and `dumpsys package NAME`.

Listing and dumps come from the phone's PackageDatabase; install rules from VirtualPhone.install_apk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from device_agent.simulator.commands.table import CommandTable, Result, fail, no_such_service, ok

if TYPE_CHECKING:
    from device_agent.simulator.phone import VirtualPhone


def unknown_verb(verb: str) -> Result:
    return fail(f"Unknown command: {verb}\n", 255)


def register(table: CommandTable, phone: VirtualPhone) -> None:
    def package_command(args: list[str], stdin: bytes) -> Result:
        verb = args[0] if args else ""
        handler = verbs.get(verb)
        return handler(args[1:], stdin) if handler is not None else unknown_verb(verb)

    def list_packages(args: list[str], stdin: bytes) -> Result:
        if args[:1] != ["packages"]:
            return unknown_verb("list")
        out, err, code = phone.package_db.list_packages(args[1:])
        return out.encode(), err.encode(), code

    def path(args: list[str], stdin: bytes) -> Result:
        if not args:
            return unknown_verb("path")
        out, err, code = phone.package_db.path(args[-1])
        return out.encode(), err.encode(), code

    def install(args: list[str], stdin: bytes) -> Result:
        paths = [a for a in args if a.startswith("/")]
        options = [a for a in args if not a.startswith("/")]
        if not paths:
            return fail("Error: no package specified\n", 255)  # streamed installs arrive via install_apk
        data = phone.vfs.get(paths[-1])
        if data is None or data.is_dir:
            return ok(f"Failure [INSTALL_FAILED_INVALID_URI: Error: Unable to open file: {paths[-1]}]\n")
        verdict = phone.install_apk(data.data, options)
        return verdict.encode() + b"\n", b"", 0 if verdict.startswith("Success") else 1

    def uninstall(args: list[str], stdin: bytes) -> Result:
        if not args:
            return unknown_verb("uninstall")
        package = phone.package_db.packages.get(args[-1])
        if package is None or package.system:
            return ok("Failure [DELETE_FAILED_INTERNAL_ERROR]\n")
        del phone.package_db.packages[args[-1]]
        return ok("Success\n")

    def dumpsys_package(args: list[str], stdin: bytes) -> Result:
        if not args:
            return no_such_service("package")  # the whole package manager's dump is not simulated
        return ok(phone.package_db.dumpsys(args[0]))

    verbs = {"list": list_packages, "path": path, "install": install, "uninstall": uninstall}
    table["pm"] = lambda argv, stdin: package_command(argv[1:], stdin)
    table.cmd_services["package"] = package_command
    table.dumpsys_services["package"] = dumpsys_package
