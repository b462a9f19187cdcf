"""The simulated phone's file tree: just enough of a filesystem for `ls`, `stat`, `find`, sync push/pull.

Paths are normalised and the shared-storage aliases (/storage/emulated/0, /storage/self/primary, /mnt/sdcard)
all lead to /sdcard, as they do for the shell user on a real phone.
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import stat as stat_module
from dataclasses import dataclass

ALIASES = ("/storage/emulated/0", "/storage/self/primary", "/mnt/sdcard", "/mnt/user/0/primary")
BASE_DIRS = (
    "/", "/system", "/system/bin", "/system/xbin", "/system/app", "/system/priv-app", "/system/framework",
    "/vendor", "/product", "/data", "/data/local", "/data/local/tmp", "/data/app", "/proc", "/sbin", "/storage",
    "/sdcard", "/sdcard/Android", "/sdcard/Android/media", "/sdcard/Android/data", "/sdcard/DCIM",
    "/sdcard/Download", "/sdcard/Pictures",
)


@dataclass
class Node:
    is_dir: bool
    mode: int  # permission bits only
    mtime: int
    data: bytes = b""


class VirtualFileSystem:
    def __init__(self, now: int) -> None:
        self._nodes: dict[str, Node] = {}
        for directory in BASE_DIRS:
            self._nodes[directory] = Node(is_dir=True, mode=0o771, mtime=now)

    @staticmethod
    @functools.lru_cache(maxsize=4096)  # pure, and the same few paths come back for every phone's collection
    def normalise(path: str) -> str:
        path = posixpath.normpath("/" + path.strip()) if path else "/"
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        for alias in ALIASES:
            if path == alias or path.startswith(alias + "/"):
                return "/sdcard" + path[len(alias):]
        return path

    def get(self, path: str) -> Node | None:
        return self._nodes.get(self.normalise(path))

    def mode_bits(self, node: Node) -> int:
        return (stat_module.S_IFDIR if node.is_dir else stat_module.S_IFREG) | node.mode

    def make_dirs(self, path: str, mtime: int) -> None:
        path = self.normalise(path)
        parts = [p for p in path.split("/") if p]
        for i in range(1, len(parts) + 1):
            current = "/" + "/".join(parts[:i])
            if current not in self._nodes:
                self._nodes[current] = Node(is_dir=True, mode=0o771, mtime=mtime)

    def write(self, path: str, data: bytes, mode: int, mtime: int, *, as_system: bool = False) -> str | None:
        """Create or replace a file, making parent folders; returns an error text or None.
        Only the phone's own set-up (as_system) may write to the read-only system partitions."""
        path = self.normalise(path)
        existing = self._nodes.get(path)
        if existing is not None and existing.is_dir:
            return f"{path}: Is a directory"
        parent = posixpath.dirname(path)
        parent_node = self._nodes.get(parent)
        if parent_node is not None and not parent_node.is_dir:
            return f"{parent}: Not a directory"
        if path.startswith(("/system", "/vendor", "/product", "/proc")) and not as_system:
            return f"{path}: Read-only file system"
        self.make_dirs(parent, mtime)
        self._nodes[path] = Node(is_dir=False, mode=mode & 0o7777, mtime=mtime, data=bytes(data))
        return None

    def remove(self, path: str, recursive: bool = False) -> str | None:
        path = self.normalise(path)
        node = self._nodes.get(path)
        if node is None:
            return f"{path}: No such file or directory"
        if node.is_dir:
            if not recursive:
                return f"{path}: Is a directory"
            for key in [k for k in self._nodes if k.startswith(path + "/")]:
                del self._nodes[key]
        del self._nodes[path]
        return None

    def children(self, path: str) -> list[tuple[str, Node]] | None:
        path = self.normalise(path)
        node = self._nodes.get(path)
        if node is None or not node.is_dir:
            return None
        prefix = "/" if path == "/" else path + "/"
        result = []
        for key, child in self._nodes.items():
            if key != path and key.startswith(prefix) and "/" not in key[len(prefix):]:
                result.append((key[len(prefix):], child))
        return sorted(result)

    def walk(self, path: str) -> list[tuple[str, Node]]:
        """Every node at or under path (the path spelled as given, as find prints it)."""
        given = path.rstrip("/") or "/"
        root = self.normalise(path)
        node = self._nodes.get(root)
        if node is None:
            return []
        prefix = "/" if root == "/" else root + "/"
        found = [(given, node)]
        for key in sorted(k for k in self._nodes if k.startswith(prefix) and k != root):
            found.append((given + "/" + key[len(prefix):] if given != "/" else key, self._nodes[key]))
        return found

    def glob(self, pattern: str) -> list[str]:
        directory, name_pattern = posixpath.split(pattern)
        if any(ch in directory for ch in "*?["):
            return []
        entries = self.children(directory or "/") or []
        return [posixpath.join(directory, name) for name, _ in entries
                if fnmatch.fnmatchcase(name, name_pattern) and not (name.startswith(".") and not name_pattern.startswith("."))]
