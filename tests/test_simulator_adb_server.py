"""What the adb-server tests need from the simulator, checked against real adb servers: phones that trust only the
server's key (so no test can pass by a direct connection), a cable pulled mid-install and plugged back, and a
running phone changed from the test (a rooted phone made clean by IT)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from device_agent.adb import AdbKey, DeviceUnauthorised, connect_tcp
from device_agent.collect import collect_facts

pytestmark = pytest.mark.adb


def only_trusting(phone_simulator, tmp_path: Path, key: AdbKey, profile: str = "google-pixel-9"):  # type: ignore[no-untyped-def]
    (phone,) = phone_simulator(1, profiles=[profile], authorised=False)
    phone.simulated.keys.path.write_text(key.public_line + "\n")
    return phone


def direct_connection_is_refused(endpoint: str, key: AdbKey) -> bool:
    try:
        asyncio.run(connect_tcp(endpoint, key, auth_timeout_s=0.5))
    except DeviceUnauthorised:
        return True
    return False


@pytest.mark.parametrize("client", ["debian", "adbx"])
def test_a_phone_trusting_only_the_servers_key_is_reached_only_through_the_server(adb_servers, phone_simulator, adb_key,
                                                                                   tmp_path: Path, client: str) -> None:
    server = adb_servers(client)
    phone = only_trusting(phone_simulator, tmp_path, server.key)
    assert server.connect(phone.endpoint) == "device"
    model = server.run("-s", phone.endpoint, "shell", "getprop", "ro.product.model").stdout.decode().strip()
    assert model == "Pixel 9"
    assert direct_connection_is_refused(phone.endpoint, adb_key)  # PhoneGate's own key is not on the phone


def test_phonegate_simulate_with_authorized_keys_works_through_adb_connect(adb_servers, adb_key) -> None:
    server = adb_servers("debian")
    keys_file = Path(str(server.key.path) + ".pub")
    process = subprocess.Popen([sys.executable, "-m", "phonegate", "simulate", "--port", "0", "--profile", "samsung-galaxy-s24",
                                "--authorized-keys", str(keys_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        serial, endpoint = process.stdout.readline().split()  # type: ignore[union-attr]
        assert server.connect(endpoint) == "device"
        shown = server.run("-s", endpoint, "shell", "getprop", "ro.serialno").stdout.decode().strip()
        assert shown == serial
        assert direct_connection_is_refused(endpoint, adb_key)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    assert process.returncode == 0


@pytest.mark.parametrize(("client", "profile"), [("debian", "google-pixel-9"), ("adbx", "google-pixel-9"),
                                                 ("debian", "legacy")])  # abb_exec / exec:cmd streamed; push + pm install
def test_a_cable_pulled_mid_install_then_plugged_back_lets_the_install_finish(adb_servers, phone_simulator, tmp_path: Path,
                                                                              small_signed_apk: Path, client: str,
                                                                              profile: str) -> None:
    from fixtures_phones import legacy_android_profile

    server = adb_servers(client)
    phone = only_trusting(phone_simulator, tmp_path, server.key, legacy_android_profile() if profile == "legacy" else profile)
    assert server.connect(phone.endpoint) == "device"
    phone.phone.faults.drop_mid_install = True
    pulled = server.run("-s", phone.endpoint, "install", str(small_signed_apk), timeout_s=60)
    assert pulled.returncode != 0
    assert "org.phonegate.testapp" not in phone.phone.package_db.packages
    assert phone.phone.faults.drop_mid_install is False  # the fault happens once
    server.run("disconnect", phone.endpoint)  # plugged back in: the server sees the phone arrive again
    assert server.connect(phone.endpoint) == "device"
    again = server.run("-s", phone.endpoint, "install", str(small_signed_apk), timeout_s=60)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "org.phonegate.testapp" in phone.phone.package_db.packages


def test_a_rooted_phone_made_clean_while_it_runs(adb_servers, phone_simulator, tmp_path: Path) -> None:
    server = adb_servers("debian")
    phone = only_trusting(phone_simulator, tmp_path, server.key, "rooted-oneplus")
    assert server.connect(phone.endpoint) == "device"
    assert server.run("-s", phone.endpoint, "shell", "command -v su").returncode == 0
    phone.simulator.reflash_phone(phone.serial, "samsung-galaxy-s24")  # IT flashes the stock system
    assert server.run("-s", phone.endpoint, "shell", "command -v su").returncode == 1
    state = server.run("-s", phone.endpoint, "shell", "getprop ro.boot.verifiedbootstate").stdout.decode().strip()
    assert state == "green"
    phone.simulator.change_phone(phone.serial, properties={"ro.debuggable": "1"})
    assert server.run("-s", phone.endpoint, "shell", "getprop ro.debuggable").stdout.decode().strip() == "1"


def test_facts_after_the_fix_are_clean(phone_simulator, adb_key) -> None:
    (phone,) = phone_simulator(1, profiles=["rooted-oneplus"])

    async def facts():  # type: ignore[no-untyped-def]
        session = await connect_tcp(phone.endpoint, adb_key)
        try:
            return await collect_facts(session)
        finally:
            await session.close()

    before = asyncio.run(facts())
    phone.simulator.change_phone(phone.serial, su_paths=[], uninstall=["com.topjohnwu.magisk"],
                                 properties={"ro.debuggable": "0", "ro.build.tags": "release-keys",
                                             "ro.boot.verifiedbootstate": "green", "ro.boot.flash.locked": "1",
                                             "ro.boot.vbmeta.device_state": "locked",
                                             "ro.build.fingerprint": "OnePlus/CPH2449/OP594DL1:14/UKQ1.230924.001/R.1:user/release-keys"})
    after = asyncio.run(facts())
    assert before.root.su_paths == ["/debug_ramdisk/su", "/system/xbin/su"]
    assert after.root.su_paths == []
    assert after.root.debuggable is False
    assert after.root.test_keys is False
    assert after.root.verified_boot_state == "green"
    assert after.root.bootloader_locked is True
    assert "com.topjohnwu.magisk" not in after.packages
