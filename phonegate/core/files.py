"""Files PhoneGate writes are its own: created 0600, in folders 0700.

The database, its -wal and -shm files, the secret key, the catalogue's APKs, the agent's outbox, ADB keys and
transcripts all hold data no other account on the machine should read. Two mechanisms, so neither alone has to be
complete: the console script runs with umask 077 (PRIVATE_UMASK, phonegate/cli.py), so everything it or a
library creates is private; and the places that create files say so themselves (`private_folder`,
`open_private`), for a server started some other way (a WSGI server importing server.create_app).
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077
FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: str | os.PathLike) -> Path:
    """`path` created (with any missing parents) as 0700; an existing folder of ours is narrowed to 0700."""
    folder = Path(path)
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for new in reversed(missing):
        new.mkdir(mode=FOLDER_MODE, exist_ok=True)
        os.chmod(new, FOLDER_MODE)  # mkdir's mode is filtered by the umask
    _narrow(folder, FOLDER_MODE)
    return folder


def private_file(path: str | os.PathLike) -> Path:
    """An existing file of ours narrowed to 0600 (a file written before PhoneGate did this, or by a library)."""
    _narrow(Path(path), FILE_MODE)
    return Path(path)


def open_private(path: str | os.PathLike, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """os.open with mode 0600: the file is private from its first byte, whatever the umask."""
    descriptor = os.open(path, flags, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)  # an existing file keeps its old mode through O_CREAT
    return descriptor


def _narrow(path: Path, mode: int) -> None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    if status.st_uid == os.getuid() and status.st_mode & 0o777 & ~mode:
        os.chmod(path, mode)
