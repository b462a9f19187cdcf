"""A small, honest `sh -c` for the simulated phone.

It understands what PhoneGate's collection script and people typing `adb shell` use: `;`, `&&`, `||`, `|`,
newlines, single/double quotes and backslashes, `$?`, simple globs, redirections to /dev/null or files
(`>`, `>>`, `2>/dev/null`, `2>&1`) and `exit N`. Commands are looked up in a table the phone supplies; an
unknown one fails like mksh does: `/system/bin/sh: X: inaccessible or not found`, exit 127.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# A command gets (argv, stdin) and answers (stdout, stderr, exit code).
Result = tuple[bytes, bytes, int]
Command = Callable[[list[str], bytes], Result]
OPERATORS = (";", "&&", "||", "|", "&", "\n")
_PLAIN = re.compile(r"[^\s;|&<>'\"\\$*?]+")
_SIMPLE_WORD = re.compile(r"[^\s;|&<>'\"\\$*?#]+(?=[\s;|&<>]|$)")
_SINGLE_QUOTED_WORD = re.compile(r"'([^']*)'(?=[\s;|&<>]|$)")
# One step for the commonest tokens (optional blanks, then an operator, a bare word or one '...' word): a 1.4 KB
# collection script is ~150 tokens, and one regex match each costs a third of the branch-by-branch scan.
_FAST_TOKEN = re.compile(r"[ \t\r]*(?:(&&|\|\||[;|&\n])|([^\s;|&<>'\"\\$*?#]+)(?=[\s;|&<>]|$)|'([^']*)'(?=[\s;|&<>]|$))")


class ShellSyntaxError(Exception):
    pass


class ExitScript(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Word:
    text: str
    globbable: bool  # unquoted and containing * or ?


@dataclass
class Redirect:
    fd: int
    op: str  # ">", ">>", "<", ">&"
    target: str


@dataclass
class SimpleCommand:
    words: list[Word]
    redirects: list[Redirect]


def tokenize(script: str) -> list[object]:
    """Words (as Word) and operators (as str); redirections become Redirect."""
    tokens: list[object] = []
    i, n = 0, len(script)
    while i < n:
        fast = _FAST_TOKEN.match(script, i)
        if fast is not None:
            operator, bare, quoted_text = fast.groups()
            if operator is not None:
                tokens.append(operator)
                i = fast.end()
                continue
            if quoted_text is not None:
                tokens.append(Word(quoted_text, False))
                i = fast.end()
                continue
            # "2>/dev/null": a lone digit before < or > is a file descriptor, handled below
            if not (len(bare) == 1 and bare.isdigit() and fast.end() < n and script[fast.end()] in "<>"):
                tokens.append(Word(bare, False))
                i = fast.end()
                continue
        ch = script[i]
        if ch in " \t\r":
            i += 1
            continue
        if ch == "#" :
            while i < n and script[i] != "\n":
                i += 1
            continue
        if script.startswith("&&", i) or script.startswith("||", i):
            tokens.append(script[i:i + 2])
            i += 2
            continue
        if ch in ";|&\n":
            tokens.append(ch)
            i += 1
            continue
        # redirection, optionally preceded by a file descriptor digit
        fd_digit = ch.isdigit() and i + 1 < n and script[i + 1] in "<>"
        if ch in "<>" or fd_digit:
            fd = int(ch) if fd_digit else (0 if ch == "<" else 1)
            if fd_digit:
                i += 1
            op = script[i]
            i += 1
            if op == ">" and i < n and script[i] == ">":
                op = ">>"
                i += 1
            elif i < n and script[i] == "&":
                op = ">&"
                i += 1
            while i < n and script[i] in " \t":
                i += 1
            word, i = _read_word(script, i)
            if word is None:
                raise ShellSyntaxError("syntax error: redirection without a target")
            tokens.append(Redirect(fd=fd, op=op, target=word.text))
            continue
        simple = _SIMPLE_WORD.match(script, i)  # fast paths: a bare word or one '...' word, most of any script
        if simple:
            tokens.append(Word(simple.group(0), False))
            i = simple.end()
            continue
        quoted = _SINGLE_QUOTED_WORD.match(script, i)
        if quoted:
            tokens.append(Word(quoted.group(1), False))
            i = quoted.end()
            continue
        word, i = _read_word(script, i)
        if word is not None:
            tokens.append(word)
    return tokens


def _read_word(script: str, i: int) -> tuple[Word | None, int]:
    out: list[str] = []
    globbable = False
    n = len(script)
    start = i
    while i < n and script[i] not in " \t\r\n;|&<>":
        plain = _PLAIN.match(script, i)  # a run of ordinary characters in one step (the common case)
        if plain:
            out.append(plain.group(0))
            i = plain.end()
            continue
        ch = script[i]
        if ch == "'":
            end = script.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("syntax error: unterminated quoted string")
            out.append(script[i + 1:end])
            i = end + 1
        elif ch == '"':
            i += 1
            while i < n and script[i] != '"':
                if script[i] == "\\" and i + 1 < n and script[i + 1] in '"\\$`':
                    out.append(script[i + 1])
                    i += 2
                elif script[i] == "$":
                    text, i = _read_variable(script, i)
                    out.append(text)
                else:
                    out.append(script[i])
                    i += 1
            if i >= n:
                raise ShellSyntaxError("syntax error: unterminated quoted string")
            i += 1
        elif ch == "\\" and i + 1 < n:
            out.append(script[i + 1])
            i += 2
        elif ch == "$":
            text, i = _read_variable(script, i)
            out.append(text)
        else:
            if ch in "*?":
                globbable = True
            out.append(ch)
            i += 1
    if i == start:
        return None, i
    return Word("".join(out), globbable), i


def _read_variable(script: str, i: int) -> tuple[str, int]:
    """`$?` stays a marker resolved at run time; other variables are unset here and expand to nothing."""
    if script.startswith("$?", i):
        return "\x00STATUS\x00", i + 2
    if script.startswith("${?}", i):
        return "\x00STATUS\x00", i + 4
    j = i + 1
    if j < len(script) and script[j] == "{":
        end = script.find("}", j)
        return ("", end + 1) if end > 0 else ("$", i + 1)
    while j < len(script) and (script[j].isalnum() or script[j] == "_"):
        j += 1
    return ("", j) if j > i + 1 else ("$", i + 1)


class Shell:
    def __init__(self, commands: dict[str, Command], glob: Callable[[str], list[str]],
                 write_file: Callable[[str, bytes, bool], str | None]) -> None:
        self.commands = commands
        self.glob = glob
        self.write_file = write_file  # (path, data, append) -> error or None

    def run(self, script: str) -> tuple[bytes, bytes, int]:
        try:
            tokens = tokenize(script)
        except ShellSyntaxError as exc:
            return b"", f"/system/bin/sh: {exc}\n".encode(), 2
        stdout, stderr = bytearray(), bytearray()
        status = 0
        pending_op = ";"
        pipeline: list[SimpleCommand] = []
        current = SimpleCommand([], [])
        try:
            for token in tokens + ["\n"]:
                if isinstance(token, Word):
                    current.words.append(token)
                elif isinstance(token, Redirect):
                    current.redirects.append(token)
                elif token == "|":
                    pipeline.append(current)
                    current = SimpleCommand([], [])
                else:  # a list operator ends the pipeline
                    pipeline.append(current)
                    if any(cmd.words for cmd in pipeline):
                        if pending_op == ";" or (pending_op == "&&" and status == 0) or (pending_op == "||" and status != 0):
                            status = self._pipeline(pipeline, status, stdout, stderr)
                    pending_op = ";" if token in (";", "\n", "&") else str(token)
                    pipeline, current = [], SimpleCommand([], [])
        except ExitScript as stop:
            status = stop.code
        return bytes(stdout), bytes(stderr), status

    def _pipeline(self, pipeline: list[SimpleCommand], status: int, stdout: bytearray, stderr: bytearray) -> int:
        data = b""
        code = 0
        for index, command in enumerate(pipeline):
            last = index == len(pipeline) - 1
            out, err, code = self._simple(command, data, status)
            if last:
                stdout += out
            else:
                data = out
            stderr += err
        return code

    def _simple(self, command: SimpleCommand, stdin: bytes, status: int) -> tuple[bytes, bytes, int]:
        argv: list[str] = []
        for word in command.words:
            text = word.text
            if "\x00" in text:
                text = text.replace("\x00STATUS\x00", str(status))
            if word.globbable:
                argv.extend(self.glob(text) or [text])
            else:
                argv.append(text)
        if not argv:
            return b"", b"", 0
        name = argv[0]
        if name == "exit":
            try:
                raise ExitScript(int(argv[1]) & 0xFF if len(argv) > 1 else status)
            except ValueError:
                return b"", f"/system/bin/sh: exit: {argv[1]}: bad number\n".encode(), 2
        handler = self.commands.get(name.rsplit("/", 1)[-1] if name.startswith(("/system/bin/", "/system/xbin/")) else name)
        if handler is None:
            out, err, code = b"", f"/system/bin/sh: {name}: inaccessible or not found\n".encode(), 127
        else:
            out, err, code = handler(argv, stdin)
        return self._redirect(command.redirects, out, err, code) if command.redirects else (out, err, code)

    def _redirect(self, redirects: list[Redirect], out: bytes, err: bytes, code: int) -> tuple[bytes, bytes, int]:
        for redirect in redirects:
            if redirect.op == ">&":
                if redirect.fd == 2 and redirect.target == "1":
                    out, err = out + err, b""
                elif redirect.fd == 1 and redirect.target == "2":
                    out, err = b"", err + out
                continue
            if redirect.op == "<":
                continue
            data = out if redirect.fd == 1 else err
            if redirect.target != "/dev/null":
                problem = self.write_file(redirect.target, data, redirect.op == ">>")
                if problem:
                    return b"", f"/system/bin/sh: can't create {redirect.target}: {problem}\n".encode(), 1
            if redirect.fd == 1:
                out = b""
            else:
                err = b""
        return out, err, code
