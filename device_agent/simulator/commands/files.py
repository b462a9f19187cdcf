"""File commands over the phone's file tree (simulator.vfs): ls, stat, find, cat, rm, mkdir, sha256sum."""

from __future__ import annotations

import fnmatch
import hashlib
import re
import time
from typing import TYPE_CHECKING

from device_agent.simulator.commands.table import CommandTable, Result, fail, ok

if TYPE_CHECKING:
    from device_agent.simulator.phone import VirtualPhone
    from device_agent.simulator.vfs import Node, VirtualFileSystem


def register(table: CommandTable, phone: VirtualPhone) -> None:
    fs = phone.vfs

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
                out.extend(_ls_line(name, child, flags) for name, child in entries)
            else:
                out.append(_ls_line(target, node, flags))
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
                    return fail("find: -exec supports only `stat -c FORMAT {}` here\n")
                exec_format, i = command[2], end + 1
            elif args[i] in ("-print", "-L", "-H"):
                i += 1
            else:
                return fail(f"find: Unknown option '{args[i]}'\n")
        out, err, code = [], [], 0
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
        return ok("")

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

    table.update(ls=ls, stat=stat, find=find, cat=cat, rm=rm, mkdir=mkdir, sha256sum=sha256sum)


def _date(mtime: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S.000000000 +0000", time.gmtime(mtime))


def _ls_line(name: str, node: Node, flags: str) -> str:
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


def _stat_format(fmt: str, path: str, node: Node, fs: VirtualFileSystem) -> str:
    def field(match: re.Match[str]) -> str:
        compute = _STAT_FIELDS.get(match.group(1))
        return compute(path, node, fs) if compute is not None else match.group(0)

    return _STAT_DIRECTIVE.sub(field, fmt)
