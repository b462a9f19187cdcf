"""Shell utilities (toybox and mksh built-ins): echo, true, false, grep, head, date, sh, id, whoami, uname,
sleep, and `which` / `command`, which look commands up in the finished table."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from device_agent.simulator.commands.table import CommandTable, Result, fail, ok

if TYPE_CHECKING:
    from device_agent.simulator.phone import VirtualPhone

BIN_DIRS = ("/system/bin", "/system/xbin", "/sbin", "/su/bin", "/debug_ramdisk")
SHELL_ID = ("uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log),1011(adb),1015(sdcard_rw),"
            "1028(sdcard_r),3001(net_bt_admin),3002(net_bt),3003(inet),3006(net_bw_stats) context=u:r:shell:s0\n")


def register(table: CommandTable, phone: VirtualPhone) -> None:
    def which(argv: list[str], stdin: bytes) -> Result:
        found = [f"{d}/{name}" for name in argv[1:] for d in BIN_DIRS
                 if (node := phone.vfs.get(f"{d}/{name}")) is not None and not node.is_dir]
        found += [f"/system/bin/{name}" for name in argv[1:] if name in table and not any(f.endswith("/" + name) for f in found)]
        return ok("".join(line + "\n" for line in found)) if found else (b"", b"", 1)

    def command(argv: list[str], stdin: bytes) -> Result:
        if len(argv) > 2 and argv[1] in ("-v", "-V"):
            return which(["which"] + argv[2:3], stdin)
        return table[argv[1]](argv[1:], stdin) if len(argv) > 1 and argv[1] in table else fail("", 127)

    def date(argv: list[str], stdin: bytes) -> Result:
        if len(argv) > 1 and argv[1] == "+%s":
            return ok(f"{phone.now()}\n")
        return ok(time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(phone.now())) + "\n")

    def sh(argv: list[str], stdin: bytes) -> Result:
        if len(argv) > 2 and argv[1] == "-c":
            return phone.shell.run(argv[2])
        return ok("")

    table.update(
        which=which, command=command, date=date, sh=sh, echo=echo, grep=grep, head=head,
        true=lambda argv, stdin: (b"", b"", 0), false=lambda argv, stdin: (b"", b"", 1),
        id=lambda argv, stdin: ok(SHELL_ID), whoami=lambda argv, stdin: ok("shell\n"),
        uname=lambda argv, stdin: ok(phone.uname("-a" in argv)), sleep=lambda argv, stdin: (b"", b"", 0),
    )


def echo(argv: list[str], stdin: bytes) -> Result:
    args = argv[1:]
    newline = True
    if args and args[0] == "-n":
        newline, args = False, args[1:]
    return ok(" ".join(args) + ("\n" if newline else ""))


def grep(argv: list[str], stdin: bytes) -> Result:
    args = argv[1:]
    flags = ""
    while args and args[0].startswith("-") and len(args) > 1:
        flags += args.pop(0)[1:]
    if not args:
        return fail("usage: grep [-EFiovc] PATTERN [FILE...]\n", 2)
    pattern_text = args[0] if "E" in flags else _basic_to_extended(args[0])
    try:
        pattern = re.compile(re.escape(args[0]) if "F" in flags else pattern_text, re.I if "i" in flags else 0)
    except re.error:
        return fail(f"grep: bad regex '{args[0]}'\n", 2)
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
