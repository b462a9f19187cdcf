"""The package boundaries the README promises, read from the source itself (every import, top-level or local).

- `server` imports nothing of `device_agent` or `provisioning`; they never import `server`.
- `phonegate.core` imports none of the three (it is what they share).
- Production code never imports the simulator (only the simulator itself, the `simulate` command and the demo
  phones of `phonegate serve` do).
- "Approved or provisioned" is spelled once: phonegate.core.lifecycle.HOLDS_APPROVAL.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIMULATOR_USERS = {"device_agent/simulator", "device_agent/cli.py", "phonegate/demo.py"}


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _offenders(package: str, forbidden: tuple[str, ...], allowed: set[str] = frozenset()) -> list[str]:
    offenders = []
    for path in _sources(package):
        relative = path.relative_to(ROOT).as_posix()
        if any(relative == entry or relative.startswith(entry + "/") for entry in allowed):
            continue
        for name in _imports(path):
            if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden):
                offenders.append(f"{relative} imports {name}")
    return offenders


def test_the_server_imports_neither_the_agent_nor_provisioning() -> None:
    assert _offenders("server", ("device_agent", "provisioning")) == []


@pytest.mark.parametrize("package", ["device_agent", "provisioning"])
def test_the_agent_and_provisioning_never_import_the_server(package: str) -> None:
    assert _offenders(package, ("server",)) == []


def test_the_core_imports_only_itself() -> None:
    assert _offenders("phonegate/core", ("server", "device_agent", "provisioning", "phonegate.cli", "phonegate.serve")) == []


@pytest.mark.parametrize("package", ["server", "device_agent", "provisioning", "phonegate"])
def test_production_code_never_imports_the_simulator(package: str) -> None:
    assert _offenders(package, ("device_agent.simulator",), allowed=SIMULATOR_USERS) == []


def _approval_pairs(path: Path) -> list[int]:
    """Lines of tuples, lists or sets that name both "approved" and "provisioned" (as text or DeviceState)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            names = set()
            for element in node.elts:
                if isinstance(element, ast.Constant) and isinstance(element.value, str):
                    names.add(element.value)
                elif isinstance(element, ast.Attribute):
                    inner = element.value if element.attr == "value" else element
                    if isinstance(inner, ast.Attribute):
                        names.add(inner.attr.lower())
            if {"approved", "provisioned"} <= names:
                lines.append(node.lineno)
    return lines


def test_the_approval_states_are_spelled_once() -> None:
    spelled = {}
    for package in ("server", "device_agent", "provisioning", "phonegate"):
        for path in _sources(package):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith("device_agent/simulator"):
                continue  # the simulator plays a phone; it has no lifecycle
            lines = _approval_pairs(path)
            if lines:
                spelled[relative] = lines
    assert set(spelled) == {"phonegate/core/lifecycle.py"}, spelled
