"""Collect facts from 200 simulated phones: PhoneGate's one-round-trip collection against an admin's adb script.

PhoneGate: asyncio, all phones at once; each connects and authenticates (adb-shell, RSA signature) and runs the
collection script in one `shell` call; the answer is parsed into DeviceFacts.
Baseline, "the way an admin would script it today": Debian's `adb` client run once per fact per phone
(`adb -s HOST:PORT shell getprop ro.product.model`, ...), 12 commands per phone, parallelised with
`xargs -P 4` as a reasonable shell script would, against an adb server that is already connected to every phone
(so the baseline pays no connection cost; PhoneGate does).

Both run against the same phones, served by `phonegate simulate` in its own process, in the same run.

    .venv/bin/python bench/bench_facts.py [--phones 200] [--rounds 3] [--parallel 4] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the isolated adb client lives with the test fixtures

from device_agent.adb import AdbKey, connect_tcp  # noqa: E402
from device_agent.collect import DEFAULT_CATALOGUE, collect_facts  # noqa: E402
from fixtures_phones import AdbClient  # noqa: E402

SECTION = "## Collect facts from 200 phones"
ADMIN_COMMANDS = [  # what a by-hand script asks for the facts PhoneGate collects (a subset of them)
    "getprop ro.serialno", "getprop ro.product.manufacturer", "getprop ro.product.model",
    "getprop ro.build.version.release", "getprop ro.build.version.sdk", "getprop ro.build.version.security_patch",
    "getprop ro.build.fingerprint", "getprop ro.crypto.state", "getprop ro.boot.verifiedbootstate",
    "pm list packages -i --show-versioncode", "dumpsys package com.whatsapp", "settings list secure",
]


async def phonegate_round(endpoints: list[str], key: AdbKey) -> tuple[float, int]:
    async def one(endpoint: str):
        session = await connect_tcp(endpoint, key, connect_timeout_s=30, auth_timeout_s=30, read_timeout_s=30)
        try:
            return await collect_facts(session, DEFAULT_CATALOGUE, timeout_s=60)
        finally:
            await session.close()

    started = time.perf_counter()
    results = await asyncio.gather(*(one(endpoint) for endpoint in endpoints))
    elapsed = time.perf_counter() - started
    complete = sum(1 for facts in results if facts.model and not facts.problems)
    return elapsed, complete


def adb_round(client: AdbClient, endpoints: list[str], parallel: int, workdir: Path) -> tuple[float, int]:
    jobs = workdir / "jobs.txt"
    jobs.write_text("".join(f"-s {endpoint} shell {command}\n" for endpoint in endpoints for command in ADMIN_COMMANDS))
    started = time.perf_counter()
    with jobs.open() as stdin:
        result = subprocess.run(["xargs", "-P", str(parallel), "-L", "1", "adb"], stdin=stdin, env=client.env,
                                capture_output=True, timeout=3600)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the adb script failed: {result.stderr.decode(errors='replace')[-500:]}")
    return elapsed, result.stdout.count(b"[ro.") + result.stdout.decode(errors="replace").count("\n")


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of another process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phones", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallel", type=int, nargs="+", default=[4, 1],
                        help="xargs -P for the adb baseline; several values run several baselines (1 = sequential)")
    parser.add_argument("--profile", default="samsung-galaxy-s24")
    parser.add_argument("--write", action="store_true", help="update the section in BENCHMARKS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="phonegate-bench-facts-") as workdir_name:
        workdir = Path(workdir_name)
        key = AdbKey.create(workdir / "keys" / "adbkey")
        keys_file = workdir / "adb_keys"
        keys_file.write_text(key.public_line + "\n")
        simulator = subprocess.Popen(
            [sys.executable, "-m", "phonegate", "simulate", "--devices", str(args.phones), "--port", "0",
             "--profile", args.profile, "--authorized-keys", str(keys_file)],
            stdout=subprocess.PIPE, text=True,
        )
        client = AdbClient(workdir / "adb-home", key)
        try:
            endpoints = [simulator.stdout.readline().split()[1] for _ in range(args.phones)]  # type: ignore[union-attr]
            client.run("start-server", timeout_s=30)
            for endpoint in endpoints:
                client.run("connect", endpoint)
            deadline = time.monotonic() + 60
            while sum(state == "device" for state in client.devices().values()) < args.phones and time.monotonic() < deadline:
                time.sleep(0.1)
            ours: list[float] = []
            loads: list[float] = []  # 1-minute load average before each PhoneGate round (other work slows both sides)
            cpu: list[tuple[float, float]] = []  # (PhoneGate process, simulator process) CPU seconds per round
            baselines: dict[int, list[float]] = {parallel: [] for parallel in args.parallel}
            for round_number in range(1, args.rounds + 1):
                loads.append(os.getloadavg()[0])
                cpu_before = (time.process_time(), _process_cpu(simulator.pid))
                elapsed, complete = asyncio.run(phonegate_round(endpoints, key))
                cpu.append((time.process_time() - cpu_before[0], _process_cpu(simulator.pid) - cpu_before[1]))
                if complete != args.phones:
                    raise SystemExit(f"PhoneGate collected complete facts from only {complete} of {args.phones} phones")
                ours.append(elapsed)
                for parallel, times in baselines.items():
                    times.append(adb_round(client, endpoints, parallel, workdir)[0])
                print(f"round {round_number} (load {loads[-1]:.1f}): PhoneGate {ours[-1]:.3f} s "
                      f"(CPU {cpu[-1][0]:.2f} s collector + {cpu[-1][1]:.2f} s simulator), "
                      + ", ".join(f"adb script -P {p} {t[-1]:.3f} s" for p, t in baselines.items()), flush=True)
        finally:
            client.kill_server()
            simulator.terminate()
            simulator.wait(30)

    args.load = os.getloadavg()[0]  # other work on this 2-core machine slows both sides
    args.loads = loads
    args.cpu = (statistics.median(c for c, _ in cpu), statistics.median(s for _, s in cpu))
    print(f"  CPU per PhoneGate round: {args.cpu[0]:.2f} s collector, {args.cpu[1]:.2f} s for the {args.phones} simulated phones")
    print(f"{args.phones} simulated {args.profile} phones, median of {args.rounds}, 1-minute load average {args.load:.1f}:")
    print(f"  PhoneGate collect_facts (connect + 1 round trip each, asyncio): {statistics.median(ours):.3f} s")
    for parallel, times in baselines.items():
        print(f"  adb script ({len(ADMIN_COMMANDS)} adb shell calls per phone, xargs -P {parallel}): "
              f"{statistics.median(times):.3f} s -> PhoneGate {statistics.median(times) / statistics.median(ours):.1f}x faster "
              f"(best runs {min(times) / min(ours):.1f}x)")
    if args.write:
        write_section(args, ours, baselines)
    return 0


def write_section(args: argparse.Namespace, ours: list[float], baselines: dict[int, list[float]]) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# PhoneGate benchmarks\n"
    body = (
        f"{SECTION}\n\n"
        f"Command: `.venv/bin/python bench/bench_facts.py --phones {args.phones} --rounds {args.rounds} "
        f"--parallel {' '.join(map(str, baselines))} --write` (machine: 2 cores, loopback TCP, {args.phones} simulated "
        f"{args.profile} phones served by `phonegate simulate` in its own process; 1-minute load average before each "
        f"PhoneGate round {', '.join(f'{load:.1f}' for load in args.loads)}, at the end {args.load:.1f}).\n\n"
        f"| way | median of {args.rounds} (s) | all runs (s) | PhoneGate faster by (median / best) |\n|---|---|---|---|\n"
        f"| PhoneGate `collect_facts`: connect + authenticate + one shell round trip per phone, all phones at once (asyncio) "
        f"| {statistics.median(ours):.3f} | {', '.join(f'{t:.3f}' for t in ours)} | |\n"
        + "".join(
            f"| admin script: Debian `adb -s HOST:PORT shell ...` once per fact ({len(ADMIN_COMMANDS)} per phone), "
            f"{'sequential' if parallel == 1 else f'`xargs -P {parallel}`'}, adb server already connected | "
            f"{statistics.median(times):.3f} | {', '.join(f'{t:.3f}' for t in times)} | "
            f"**{statistics.median(times) / statistics.median(ours):.1f}x** / {min(times) / min(ours):.1f}x |\n"
            for parallel, times in baselines.items())
        + f"\nCPU a PhoneGate round needs (median): {args.cpu[0]:.2f} s in the collector process, {args.cpu[1]:.2f} s in the "
        "simulator process; the rest of its wall time is waiting for a core on this shared machine.\n"
        + "\nPhoneGate collects more (every property, all packages with installers, three settings "
        "namespaces, lock, root signs, account types, media ages), parsed into DeviceFacts; the baseline only prints text.\n"
    )
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + body + ("\n" + text[end + 1:] if end != -1 else "")  # keep the blank line before the next section
    path.write_text(text)
    print(f"updated {path}")


if __name__ == "__main__":
    sys.exit(main())
