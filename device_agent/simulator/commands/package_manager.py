"""The package manager's commands: `pm VERB ...`, `cmd package VERB ...` (the same verbs) and `dumpsys package NAME`.

Listing and dumps come from the phone's PackageDatabase; installs and install sessions from its PackageInstaller
(simulator.installer). A streamed install's bytes arrive as the command's stdin (simulator.services reads them off
the ADB stream, `-S BYTES` of them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from device_agent.simulator.commands.table import CommandTable, Result, fail, no_such_service, ok
from device_agent.simulator.installer import InstallRefused, NoSuchSession, OutOfSpace

if TYPE_CHECKING:
    from device_agent.simulator.phone import VirtualPhone


def unknown_verb(verb: str) -> Result:
    return fail(f"Unknown command: {verb}\n", 255)


def verdict(line: str) -> Result:
    """pm's answer to an install: `Success` (exit 0) or `Failure [CODE: detail]` (exit 1), both on stdout."""
    return line.encode() + b"\n", b"", 0 if line.startswith("Success") else 1


def exception(verb: str, message: str) -> Result:
    """How `cmd package` reports a Java exception thrown by the package manager."""
    return fail(f"Exception occurred while executing '{verb}':\n{message}\n", 255)


def _without_size(args: list[str]) -> list[str]:
    """The arguments without `-S BYTES` (the size of what arrives on stdin)."""
    if "-S" not in args:
        return list(args)
    index = args.index("-S")
    return args[:index] + args[index + 2:]


def _with_session(verb: str, args: list[str], action: Callable[[int], Result]) -> Result:
    if len(args) != 1 or not args[0].isdigit():
        return fail(f"Error: usage: {verb} SESSION_ID\n", 255)
    try:
        return action(int(args[0]))
    except NoSuchSession as missing:
        return exception(verb, f"java.lang.SecurityException: {missing}")


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
            if "-S" in options and stdin:  # streamed: the APK's bytes arrive on stdin (adb install over exec/abb_exec)
                return verdict(phone.install_apk(stdin, _without_size(options)))
            return fail("Error: no package specified\n", 255)
        data = phone.vfs.get(paths[-1])
        if data is None or data.is_dir:
            return ok(f"Failure [INSTALL_FAILED_INVALID_URI: Error: Unable to open file: {paths[-1]}]\n")
        return verdict(phone.install_apk(data.data, options))

    # ---- install sessions (adb install-multiple): create, write each APK, then commit or abandon ----------
    def install_create(args: list[str], stdin: bytes) -> Result:
        try:
            session_id = phone.installer.create_session(_without_size(args))
        except InstallRefused as refused:
            return verdict(str(refused))
        return ok(f"Success: created install session [{session_id}]\n")

    def install_write(args: list[str], stdin: bytes) -> Result:
        """install-write [-S BYTES] SESSION NAME [PATH|-]: one file of the session, from stdin or a file on the phone."""
        size_text = args[args.index("-S") + 1] if "-S" in args and args.index("-S") + 1 < len(args) else None
        positional = _without_size(args)
        if len(positional) < 2 or (size_text is not None and not size_text.isdigit()):
            return fail("Error: usage: install-write [-S BYTES] SESSION_ID SPLIT_NAME [PATH|-]\n", 255)
        session_text, name, source = positional[0], positional[1], (positional[2:] or ["-"])[0]
        if not session_text.isdigit():
            return exception("install-write", f'java.lang.NumberFormatException: For input string: "{session_text}"')
        if name in ("", ".", "..") or "/" in name or "\0" in name:  # FileUtils.isValidExtFilename
            return exception("install-write", f"java.lang.IllegalArgumentException: Invalid name: {name}")
        try:
            if size_text is not None:
                phone.installer.allocate(int(session_text), name, int(size_text))
        except NoSuchSession as missing:
            return exception("install-write", f"java.lang.SecurityException: {missing}")
        except OutOfSpace as full:
            return exception("install-write", f"java.io.IOException: {full}")
        if source == "-":
            data = stdin
        else:
            node = phone.vfs.get(source)
            if node is None or node.is_dir:
                return fail(f"Error: Unable to open file: {source}\n", 255)
            data = node.data
        if size_text is not None:
            if len(data) < int(size_text):
                return fail(f"Error: Unable to write {name}: only {len(data)} of {size_text} bytes arrived\n", 1)
            data = data[: int(size_text)]
        try:
            phone.installer.write(int(session_text), name, data)
        except NoSuchSession as missing:
            return exception("install-write", f"java.lang.SecurityException: {missing}")
        return ok(f"Success: streamed {len(data)} bytes\n")

    def install_commit(args: list[str], stdin: bytes) -> Result:
        return _with_session("install-commit", args, lambda session_id: verdict(phone.installer.commit(session_id)))

    def install_abandon(args: list[str], stdin: bytes) -> Result:
        def abandon(session_id: int) -> Result:
            phone.installer.abandon(session_id)
            return ok("Success\n")

        return _with_session("install-abandon", args, abandon)

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

    verbs = {"list": list_packages, "path": path, "install": install, "uninstall": uninstall,
             "install-create": install_create, "install-write": install_write, "install-commit": install_commit,
             "install-abandon": install_abandon}
    table["pm"] = lambda argv, stdin: package_command(argv[1:], stdin)
    table.cmd_services["package"] = package_command
    table.dumpsys_services["package"] = dumpsys_package
