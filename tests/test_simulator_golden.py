"""The simulator's shell answers byte for byte as it did before its commands were split by family (issue 8).

The digests below were recorded from the code before the split: the full fact-collection script
(device_agent.collect) on every shipped profile, and a tour of every command family with its error paths.
The phone's clock is frozen so ages ("40 days ago") print the same every run. A digest that changes means the
simulated phone now answers differently: if that is intended, say so in the commit and record the new digest.
"""

from __future__ import annotations

import hashlib

import pytest

from device_agent.collect import DEFAULT_CATALOGUE, collection_script
from device_agent.simulator.phone import VirtualPhone

FROZEN_NOW = 1_790_000_000  # 2026-09-21 14:13:20 UTC

COLLECTION_DIGESTS = {
    "google-pixel-9": "96714f536370f870881a0cef654fb4c2",
    "motorola-moto-g6": "33392e675eafb9fc5b81d5833711fbaa",
    "rooted-oneplus": "7a896b84cc10fb24c6fa59daf165c8ca",
    "samsung-galaxy-a12-outdated": "78c8d963ee44cbf524b941f291d5063b",
    "samsung-galaxy-s24": "6c1c206f78654a9ba04608beafd55a7d",
}
TOUR_DIGESTS = {
    "google-pixel-9": "dc9e9e3a91d43727a3bb128d3f639565",
    "motorola-moto-g6": "5577c9f1e628c73fd1656d833e4cacd1",
    "rooted-oneplus": "7193cca3644c9043438ef34dd8516ea7",
    "samsung-galaxy-a12-outdated": "83ab2ccae230298b8926bb9d409a6fda",
    "samsung-galaxy-s24": "00f010a980a2bb46561cba800e55a611",
}
# Every command family, with its usage errors; run in this order on one phone (some change its state).
TOUR = [
    "getprop ro.product.model", "getprop no.such.prop fallback", "getprop | head -n 3",
    "settings get global adb_enabled", "settings --user 0 get secure android_id", "settings list system",
    "settings put global pg_test 1; settings get global pg_test", "settings frobnicate",
    "cmd settings get global adb_enabled", "cmd package list packages -3", "cmd nothing", "cmd",
    "pm list packages -f -i -U --show-versioncode", "pm list packages -s", "pm list packages -x", "pm path com.whatsapp",
    "pm path no.such", "pm install", "pm install /data/local/tmp/none.apk", "pm uninstall com.android.settings",
    "pm uninstall no.such", "pm frob", "pm",
    "dumpsys package com.whatsapp", "dumpsys package android", "dumpsys package no.such", "dumpsys account",
    "dumpsys lock_settings", "dumpsys battery", "dumpsys",
    "echo a b; echo -n c; echo", "true; echo $?", "false; echo $?",
    "ls /sdcard", "ls -l /sdcard/DCIM/Camera /sdcard/Download", "ls -d /sdcard", "ls /nope /sdcard/Download",
    "stat /sdcard/Download", "stat -c '%n %N %s %Y %X %a %f %F %y %U %G %% %q' /sdcard /sdcard/Download/policy.pdf /x",
    "find /sdcard -type f", "find /sdcard -type d -name 'W*'", "find /sdcard -name '*.jpg' -exec stat -c '%s %n' {} +",
    "find /nope", "find /sdcard -exec ls {} +", "find /sdcard -bogus",
    "cat /sdcard/Download/policy.pdf | sha256sum", "cat /nope /sdcard", "echo hi | cat",
    "mkdir -p /sdcard/pg/a/b; ls /sdcard/pg/a", "echo x > /sdcard/pg/f; echo y >> /sdcard/pg/f; cat /sdcard/pg/f",
    "rm /sdcard/pg; rm -r /sdcard/pg; ls /sdcard/pg", "rm -f /nope; echo $?",
    "which su sh getprop", "which nothing", "command -v su", "command -V ls", "command echo hi", "command nothing",
    "getprop | grep -E 'ro.build.version.(sdk|release)]'", "getprop | grep -c zzz", "getprop | grep -i -o 'SAMSUNG'",
    "getprop | grep -v ro. | head -2", "getprop | grep -F '[ro.secure]'", "getprop | grep 'a\\{2\\}'", "grep",
    "getprop | grep '('", "getprop | head -2", "getprop | head -n 1", "getprop | head -n x",
    "date +%s", "date", "sha256sum /sdcard/Download/policy.pdf /nope", "sh -c 'echo inner; exit 4'; echo $?", "sh",
    "id", "whoami", "uname", "uname -a", "sleep 1", "frobnicate", "/system/bin/getprop ro.secure", "exit 3",
]


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(VirtualPhone, "now", staticmethod(lambda: FROZEN_NOW))


def digest(profile: str, commands: list[str]) -> str:
    phone = VirtualPhone.from_profile(profile, serial="GOLD01")
    running = hashlib.sha256()
    for command in commands:
        outcome = phone.run_shell(command)
        running.update(b"\0".join([command.encode(), outcome.stdout, outcome.stderr, str(outcome.exit_code).encode()]) + b"\n")
    return running.hexdigest()[:32]


@pytest.mark.parametrize("profile", sorted(COLLECTION_DIGESTS))
def test_collection_script_output_is_unchanged(profile: str) -> None:
    script, _ = collection_script(DEFAULT_CATALOGUE, nonce="0123456789abcdef")
    assert digest(profile, [script]) == COLLECTION_DIGESTS[profile]


@pytest.mark.parametrize("profile", sorted(TOUR_DIGESTS))
def test_command_tour_output_is_unchanged(profile: str) -> None:
    assert digest(profile, TOUR) == TOUR_DIGESTS[profile]
