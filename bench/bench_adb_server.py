"""Phones through the adb server: facts from many phones, and a 100 MB install on 8 phones at once.

facts:   the same simulated phones (`phonegate simulate`, own process), attached to a private adb server with
         `adb connect`, read three ways in the same run, rounds alternating:
         - PhoneGate through the adb server (`adb:SERIAL`: devices-l, features, one shell v2 round trip per phone);
         - PhoneGate direct over TCP (connect + authenticate + one round trip per phone), the existing way;
         - an admin's script: `adb -s SERIAL shell ...` once per fact (12 per phone), `xargs -P 4`, through the
           same adb server (already connected, so it pays no connection cost).
install: one signed APK of --size-mb, installed on 8 phones attached to the adb server at once:
         - PhoneGate: a child process running PhoneSession.install on all 8 at once (the install step of
           `phonegate provision`); its peak RSS is read with wait4(), so nothing else is counted;
         - `adb install -r` run 8 times in parallel (Google's adb streams the APK the same way).

    .venv/bin/python bench/bench_adb_server.py facts [--phones 16 200] [--rounds 3] [--adb debian|google] [--write]
    .venv/bin/python bench/bench_adb_server.py install [--size-mb 100] [--phones 8] [--rounds 3] [--adb ...] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the private adb server and the APK builder live with the test fixtures

from device_agent.adb import AdbKey, connect, connect_tcp  # noqa: E402
from device_agent.collect import DEFAULT_CATALOGUE, collect_facts  # noqa: E402
from fixtures_adb_server import ADB_SERVERS, AdbServerProcess  # noqa: E402

FACTS_SECTION = "## Facts through the adb server"
INSTALL_SECTION = "## Install a 100 MB APK on 8 phones through the adb server"
ADMIN_COMMANDS = [  # the same reads as bench_facts.py's admin script
    "getprop ro.serialno", "getprop ro.product.manufacturer", "getprop ro.product.model",
    "getprop ro.build.version.release", "getprop ro.build.version.sdk", "getprop ro.build.version.security_patch",
    "getprop ro.build.fingerprint", "getprop ro.crypto.state", "getprop ro.boot.verifiedbootstate",
    "pm list packages -i --show-versioncode", "dumpsys package com.whatsapp", "settings list secure",
]


def start_phones(workdir: Path, key: AdbKey, count: int, profile: str) -> tuple[subprocess.Popen[str], list[str]]:
    keys_file = workdir / "adb_keys"
    keys_file.write_text(key.public_line + "\n")
    simulator = subprocess.Popen(
        [sys.executable, "-m", "phonegate", "simulate", "--devices", str(count), "--port", "0", "--profile", profile,
         "--authorized-keys", str(keys_file)],
        stdout=subprocess.PIPE, text=True,
    )
    endpoints = [simulator.stdout.readline().split()[1] for _ in range(count)]  # type: ignore[union-attr]
    return simulator, endpoints


def attach(server: AdbServerProcess, endpoints: list[str]) -> int:
    """`adb connect` every phone (in batches of parallel clients); returns how many the server shows as device."""
    for start in range(0, len(endpoints), 16):
        batch = [subprocess.Popen([str(server.binary), "connect", endpoint], env=server.env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for endpoint in endpoints[start:start + 16]]
        for process in batch:
            process.wait(60)
    deadline = time.monotonic() + 120
    online = 0
    while time.monotonic() < deadline:
        online = sum(state == "device" for state in server.devices().values())
        if online >= len(endpoints):
            break
        time.sleep(0.2)
    return online


# -- facts ----------------------------------------------------------------------------------------------------


async def facts_round(endpoints: list[str], key: AdbKey, server) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    async def one(endpoint: str):  # type: ignore[no-untyped-def]
        if endpoint.startswith("adb:"):
            session = await connect(endpoint, key, server=server, connect_timeout_s=60, read_timeout_s=60)
        else:
            session = await connect_tcp(endpoint, key, connect_timeout_s=60, auth_timeout_s=60, read_timeout_s=60)
        try:
            return await collect_facts(session, DEFAULT_CATALOGUE, timeout_s=120)
        finally:
            await session.close()

    started = time.perf_counter()
    results = await asyncio.gather(*(one(endpoint) for endpoint in endpoints))
    elapsed = time.perf_counter() - started
    return elapsed, sum(1 for facts in results if facts.model and not facts.problems)


def admin_round(server: AdbServerProcess, endpoints: list[str], parallel: int, workdir: Path) -> float:
    jobs = workdir / "jobs.txt"
    jobs.write_text("".join(f"-s {endpoint} shell {command}\n" for endpoint in endpoints for command in ADMIN_COMMANDS))
    started = time.perf_counter()
    with jobs.open() as stdin:
        result = subprocess.run(["xargs", "-P", str(parallel), "-L", "1", str(server.binary)], stdin=stdin, env=server.env,
                                capture_output=True, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"the adb script failed: {result.stderr.decode(errors='replace')[-500:]}")
    return time.perf_counter() - started


def run_facts(args: argparse.Namespace) -> list[dict]:
    rows = []
    for count in args.phones:
        with tempfile.TemporaryDirectory(prefix="phonegate-bench-adbs-") as name:
            workdir = Path(name)
            key = AdbKey.create(workdir / "keys" / "adbkey")  # PhoneGate's key and the adb server's, so both ways work
            server = AdbServerProcess(ADB_SERVERS[args.adb](), workdir / "adb-home", key.path).start()  # type: ignore[arg-type]
            simulator, endpoints = start_phones(workdir, key, count, args.profile)
            try:
                online = attach(server, endpoints)
                if online < count:
                    print(f"the adb server shows only {online} of {count} phones as device", flush=True)
                attached = [f"adb:{endpoint}" for endpoint in endpoints if server.devices().get(endpoint) == "device"]
                direct_ones = [endpoint for endpoint in endpoints if f"adb:{endpoint}" in attached]
                client = server.client(connect_timeout_s=60, read_timeout_s=60)
                times: dict[str, list[float]] = {"server": [], "direct": [], "script": []}
                for round_number in range(1, args.rounds + 1):
                    load = os.getloadavg()[0]
                    elapsed, complete = asyncio.run(facts_round(attached, key, client))
                    if complete != len(attached):
                        raise SystemExit(f"through the adb server only {complete} of {len(attached)} phones gave complete facts")
                    times["server"].append(elapsed)
                    elapsed, complete = asyncio.run(facts_round(direct_ones, key, None))
                    if complete != len(direct_ones):
                        raise SystemExit(f"direct: only {complete} of {len(direct_ones)} phones gave complete facts")
                    times["direct"].append(elapsed)
                    times["script"].append(admin_round(server, direct_ones, 4, workdir))
                    print(f"{count} phones, round {round_number} (load {load:.1f}): adb server {times['server'][-1]:.3f} s, "
                          f"direct {times['direct'][-1]:.3f} s, adb script -P 4 {times['script'][-1]:.3f} s", flush=True)
            finally:
                server.kill_server()
                simulator.terminate()
                simulator.wait(30)
        medians = {way: statistics.median(values) for way, values in times.items()}
        rows.append({"phones": count, "attached": len(attached), "times": times, "medians": medians,
                     "load": os.getloadavg()[0]})
        print(f"  {count} phones ({len(attached)} attached): through the server {medians['server']:.3f} s = "
              f"{medians['server'] / medians['direct']:.2f}x direct ({medians['direct']:.3f} s); "
              f"{medians['script'] / medians['server']:.1f}x faster than the adb script ({medians['script']:.3f} s)")
    return rows


# -- install --------------------------------------------------------------------------------------------------

INSTALLER = """
import asyncio, json, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from device_agent.adb import AdbKey, connect
from device_agent.adb.adb_server import AdbServer

async def main():
    server = AdbServer.from_environment(read_timeout_s=120)
    key = AdbKey.load(Path({key!r}))
    async def one(endpoint):
        session = await connect(endpoint, key, server=server, read_timeout_s=120)
        try:
            await session.install({apk!r}, timeout_s=1800)
        finally:
            await session.close()
    started = time.perf_counter()
    await asyncio.gather(*(one(e) for e in {endpoints!r}))
    print(json.dumps({{"elapsed": time.perf_counter() - started}}))

asyncio.run(main())
"""


def phonegate_install(server: AdbServerProcess, key: AdbKey, apk: Path, endpoints: list[str]) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of a child process that installs on every phone at once."""
    code = INSTALLER.format(root=str(ROOT), key=str(key.path), apk=str(apk), endpoints=[f"adb:{e}" for e in endpoints])
    process = subprocess.Popen([sys.executable, "-c", code], env=server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    output = process.stdout.read().decode()  # type: ignore[union-attr]
    errors = process.stderr.read().decode()  # type: ignore[union-attr]
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"PhoneGate's install failed: {errors[-800:]}")
    return json.loads(output)["elapsed"], usage.ru_maxrss * 1024


def adb_installs(server: AdbServerProcess, apk: Path, endpoints: list[str]) -> float:
    started = time.perf_counter()
    processes = [subprocess.Popen([str(server.binary), "-s", endpoint, "install", "-r", str(apk)], env=server.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for endpoint in endpoints]
    outputs = [process.communicate(timeout=1800)[0] for process in processes]
    elapsed = time.perf_counter() - started
    for process, output in zip(processes, outputs):
        if process.returncode != 0 or b"Success" not in output:
            raise SystemExit(f"adb install failed: {output.decode(errors='replace')[-500:]}")
    return elapsed


def run_install(args: argparse.Namespace) -> dict:
    from fixtures_phones import build_signed_apk

    with tempfile.TemporaryDirectory(prefix="phonegate-bench-adbs-install-") as name:
        workdir = Path(name)
        key = AdbKey.create(workdir / "keys" / "adbkey")
        print(f"building a signed {args.size_mb} MB APK ...", flush=True)
        apk = build_signed_apk(workdir / "apk", "org.phonegate.bench", asset_bytes=args.size_mb * 1024 * 1024)
        server = AdbServerProcess(ADB_SERVERS[args.adb](), workdir / "adb-home", key.path).start()  # type: ignore[arg-type]
        simulator, endpoints = start_phones(workdir, key, args.install_phones, args.profile)
        ours: list[float] = []
        theirs: list[float] = []
        peaks: list[int] = []
        try:
            if attach(server, endpoints) < len(endpoints):
                raise SystemExit("not every phone is attached to the adb server")
            for round_number in range(1, args.rounds + 1):
                if round_number % 2:  # alternate who goes first, so neither always meets a warmer phone
                    theirs.append(adb_installs(server, apk, endpoints))
                elapsed, peak = phonegate_install(server, key, apk, endpoints)
                ours.append(elapsed)
                peaks.append(peak)
                if not round_number % 2:
                    theirs.append(adb_installs(server, apk, endpoints))
                print(f"round {round_number} (load {os.getloadavg()[0]:.1f}): {len(endpoints)} x adb install {theirs[-1]:.2f} s, "
                      f"PhoneGate {ours[-1]:.2f} s, PhoneGate peak RSS {peak / 1e6:.0f} MB", flush=True)
        finally:
            server.kill_server()
            simulator.terminate()
            simulator.wait(60)
        size = apk.stat().st_size
    result = {"size": size, "ours": ours, "theirs": theirs, "peaks": peaks, "load": os.getloadavg()[0]}
    ratio = statistics.median(theirs) / statistics.median(ours)
    print(f"  APK {size / 1e6:.1f} MB on {len(endpoints)} phones: adb install x{len(endpoints)} median {statistics.median(theirs):.2f} s, "
          f"PhoneGate median {statistics.median(ours):.2f} s, ratio adb/PhoneGate {ratio:.2f} (>= 1.00: PhoneGate as fast or faster); "
          f"peak RSS {max(peaks) / 1e6:.0f} MB = {max(peaks) / size:.2f}x the APK")
    return result


# -- BENCHMARKS.md ----------------------------------------------------------------------------------------------


def write_section(section: str, body: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# PhoneGate benchmarks\n"
    start = text.find(section)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = text.find("\n## ", start + len(section))
        text = text[:start] + body + ("\n" + text[end + 1:] if end != -1 else "")
    path.write_text(text)
    print(f"updated {path}")


def facts_body(args: argparse.Namespace, rows: list[dict]) -> str:
    lines = [
        f"{FACTS_SECTION}\n",
        f"Command: `.venv/bin/python bench/bench_adb_server.py facts --phones {' '.join(map(str, args.phones))} "
        f"--rounds {args.rounds} --adb {args.adb} --write` (machine: 2 cores; {args.profile} phones from `phonegate simulate` "
        f"in its own process, attached with `adb connect` to a private {args.adb} adb server; the three ways read the "
        "same phones in each round).\n",
        "| phones | through the adb server (s) | direct TCP (s) | adb script, `xargs -P 4`, 12 `adb shell` per phone (s) "
        "| server / direct | script / server |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        med, times = row["medians"], row["times"]
        lines.append(
            f"| {row['phones']}{'' if row['attached'] == row['phones'] else ' (%d attached)' % row['attached']} "
            f"| {med['server']:.3f} ({', '.join(f'{t:.3f}' for t in times['server'])}) "
            f"| {med['direct']:.3f} ({', '.join(f'{t:.3f}' for t in times['direct'])}) "
            f"| {med['script']:.3f} ({', '.join(f'{t:.3f}' for t in times['script'])}) "
            f"| **{med['server'] / med['direct']:.2f}x** | **{med['script'] / med['server']:.1f}x** |")
    lines.append(
        f"\nMedians of {args.rounds} rounds, every round in brackets; 1-minute load average at the end "
        f"{', '.join('%.1f' % row['load'] for row in rows)}. Through the server a phone costs its features "
        "and `host:tport` + one `shell,v2,raw` with the whole collection script, plus a share of one `host:devices-l` "
        "(phones connecting at once share the listing that checks their state); direct TCP costs a TCP connect and the "
        "RSA handshake instead, which is why the server path can be the faster. The script through the same server pays "
        "one `adb` process per read. Other work on this shared 2-core machine (the load figures) slows all three ways; "
        "the ratios are from the same rounds.\n")
    return "\n".join(lines)


def install_body(args: argparse.Namespace, result: dict) -> str:
    size, ours, theirs, peaks = result["size"], result["ours"], result["theirs"], result["peaks"]
    ratio = statistics.median(theirs) / statistics.median(ours)
    return (
        f"{INSTALL_SECTION}\n\n"
        f"Command: `.venv/bin/python bench/bench_adb_server.py install --size-mb {args.size_mb} --install-phones "
        f"{args.install_phones} --rounds {args.rounds} --adb {args.adb} --write` (machine: 2 cores; {args.install_phones} "
        f"simulated {args.profile} phones in one `phonegate simulate` process, attached with `adb connect` to a private "
        f"{args.adb} adb server; rounds alternate who goes first).\n\n"
        f"| way | median of {args.rounds} (s) | all runs (s) |\n|---|---|---|\n"
        f"| {args.install_phones} x `adb install -r` in parallel | {statistics.median(theirs):.2f} | {', '.join(f'{t:.2f}' for t in theirs)} |\n"
        f"| PhoneGate: `PhoneSession.install` on all {args.install_phones} at once (`abb_exec`, sendfile from disk) "
        f"| {statistics.median(ours):.2f} | {', '.join(f'{t:.2f}' for t in ours)} |\n\n"
        f"APK {size / 1e6:.1f} MB (real, signed, incompressible asset). Ratio adb / PhoneGate: **{ratio:.2f}** (at least "
        f"1.00: PhoneGate as fast or faster). Peak RSS of the PhoneGate process (a child running the install step of "
        f"`provision` for all {args.install_phones} phones, read with wait4): {', '.join(f'{p / 1e6:.0f}' for p in peaks)} MB, "
        f"**{max(peaks) / size:.2f}x the APK's size** (the APK goes from disk to the socket with sendfile and is never "
        f"held in memory, once or per phone). Both sides wait mostly for the simulated phones, which receive and verify "
        f"{args.install_phones} x {size / 1e6:.0f} MB in one Python process; load average at the end {result['load']:.1f}.\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["facts", "install"])
    parser.add_argument("--phones", type=int, nargs="+", default=[16, 200])
    parser.add_argument("--install-phones", type=int, default=8)
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--adb", choices=sorted(ADB_SERVERS), default="debian-29.0.6")
    parser.add_argument("--profile", default="samsung-galaxy-s24")
    parser.add_argument("--write", action="store_true", help="update the section in BENCHMARKS.md")
    args = parser.parse_args()
    if args.what == "facts":
        rows = run_facts(args)
        if args.write:
            write_section(FACTS_SECTION, facts_body(args, rows))
    else:
        if args.profile == "samsung-galaxy-s24":
            args.profile = "google-pixel-9"
        result = run_install(args)
        if args.write:
            write_section(INSTALL_SECTION, install_body(args, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
