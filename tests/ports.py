"""The one way tests pick a port for a server they start (adb servers, simulated phones, SMTP, PhoneGate).

Binding port 0 and closing the socket gives a port the kernel may hand to the next outgoing connection (or to
another test process doing the same) before our server binds it. So ports come from below the kernel's
ephemeral range (which outgoing connections use), in a block of their own per test process (xdist workers and
other runs on the machine get other blocks), and each is checked free before it is returned.
"""

from __future__ import annotations

import itertools
import os
import socket

FIRST, LAST = 20000, 32000  # /proc/sys/net/ipv4/ip_local_port_range starts at 32768
BLOCK = 200
_next = itertools.count()


def _block(blocks: int) -> int:
    """xdist workers of one run (one parent) take neighbouring blocks; another run starts somewhere else."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        return (os.getppid() * 8 + int(worker[2:])) % blocks
    return os.getpid() % blocks


def free_port() -> int:
    blocks = (LAST - FIRST) // BLOCK
    start = FIRST + _block(blocks) * BLOCK
    for _ in range(LAST - FIRST):
        port = FIRST + (start - FIRST + next(_next)) % (LAST - FIRST)
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for a test server")
