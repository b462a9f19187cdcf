"""Fact collection: the pure parse of the script's output, and the real thing over ADB to simulated phones."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import date, datetime, timezone

import pytest

from device_agent.adb import connect_tcp
from device_agent.collect import COLLECT_SCRIPT, DEFAULT_CATALOGUE, collect_facts, collection_script, parse_collection
from device_agent.facts import DeviceFacts
from device_agent.simulator.phone import VirtualPhone
from device_agent.simulator.profiles import PROFILE_NAMES
from phonegate.core.errors import BadInput

CATALOGUE = list(DEFAULT_CATALOGUE)
# profile -> what the facts must say
EXPECTED = {
    "samsung-galaxy-s24": dict(model="SM-S921B", sdk=34, patch=date(2026, 10, 1), encrypted=True, lock=True,
                               su=[], boot="green", locked=True, test_keys=False, apps={"com.whatsapp": (242101006, "2.24.21.6")},
                               accounts=["com.google", "com.microsoft.workaccount", "com.whatsapp"], media=4),
    "google-pixel-9": dict(model="Pixel 9", sdk=35, patch=date(2026, 11, 5), encrypted=True, lock=True, su=[],
                           boot="green", locked=True, test_keys=False, apps={}, accounts=["com.google"], media=0),
    "google-pixel-9-adb-network": dict(model="Pixel 9", sdk=35, patch=date(2026, 11, 5), encrypted=True, lock=True, su=[],
                                       boot="green", locked=True, test_keys=False, apps={}, accounts=["com.google"], media=0),
    "motorola-moto-g6": dict(model="moto g(6)", sdk=26, patch=date(2019, 3, 1), encrypted=False, lock=False, su=[],
                             boot="green", locked=True, test_keys=False, apps={"com.whatsapp": (219000, "2.19.360")},
                             accounts=["com.google", "com.whatsapp"], media=3),
    "rooted-oneplus": dict(model="CPH2449", sdk=34, patch=date(2026, 8, 1), encrypted=True, lock=True,
                           su=["/debug_ramdisk/su", "/system/xbin/su"], boot="orange", locked=False, test_keys=True,
                           apps={"com.whatsapp.w4b": (242001004, "2.24.20.4")}, accounts=["com.google"], media=1),
    "samsung-galaxy-a12-outdated": dict(model="SM-A125F", sdk=31, patch=date(2023, 4, 1), encrypted=True, lock=True, su=[],
                                        boot="green", locked=True, test_keys=False,
                                        apps={"com.whatsapp.w4b": (231010003, "2.23.10.3")},
                                        accounts=["com.google", "com.whatsapp.w4b"], media=2),
}


def collect_locally(phone: VirtualPhone, catalogue=CATALOGUE, **kwargs) -> DeviceFacts:
    script, nonce = collection_script(catalogue)
    outcome = phone.run_shell(script)
    assert outcome.exit_code == 0
    return parse_collection(outcome.stdout, catalogue, datetime.now(timezone.utc), nonce=nonce, **kwargs)


def check(facts: DeviceFacts, profile: str, serial: str) -> None:
    want = EXPECTED[profile]
    assert facts.problems == []
    assert (facts.serial, facts.model, facts.sdk, facts.security_patch) == (serial, want["model"], want["sdk"], want["patch"])
    assert (facts.encrypted, facts.secure_lock) == (want["encrypted"], want["lock"])
    assert facts.root.su_paths == want["su"]
    assert facts.root.verified_boot_state == want["boot"]
    assert facts.root.bootloader_locked is want["locked"]
    assert facts.root.test_keys is want["test_keys"]
    assert {n: (a.version_code, a.version_name) for n, a in facts.apps.items()} == want["apps"]
    assert facts.account_types == want["accounts"]
    assert len(facts.media_files or []) == want["media"]


def test_every_profile_has_expectations() -> None:
    assert set(EXPECTED) == set(PROFILE_NAMES)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_parse_collection_per_profile(profile: str) -> None:
    phone = VirtualPhone.from_profile(profile, serial="S-1")
    facts = collect_locally(phone)
    check(facts, profile, "S-1")
    assert set(facts.packages) == set(phone.package_db.packages)
    assert facts.settings["secure"] == phone.settings["secure"]
    assert {k: v for k, v in facts.settings["global"].items() if k != "device_name"} == \
        {k: v for k, v in phone.settings["global"].items() if k != "device_name"}
    assert {n for n, e in facts.packages.items() if e.system} == {n for n, p in phone.package_db.packages.items() if p.system}
    assert all(m.modified_at <= datetime.now(timezone.utc) for m in facts.media_files or [])


def test_script_sections_and_package_name_check() -> None:
    for section in ("getprop", "packages", "system_packages", "settings_global", "settings_secure", "settings_system",
                    "lock", "su", "accounts", "media", "clock", "app:com.whatsapp", "app:com.whatsapp.w4b", "end"):
        assert f":{section}>>'" in COLLECT_SCRIPT
    script_a, nonce_a = collection_script(CATALOGUE)
    script_b, nonce_b = collection_script(CATALOGUE)
    assert nonce_a != nonce_b
    assert nonce_a in script_a
    for bad in ("com.whatsapp; reboot", "$(id)", "com.x'y", "", "a" * 300):
        with pytest.raises(BadInput):
            collection_script([bad])


def test_device_text_cannot_forge_sections() -> None:
    phone = VirtualPhone.from_profile("samsung-galaxy-s24")
    phone.settings["global"]["device_name"] = "x\n<<PG:0123456789abcdef:getprop>>\n[ro.product.model]: [Forged]"
    phone.settings["system"]["evil"] = "<<PG:0123456789abcdef:end>>"
    facts = collect_locally(phone)
    assert facts.model == "SM-S921B"
    assert "<<PG:0123456789abcdef:end>>" == facts.settings["system"]["evil"]


def test_personal_setting_values_are_redacted() -> None:
    phone = VirtualPhone.from_profile("samsung-galaxy-s24")
    phone.settings["secure"]["bluetooth_name"] = "Jane Smith's S24"
    phone.properties["persist.sys.device_name"] = "Jane's phone"
    facts = collect_locally(phone)
    assert facts.settings["secure"]["bluetooth_name"] == "<redacted>"
    assert facts.settings["global"]["device_name"] == "<redacted>"
    assert "Jane" not in str(facts.to_json())


def test_truncated_output_is_noted() -> None:
    phone = VirtualPhone.from_profile("samsung-galaxy-s24")
    script, nonce = collection_script(CATALOGUE)
    output = phone.run_shell(script).stdout
    facts = parse_collection(output[: len(output) // 3], CATALOGUE, datetime.now(timezone.utc), nonce=nonce)
    assert facts.model == "SM-S921B"
    assert "collection: output ended early (no end marker)" in facts.problems
    assert facts.apps == {}
    assert facts.secure_lock is None


def test_garbage_fault_degrades_to_unknowns() -> None:
    phone = VirtualPhone.from_profile("samsung-galaxy-s24")
    phone.faults.garbage_output = True
    facts = collect_locally(phone)
    assert facts.problems  # something was noticed, and nothing raised


def test_known_certificate_fills_signer_sha256(test_apks) -> None:
    phone = VirtualPhone.from_profile("google-pixel-9")
    assert phone.install_apk(test_apks.whatsapp.read_bytes(), []) == "Success"
    facts = collect_locally(phone, known_certificates=[test_apks.key_b.der, test_apks.key_a.der])
    app = facts.apps["com.whatsapp"]
    assert app.signer_sha256 == [test_apks.key_a.sha256]
    assert app.installer is None
    assert app.first_install_time is not None
    assert abs((datetime.now(timezone.utc) - app.first_install_time).total_seconds()) < 5
    unknown = collect_locally(phone)
    assert unknown.apps["com.whatsapp"].signer_sha256 == []
    assert unknown.apps["com.whatsapp"].signer_hashcodes


def test_facts_json_round_trip() -> None:
    facts = collect_locally(VirtualPhone.from_profile("rooted-oneplus"))
    again = DeviceFacts.from_json(facts.to_json())
    assert again.to_json() == facts.to_json()


def test_collect_over_adb_from_many_phones(phone_simulator, adb_key) -> None:
    phones = phone_simulator(10, profiles=PROFILE_NAMES)

    async def gather():
        async def one(running):
            session = await connect_tcp(running.endpoint, adb_key)
            try:
                return await collect_facts(session, CATALOGUE)
            finally:
                await session.close()
        return await asyncio.gather(*(one(p) for p in phones))

    results = asyncio.run(gather())
    for running, facts in zip(phones, results):
        check(facts, running.phone.profile.name, running.serial)


def test_collect_over_adb_from_a_phone_that_sends_garbage(phone_simulator, adb_key) -> None:
    (running,) = phone_simulator(1, profiles=["samsung-galaxy-s24"])
    running.phone.faults.garbage_output = True

    async def once():
        session = await connect_tcp(running.endpoint, adb_key)
        try:
            return await collect_facts(session, CATALOGUE)
        finally:
            await session.close()

    facts = asyncio.run(once())
    assert facts.problems
    assert facts.collected_at is not None


def test_fact_collection_does_not_load_the_simulator() -> None:
    probe = ("import sys, device_agent.collect, device_agent.facts, device_agent.parsers; "
             "print(sorted(m for m in sys.modules if m.startswith('device_agent.simulator')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True).stdout
    assert loaded.strip() == "[]"
