"""The virtual phone without the network: its shell, profiles, file tree, install rules and faults."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from device_agent.simulator.phone import VirtualPhone
from device_agent.simulator.profiles import PROFILE_DIR, PROFILE_NAMES, Faults, ProfileInvalid, load_profile, parse_profile
from phonegate.core.errors import BadInput


@pytest.fixture
def pixel() -> VirtualPhone:
    return VirtualPhone.from_profile("google-pixel-9", serial="PIXEL01")


def run(phone: VirtualPhone, command: str) -> tuple[str, str, int]:
    outcome = phone.run_shell(command)
    return outcome.stdout.decode(), outcome.stderr.decode(), outcome.exit_code


def test_shipped_profiles() -> None:
    assert set(PROFILE_NAMES) == {"google-pixel-9", "google-pixel-9-adb-network", "motorola-moto-g6", "rooted-oneplus",
                                  "samsung-galaxy-a12-outdated", "samsung-galaxy-s24"}
    for name in PROFILE_NAMES:
        profile = load_profile(name)
        assert profile.name == name
        assert profile.sdk > 0
    assert load_profile(PROFILE_DIR / "google-pixel-9.yaml").name == "google-pixel-9"


@pytest.mark.parametrize("change, field", [
    (lambda d: d.update(colour="red"), "colour"),
    (lambda d: d["packages"][0].update(versioncode=3), "packages[0].versioncode"),
    (lambda d: d["packages"][0].update(version_code="three"), "packages[0].version_code"),
    (lambda d: d["properties"].pop("ro.product.model"), "properties.ro.product.model"),
    (lambda d: d.update(lock="fingerprint"), "lock"),
    (lambda d: d.update(faults={"hang": "yes"}), "faults.hang"),
    (lambda d: d.update(faults={"explode": True}), "faults.explode"),
    (lambda d: d["settings"].update(vendor={}), "settings.vendor"),
    (lambda d: d["files"].append({"path": "relative/x", "age_days": 1}), "files[1].path"),
])
def test_profile_validation_names_the_field(change, field: str) -> None:
    data = yaml.safe_load((PROFILE_DIR / "google-pixel-9.yaml").read_text())
    change(data)
    with pytest.raises(ProfileInvalid, match=field.replace("[", r"\[").replace("]", r"\]")) as caught:
        parse_profile(data)
    assert isinstance(caught.value, BadInput)
    assert isinstance(caught.value, ValueError)


def test_unknown_profile_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ProfileInvalid, match="No phone profile called 'nokia-3310'"):
        load_profile("nokia-3310")
    bad = tmp_path / "bad.yaml"
    bad.write_text("properties: [unclosed\n")
    with pytest.raises(ProfileInvalid, match="not valid YAML"):
        load_profile(bad)


def test_banner_and_features_by_release() -> None:
    pixel = VirtualPhone.from_profile("google-pixel-9")
    assert pixel.banner().startswith("device::ro.product.name=tokay;ro.product.model=Pixel 9;ro.product.device=tokay;features=")
    assert {"shell_v2", "cmd", "abb_exec", "sendrecv_v2"} <= pixel.features()
    moto = VirtualPhone.from_profile("motorola-moto-g6")
    assert not {"cmd", "abb", "abb_exec"} & moto.features()  # installs must push + pm install
    old = VirtualPhone.from_profile(load_profile("samsung-galaxy-s24"))
    old.properties["ro.build.version.sdk"] = "23"
    assert not {"shell_v2", "cmd", "abb"} & old.features()


def test_shell_lists_quoting_and_exit_codes(pixel: VirtualPhone) -> None:
    assert run(pixel, "echo a; echo 'b c' && echo \"d $?\" || echo never") == ("a\nb c\nd 0\n", "", 0)
    assert run(pixel, "false && echo no || echo yes") == ("yes\n", "", 0)
    assert run(pixel, "true; exit 7; echo after") == ("", "", 7)
    assert run(pixel, "echo it\\'s") == ("it's\n", "", 0)
    assert run(pixel, "echo 'unclosed")[2] == 2


def test_unknown_command(pixel: VirtualPhone) -> None:
    out, err, code = run(pixel, "frobnicate --now")
    assert (out, err, code) == ("", "/system/bin/sh: frobnicate: inaccessible or not found\n", 127)
    assert run(pixel, "frobnicate 2>/dev/null; echo $?") == ("127\n", "", 0)


def test_getprop_and_settings(pixel: VirtualPhone) -> None:
    assert run(pixel, "getprop ro.product.model") == ("Pixel 9\n", "", 0)
    assert run(pixel, "getprop ro.serialno") == ("PIXEL01\n", "", 0)
    assert run(pixel, "getprop no.such.prop") == ("\n", "", 0)
    assert run(pixel, "getprop ro.crypto.state") == ("encrypted\n", "", 0)
    assert run(pixel, "settings get global adb_enabled") == ("1\n", "", 0)
    assert run(pixel, "settings get secure nothing_here") == ("null\n", "", 0)
    assert run(pixel, "settings list nonsense")[2] == 255


def test_pipes_and_grep(pixel: VirtualPhone) -> None:
    out, _, code = run(pixel, "getprop | grep -E 'ro.build.version.(sdk|release)]'")
    assert out == "[ro.build.version.release]: [15]\n[ro.build.version.sdk]: [35]\n"
    assert code == 0
    assert run(pixel, "getprop | grep -c-nothing-matches zzz")[2] == 1


def test_files_ls_stat_find_cat_rm(pixel: VirtualPhone) -> None:
    assert pixel.write_file("/sdcard/Download/a.txt", b"hello\n", 0o644, 1_700_000_000) is None
    assert run(pixel, "cat /sdcard/Download/a.txt") == ("hello\n", "", 0)
    assert run(pixel, "cat /storage/emulated/0/Download/a.txt")[0] == "hello\n"  # the shared-storage alias
    assert run(pixel, "stat -c '%Y %s %n' /sdcard/Download/a.txt") == ("1700000000 6 /sdcard/Download/a.txt\n", "", 0)
    assert "a.txt" in run(pixel, "ls /sdcard/Download")[0]
    assert run(pixel, "ls -l /sdcard/Download")[0].startswith("-rw-r--r--")
    assert run(pixel, "find /sdcard/Download -type f") == ("/sdcard/Download/a.txt\n", "", 0)
    assert run(pixel, "ls /sdcard/Download/*.txt") == ("/sdcard/Download/a.txt\n", "", 0)
    assert run(pixel, "rm /sdcard/Download/a.txt; cat /sdcard/Download/a.txt")[2] == 1
    assert run(pixel, "ls /nope")[2] == 1
    assert pixel.write_file("/system/bin/evil", b"x", 0o755, 0) == "/system/bin/evil: Read-only file system"


def test_sync_api(pixel: VirtualPhone) -> None:
    info = pixel.stat("/sdcard")
    assert info is not None
    assert stat.S_ISDIR(info.mode)
    pixel.write_file("/data/local/tmp/x.bin", b"\x00" * 10, 0o600, 1_700_000_123)
    info = pixel.stat("/data/local/tmp/x.bin")
    assert info is not None
    assert stat.S_ISREG(info.mode)
    assert (info.size, info.mtime) == (10, 1_700_000_123)
    assert ("x.bin", info) in (pixel.listdir("/data/local/tmp") or [])
    assert pixel.read_file("/data/local/tmp/x.bin") == b"\x00" * 10
    assert pixel.stat("/missing") is None
    assert pixel.listdir("/missing") is None
    assert pixel.read_file("/sdcard") is None


def test_media_ages_come_from_the_profile() -> None:
    phone = VirtualPhone.from_profile("samsung-galaxy-s24")
    out, _, _ = run(phone, "find /sdcard/Android/media/com.whatsapp/WhatsApp/Media -type f -exec stat -c '%Y %n' {} +")
    ages = {line.split(" ", 1)[1].rsplit("/", 1)[-1]: (phone.now() - int(line.split(" ", 1)[0])) / 86400
            for line in out.splitlines()}
    assert round(ages["IMG-20261020-WA0003.jpg"]) == 40
    assert round(ages["Rota November.pdf"]) == 12


def test_root_indicators() -> None:
    rooted = VirtualPhone.from_profile("rooted-oneplus")
    assert run(rooted, "command -v su") == ("/system/xbin/su\n/debug_ramdisk/su\n", "", 0)
    assert run(rooted, "which su")[2] == 0
    clean = VirtualPhone.from_profile("samsung-galaxy-s24")
    assert run(clean, "command -v su") == ("", "", 1)


def test_accounts_types_only_pipeline() -> None:
    phone = VirtualPhone.from_profile("samsung-galaxy-s24")
    out, _, _ = run(phone, "dumpsys account | grep -oE 'Account \\{name=[^}]*\\}' | grep -oE 'type=[^}]*'")
    assert out == "type=com.google\ntype=com.microsoft.workaccount\ntype=com.whatsapp\n"


def test_install_rules_and_package_appears(pixel: VirtualPhone, test_apks) -> None:
    assert pixel.install_apk(test_apks.whatsapp.read_bytes(), []) == "Success"
    out, _, _ = run(pixel, "pm list packages -i --show-versioncode com.whatsapp")
    assert "package:com.whatsapp versionCode:242201005  installer=null" in out
    dump = run(pixel, "dumpsys package com.whatsapp")[0]
    assert "versionName=2.24.22.5" in dump
    assert pixel.install_apk(test_apks.wrong_signer.read_bytes(), ["-r"]).startswith("Failure [INSTALL_FAILED_UPDATE_INCOMPATIBLE")
    assert pixel.install_apk(test_apks.whatsapp_newer.read_bytes(), ["-r", "-i", "com.android.vending"]) == "Success"
    assert pixel.install_apk(test_apks.whatsapp.read_bytes(), ["-r"]).startswith("Failure [INSTALL_FAILED_VERSION_DOWNGRADE")
    assert pixel.install_apk(test_apks.whatsapp.read_bytes(), ["-r", "-d"]) == "Success"
    assert pixel.package_db.packages["com.whatsapp"].installer == "com.android.vending"  # kept across updates
    assert run(pixel, "pm uninstall com.whatsapp")[0] == "Success\n"
    assert "Unable to find package: com.whatsapp" in run(pixel, "dumpsys package com.whatsapp")[0]


def test_push_then_pm_install_on_old_phone(test_apks) -> None:
    moto = VirtualPhone.from_profile("motorola-moto-g6")  # its WhatsApp has another signer
    moto.write_file("/data/local/tmp/w4b.apk", test_apks.w4b.read_bytes(), 0o644, 0)
    assert run(moto, "pm install -r /data/local/tmp/w4b.apk; rm /data/local/tmp/w4b.apk") == ("Success\n", "", 0)
    assert "com.whatsapp.w4b" in moto.package_db.packages
    assert moto.stat("/data/local/tmp/w4b.apk") is None
    assert run(moto, "pm install /data/local/tmp/missing.apk")[0].startswith("Failure [INSTALL_FAILED_INVALID_URI")
    moto.write_file("/data/local/tmp/w.apk", test_apks.whatsapp.read_bytes(), 0o644, 0)
    assert "INSTALL_FAILED_UPDATE_INCOMPATIBLE" in run(moto, "pm install -r /data/local/tmp/w.apk")[0]


def test_install_failure_fault(pixel: VirtualPhone, test_apks) -> None:
    pixel.faults.install_failure = "INSTALL_FAILED_INSUFFICIENT_STORAGE"
    assert pixel.install_apk(test_apks.w4b.read_bytes(), []).startswith("Failure [INSTALL_FAILED_INSUFFICIENT_STORAGE")
    assert "com.whatsapp.w4b" not in pixel.package_db.packages


def test_garbage_fault_corrupts_output(pixel: VirtualPhone) -> None:
    clean = pixel.run_shell("getprop").stdout
    pixel.faults.garbage_output = True
    dirty = pixel.run_shell("getprop").stdout
    assert dirty != clean
    assert len(dirty) > 0


def test_full_storage_refuses_installs(test_apks) -> None:
    profile = load_profile("google-pixel-9")
    profile.storage_free_mb = 0
    phone = VirtualPhone.from_profile(profile)
    assert phone.install_apk(test_apks.w4b.read_bytes(), []).startswith("Failure [INSTALL_FAILED_INSUFFICIENT_STORAGE")


yaml_values = st.recursive(st.none() | st.booleans() | st.integers(-5, 10**12) | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                           max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "serial", "properties", "packages", "settings", "lock", "root", "accounts",
                                        "files", "faults", "storage_free_mb", "adb_features", "adb_network", "extends",
                                        "other"]), yaml_values))
def test_random_profiles_are_accepted_or_refused_clearly(data: dict) -> None:
    base = yaml.safe_load((PROFILE_DIR / "google-pixel-9.yaml").read_text())
    base.update(data)
    try:
        profile = parse_profile(base)
    except ProfileInvalid as exc:
        assert str(exc).startswith(("Profile field", "Profile "))
        return
    VirtualPhone.from_profile(profile).run_shell("getprop; pm list packages; settings list global")


def test_faults_from_profile_values() -> None:
    faults = Faults.from_mapping({"latency_ms": 20, "install_failure": "INSTALL_FAILED_INSUFFICIENT_STORAGE"})
    assert faults.latency_ms == 20.0
    assert faults.hang is False
    with pytest.raises(ProfileInvalid, match="faults.install_failure"):
        Faults.from_mapping({"install_failure": "broken"})


def test_change_a_running_phone_as_a_person_would() -> None:
    phone = VirtualPhone.from_profile("rooted-oneplus")
    phone.change(properties={"ro.debuggable": "0", "ro.lineage.version": None}, settings={"global": {"adb_enabled": "0"}},
                 lock="pin", su_paths=[], uninstall=["com.topjohnwu.magisk"])
    assert run(phone, "getprop ro.debuggable") == ("0\n", "", 0)
    assert "ro.lineage.version" not in run(phone, "getprop")[0]
    assert run(phone, "settings get global adb_enabled")[0] == "0\n"
    assert "CredentialType: Pin" in run(phone, "dumpsys lock_settings")[0]
    assert run(phone, "command -v su")[2] == 1
    assert "com.topjohnwu.magisk" not in run(phone, "pm list packages")[0]


def test_a_bad_change_names_the_field_and_changes_nothing() -> None:
    phone = VirtualPhone.from_profile("rooted-oneplus")
    before = dict(phone.properties)
    with pytest.raises(ProfileInvalid, match="lock"):
        phone.change(properties={"ro.debuggable": "0"}, lock="fingerprint")
    with pytest.raises(ProfileInvalid, match=r"properties\.ro\.secure"):
        phone.change(properties={"ro.secure": 1})
    with pytest.raises(ProfileInvalid, match="settings.vendor"):
        phone.change(settings={"vendor": {"x": "1"}})
    assert phone.properties == before


def test_reflash_makes_a_rooted_phone_clean_and_keeps_serial_and_faults() -> None:
    phone = VirtualPhone.from_profile("rooted-oneplus", serial="ROOTED01")
    phone.faults.latency_ms = 5
    phone.write_file("/sdcard/Download/left.txt", b"x", 0o644, 0)
    phone.reflash("samsung-galaxy-s24")
    assert run(phone, "getprop ro.serialno") == ("ROOTED01\n", "", 0)
    assert run(phone, "getprop ro.boot.verifiedbootstate")[0] == "green\n"
    assert run(phone, "command -v su")[2] == 1
    assert "com.topjohnwu.magisk" not in phone.package_db.packages
    assert phone.stat("/sdcard/Download/left.txt") is None  # a re-imaged phone is wiped
    assert phone.faults.latency_ms == 5
    assert "com.whatsapp" in run(phone, "pm list packages")[0]  # the shell works on the new system
