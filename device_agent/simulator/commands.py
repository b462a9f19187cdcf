"""The commands of the simulated phone's shell (toybox/Android tools, as far as PhoneGate and people use them)."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from device_agent.simulator.phone import VirtualPhone

Result = tuple[bytes, bytes, int]


def _ok(text: str) -> Result:
    return text.encode("utf-8"), b"", 0


def _fail(text: str, code: int = 1) -> Result:
    return b"", text.encode("utf-8"), code


def build_commands(phone: VirtualPhone) -> dict[str, Callable[[list[str], bytes], Result]]:
    fs = phone.vfs

    def echo(argv: list[str], stdin: bytes) -> Result:
        args = argv[1:]
        newline = True
        if args and args[0] == "-n":
            newline, args = False, args[1:]
        return _ok(" ".join(args) + ("\n" if newline else ""))

    def getprop(argv: list[str], stdin: bytes) -> Result:
        props = phone.properties
        if len(argv) > 1:
            return _ok(props.get(argv[1], argv[2] if len(argv) > 2 else "") + "\n")
        return _ok("".join(f"[{key}]: [{props[key]}]\n" for key in sorted(props)))

    def settings(argv: list[str], stdin: bytes) -> Result:
        args = [a for a in argv[1:] if not a.startswith("--user")]
        if len(args) >= 2 and args[0] == "list" and args[1] in phone.settings:
            values = phone.settings[args[1]]
            return _ok("".join(f"{key}={values[key]}\n" for key in sorted(values)))
        if len(args) >= 3 and args[0] == "get" and args[1] in phone.settings:
            return _ok(phone.settings[args[1]].get(args[2], "null") + "\n")
        if len(args) >= 4 and args[0] == "put" and args[1] in phone.settings:
            phone.settings[args[1]][args[2]] = args[3]
            return _ok("")
        return _fail("usage:  settings [--user <USER_ID> | current] get namespace key\n"
                     "        settings [--user <USER_ID> | current] list namespace\n", 255)

    def pm(argv: list[str], stdin: bytes) -> Result:
        return package_command(argv[1:])

    def cmd(argv: list[str], stdin: bytes) -> Result:
        if "cmd" not in phone.features():
            return _fail("/system/bin/sh: cmd: inaccessible or not found\n", 127)
        if len(argv) > 1 and argv[1] == "package":
            return package_command(argv[2:])
        if len(argv) > 1 and argv[1] == "settings":
            return settings(["settings"] + argv[2:], stdin)
        return _fail(f"Can't find service: {argv[1] if len(argv) > 1 else ''}\n", 20)

    def package_command(args: list[str]) -> Result:
        db = phone.package_db
        if args[:2] == ["list", "packages"]:
            out, err, code = db.list_packages(args[2:])
            return out.encode(), err.encode(), code
        if args and args[0] == "path" and len(args) > 1:
            out, err, code = db.path(args[-1])
            return out.encode(), err.encode(), code
        if args and args[0] == "install":
            paths = [a for a in args[1:] if a.startswith("/")]
            options = [a for a in args[1:] if not a.startswith("/")]
            if not paths:
                return _fail("Error: no package specified\n", 255)  # streamed installs arrive via install_apk
            data = fs.get(paths[-1])
            if data is None or data.is_dir:
                return _ok(f"Failure [INSTALL_FAILED_INVALID_URI: Error: Unable to open file: {paths[-1]}]\n")
            verdict = phone.install_apk(data.data, options)
            return verdict.encode() + b"\n", b"", 0 if verdict.startswith("Success") else 1
        if args and args[0] == "uninstall" and len(args) > 1:
            package = db.packages.get(args[-1])
            if package is None or package.system:
                return _ok("Failure [DELETE_FAILED_INTERNAL_ERROR]\n")
            del db.packages[args[-1]]
            return _ok("Success\n")
        return _fail(f"Unknown command: {args[0] if args else ''}\n", 255)

    def dumpsys(argv: list[str], stdin: bytes) -> Result:
        service = argv[1] if len(argv) > 1 else ""
        if service == "package" and len(argv) > 2:
            return _ok(phone.package_db.dumpsys(argv[2]))
        if service == "account":
            return _ok(phone.dumpsys_account())
        if service == "lock_settings":
            return _ok(phone.dumpsys_lock_settings())
        return _ok(f"Can't find service: {service}\n")

    def ls(argv: list[str], stdin: bytes) -> Result:
        flags = "".join(a[1:] for a in argv[1:] if a.startswith("-"))
        targets = [a for a in argv[1:] if not a.startswith("-")] or ["."]
        out, err, code = [], [], 0
        for target in targets:
            node = fs.get(target if target != "." else "/")
            if node is None:
                err.append(f"ls: {target}: No such file or directory\n")
                code = 1
                continue
            if node.is_dir and "d" not in flags:
                entries = fs.children(target) or []
                if len(targets) > 1:
                    out.append(f"{target}:\n")
                out.extend(_ls_line(name, child, flags, fs) for name, child in entries)
            else:
                out.append(_ls_line(target, node, flags, fs))
        return "".join(out).encode(), "".join(err).encode(), code

    def stat(argv: list[str], stdin: bytes) -> Result:
        fmt = None
        paths = []
        args = argv[1:]
        i = 0
        while i < len(args):
            if args[i] == "-c" and i + 1 < len(args):
                fmt, i = args[i + 1], i + 2
            else:
                paths.append(args[i])
                i += 1
        out, err, code = [], [], 0
        for path in paths:
            node = fs.get(path)
            if node is None:
                err.append(f"stat: '{path}': No such file or directory\n")
                code = 1
                continue
            if fmt is None:
                out.append(f"  File: {path}\n  Size: {len(node.data)}\n Modify: {_date(node.mtime)}\n")
            else:
                out.append(_stat_format(fmt, path, node, fs) + "\n")
        return "".join(out).encode(), "".join(err).encode(), code

    def find(argv: list[str], stdin: bytes) -> Result:
        args = argv[1:]
        roots = []
        while args and not args[0].startswith("-"):
            roots.append(args.pop(0))
        kind, name_pattern, exec_format = None, None, None
        i = 0
        while i < len(args):
            if args[i] == "-type" and i + 1 < len(args):
                kind, i = args[i + 1], i + 2
            elif args[i] == "-name" and i + 1 < len(args):
                name_pattern, i = args[i + 1], i + 2
            elif args[i] == "-exec":
                end = next((j for j in range(i + 1, len(args)) if args[j] in (";", "+", "\\;")), len(args))
                command = args[i + 1:end]
                if command[:2] != ["stat", "-c"] or len(command) < 4:
                    return _fail("find: -exec supports only `stat -c FORMAT {}` here\n")
                exec_format, i = command[2], end + 1
            elif args[i] in ("-print", "-L", "-H"):
                i += 1
            else:
                return _fail(f"find: Unknown option '{args[i]}'\n")
        out, err, code = [], [], 0
        import fnmatch
        for root in roots or ["."]:
            found = fs.walk(root)
            if not found:
                err.append(f"find: '{root}': No such file or directory\n")
                code = 1
            for path, node in found:
                if kind == "f" and node.is_dir or kind == "d" and not node.is_dir:
                    continue
                if name_pattern and not fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], name_pattern):
                    continue
                out.append((_stat_format(exec_format, path, node, fs) if exec_format else path) + "\n")
        return "".join(out).encode(), "".join(err).encode(), code

    def cat(argv: list[str], stdin: bytes) -> Result:
        if len(argv) == 1:
            return stdin, b"", 0
        out, err, code = bytearray(), bytearray(), 0
        for path in argv[1:]:
            node = fs.get(path)
            if node is None or node.is_dir:
                err += f"cat: {path}: {'Is a directory' if node else 'No such file or directory'}\n".encode()
                code = 1
            else:
                out += node.data
        return bytes(out), bytes(err), code

    def rm(argv: list[str], stdin: bytes) -> Result:
        flags = "".join(a[1:] for a in argv[1:] if a.startswith("-"))
        err, code = [], 0
        for path in (a for a in argv[1:] if not a.startswith("-")):
            problem = fs.remove(path, recursive="r" in flags)
            if problem and "f" not in flags:
                err.append(f"rm: {problem}\n")
                code = 1
        return b"", "".join(err).encode(), code

    def mkdir(argv: list[str], stdin: bytes) -> Result:
        for path in (a for a in argv[1:] if not a.startswith("-")):
            fs.make_dirs(path, phone.now())
        return _ok("")

    def which(argv: list[str], stdin: bytes) -> Result:
        found = [f"{d}/{name}" for name in argv[1:] for d in ("/system/bin", "/system/xbin", "/sbin", "/su/bin", "/debug_ramdisk")
                 if (node := fs.get(f"{d}/{name}")) is not None and not node.is_dir]
        found += [f"/system/bin/{name}" for name in argv[1:] if name in table and not any(f.endswith("/" + name) for f in found)]
        return _ok("".join(line + "\n" for line in found)) if found else (b"", b"", 1)

    def command(argv: list[str], stdin: bytes) -> Result:
        if len(argv) > 2 and argv[1] in ("-v", "-V"):
            return which(["which"] + argv[2:3], stdin)
        return (table[argv[1]](argv[1:], stdin) if len(argv) > 1 and argv[1] in table else _fail("", 127))

    def grep(argv: list[str], stdin: bytes) -> Result:
        args = argv[1:]
        flags = ""
        while args and args[0].startswith("-") and len(args) > 1:
            flags += args.pop(0)[1:]
        if not args:
            return _fail("usage: grep [-EFiovc] PATTERN [FILE...]\n", 2)
        pattern_text = args[0] if "E" in flags else _basic_to_extended(args[0])
        try:
            pattern = re.compile(re.escape(args[0]) if "F" in flags else pattern_text, re.I if "i" in flags else 0)
        except re.error:
            return _fail(f"grep: bad regex '{args[0]}'\n", 2)
        out = []
        for line in stdin.decode("utf-8", "replace").splitlines():
            matches = list(pattern.finditer(line))
            if bool(matches) == ("v" in flags):
                continue
            out.extend(m.group(0) + "\n" for m in matches if m.group(0)) if "o" in flags else out.append(line + "\n")
        return ("".join(out).encode(), b"", 0) if out else (b"", b"", 1)

    def head(argv: list[str], stdin: bytes) -> Result:
        count = 10
        for i, arg in enumerate(argv[1:]):
            if arg == "-n" and i + 2 < len(argv):
                count = int(argv[i + 2]) if argv[i + 2].isdigit() else 10
            elif arg.startswith("-") and arg[1:].isdigit():
                count = int(arg[1:])
        return b"".join(stdin.splitlines(keepends=True)[:count]), b"", 0

    def date(argv: list[str], stdin: bytes) -> Result:
        if len(argv) > 1 and argv[1] == "+%s":
            return _ok(f"{phone.now()}\n")
        return _ok(time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(phone.now())) + "\n")

    def sha256sum(argv: list[str], stdin: bytes) -> Result:
        out, err, code = [], [], 0
        for path in argv[1:]:
            node = fs.get(path)
            if node is None or node.is_dir:
                err.append(f"sha256sum: {path}: No such file or directory\n")
                code = 1
            else:
                out.append(f"{hashlib.sha256(node.data).hexdigest()}  {path}\n")
        return "".join(out).encode(), "".join(err).encode(), code

    def sh(argv: list[str], stdin: bytes) -> Result:
        if len(argv) > 2 and argv[1] == "-c":
            return phone.shell.run(argv[2])
        return _ok("")

    table: dict[str, Callable[[list[str], bytes], Result]] = {
        "echo": echo, "true": lambda a, s: (b"", b"", 0), "false": lambda a, s: (b"", b"", 1),
        "getprop": getprop, "settings": settings, "pm": pm, "cmd": cmd, "dumpsys": dumpsys,
        "ls": ls, "stat": stat, "find": find, "cat": cat, "rm": rm, "mkdir": mkdir, "which": which,
        "command": command, "grep": grep, "head": head, "date": date, "sha256sum": sha256sum, "sh": sh,
        "id": lambda a, s: _ok("uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log),"
                               "1011(adb),1015(sdcard_rw),1028(sdcard_r),3001(net_bt_admin),3002(net_bt),"
                               "3003(inet),3006(net_bw_stats) context=u:r:shell:s0\n"),
        "whoami": lambda a, s: _ok("shell\n"),
        "uname": lambda a, s: _ok(phone.uname("-a" in a)),
        "sleep": lambda a, s: (b"", b"", 0),
    }
    return table


def _basic_to_extended(pattern: str) -> str:
    """POSIX basic regex: \\{ \\} \\( \\) \\| are the operators; bare braces, parens and pipes are literal."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(nxt if nxt in "{}()|+?" else "\\" + nxt)
            i += 2
            continue
        out.append("\\" + ch if ch in "{}()|+?" else ch)
        i += 1
    return "".join(out)


def _date(mtime: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S.000000000 +0000", time.gmtime(mtime))


def _ls_line(name: str, node, flags: str, fs) -> str:
    if "l" not in flags:
        return name + "\n"
    kind = "d" if node.is_dir else "-"
    perms = "".join(c if node.mode & (1 << (8 - i)) else "-" for i, c in enumerate("rwxrwxrwx"))
    size = 3452 if node.is_dir else len(node.data)
    return f"{kind}{perms} 1 root sdcard_rw {size:>8} {time.strftime('%Y-%m-%d %H:%M', time.gmtime(node.mtime))} {name}\n"


_STAT_FIELDS = {  # computed only when the format asks (find -exec stat runs this for every file of every phone)
    "n": lambda path, node, fs: path, "N": lambda path, node, fs: f"'{path}'", "s": lambda path, node, fs: str(len(node.data)),
    "Y": lambda path, node, fs: str(node.mtime), "X": lambda path, node, fs: str(node.mtime),
    "a": lambda path, node, fs: format(node.mode, "o"), "f": lambda path, node, fs: format(fs.mode_bits(node), "x"),
    "F": lambda path, node, fs: "directory" if node.is_dir else "regular file", "y": lambda path, node, fs: _date(node.mtime),
    "U": lambda path, node, fs: "root", "G": lambda path, node, fs: "sdcard_rw", "%": lambda path, node, fs: "%",
}
_STAT_DIRECTIVE = re.compile(r"%(.)")


def _stat_format(fmt: str, path: str, node, fs) -> str:
    def field(match: re.Match[str]) -> str:
        compute = _STAT_FIELDS.get(match.group(1))
        return compute(path, node, fs) if compute is not None else match.group(0)

    return _STAT_DIRECTIVE.sub(field, fmt)
