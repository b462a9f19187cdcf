"""APK reading and signature verification, cross-checked against Debian's apksigner on real signed APKs."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from phonegate.core.apk import ApkInvalid, inspect_apk, inspect_apk_bytes
from phonegate.core.errors import BadInput

ALL = ["whatsapp", "whatsapp_newer", "w4b", "wrong_signer", "needs_android_16", "v1_only", "v1_only_targets_android_14",
       "v2_only", "v3_only", "tampered", "v1_tampered", "unsigned", "not_apk", "no_manifest"]


def apksigner(path: Path) -> tuple[bool, list[str]]:
    result = subprocess.run(["apksigner", "verify", "--print-certs", str(path)], capture_output=True, text=True, timeout=120)
    digests = re.findall(r"certificate SHA-256 digest: ([0-9a-f]{64})", result.stdout)
    return result.returncode == 0, digests


@pytest.mark.slow
def test_verdicts_and_digests_match_apksigner(test_apks) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:  # one JVM per apksigner run
        reference = dict(zip(ALL, pool.map(lambda name: apksigner(getattr(test_apks, name)), ALL)))
    for name in ALL:
        verifies, digests = reference[name]
        try:
            info = inspect_apk(getattr(test_apks, name))
        except ApkInvalid:
            assert not verifies, f"{name}: apksigner accepts it, PhoneGate refused it"
            continue
        assert verifies, f"{name}: apksigner refuses it, PhoneGate accepted it"
        assert info.signer_sha256 == digests, name
    assert {n for n in ALL if reference[n][0]} == {"whatsapp", "whatsapp_newer", "w4b", "wrong_signer", "needs_android_16",
                                                    "v1_only", "v2_only", "v3_only"}


def test_whatsapp_like_apk(test_apks) -> None:
    info = inspect_apk(test_apks.whatsapp)
    assert (info.package, info.version_code, info.version_name, info.min_sdk) == ("com.whatsapp", 242201005, "2.24.22.5", 21)
    assert info.signer_sha256 == [test_apks.key_a.sha256]
    assert info.schemes == {"v1", "v2", "v3"}
    assert info.size == test_apks.whatsapp.stat().st_size
    assert len(info.sha256) == 64
    assert inspect_apk(test_apks.wrong_signer).signer_sha256 == [test_apks.key_b.sha256]
    assert inspect_apk(test_apks.w4b).package == "com.whatsapp.w4b"


@pytest.mark.parametrize("name, schemes", [("v1_only", {"v1"}), ("v2_only", {"v2"}), ("v3_only", {"v3"})])
def test_each_scheme_alone(test_apks, name: str, schemes: set[str]) -> None:
    info = inspect_apk(getattr(test_apks, name))
    assert info.schemes == schemes
    assert info.signer_sha256 == [test_apks.key_a.sha256]


@pytest.mark.parametrize("name, reason", [
    ("tampered", "changed after signing"),
    ("v1_tampered", "cannot be trusted"),
    ("unsigned", "unsigned"),
    ("not_apk", "not a zip"),
    ("no_manifest", "no AndroidManifest.xml"),
    ("v1_only_targets_android_14", "needs an APK Signature Scheme v2 or v3"),
])
def test_bad_apks_are_refused_with_a_reason(test_apks, name: str, reason: str) -> None:
    with pytest.raises(ApkInvalid, match=reason) as caught:
        inspect_apk(getattr(test_apks, name))
    assert isinstance(caught.value, BadInput)


def test_v1_entry_changed_with_valid_crc_is_caught(test_apks, tmp_path: Path) -> None:
    """Rewrite an entry properly (new CRC) in a v1-only APK: only the MANIFEST.MF digest can notice."""
    out = tmp_path / "rewritten.apk"
    with zipfile.ZipFile(test_apks.v1_only) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, b"changed\n" if item.filename == "assets/notice.txt" else data)
    with pytest.raises(ApkInvalid, match="changed after signing"):
        inspect_apk(out)


def test_stripped_v2_signature_is_detected(test_apks, tmp_path: Path) -> None:
    """Dropping the APK Signing Block leaves a v1 signature whose .SF says v2 was applied: refuse."""
    out = tmp_path / "stripped.apk"
    with zipfile.ZipFile(test_apks.whatsapp) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
    with pytest.raises(ApkInvalid, match="removed after signing"):
        inspect_apk(out)


def test_duplicate_entry_is_refused(test_apks, tmp_path: Path) -> None:
    out = tmp_path / "duplicate.apk"
    out.write_bytes(test_apks.whatsapp.read_bytes())
    with zipfile.ZipFile(out, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("assets/notice.txt", b"second copy\n")
    with pytest.raises(ApkInvalid, match="two entries with the same name"):
        inspect_apk(out)


def test_missing_file_and_truncated_bytes(test_apks, tmp_path: Path) -> None:
    with pytest.raises(ApkInvalid, match="Cannot read"):
        inspect_apk(tmp_path / "nope.apk")
    data = test_apks.whatsapp.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        with pytest.raises(ApkInvalid):
            inspect_apk_bytes(data[:cut])


def test_mutated_apks_are_refused_cleanly(test_apks) -> None:
    """Flip bytes anywhere in real signed APKs: the verdict is ApkInvalid (or, for bytes nothing covers, the same
    info), never another exception."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    originals = [test_apks.whatsapp.read_bytes(), test_apks.v1_only.read_bytes(), test_apks.v3_only.read_bytes()]

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.integers(0, 2), st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4))
    def mutate(which: int, flips: list[tuple[int, int]]) -> None:
        data = bytearray(originals[which])
        for position, xor in flips:
            data[position % len(data)] ^= xor
        try:
            info = inspect_apk_bytes(bytes(data))
        except ApkInvalid:
            return
        assert info.signer_sha256 == [test_apks.key_a.sha256]

    mutate()


def test_reading_an_apk_leaves_the_process_logging_alone(test_apks) -> None:
    """apkInspector configures DEBUG logging on import; a fresh process must keep its own (unset) logging."""
    script = (
        "import logging, sys\n"
        "from phonegate.core.apk import inspect_apk\n"
        "inspect_apk(sys.argv[1])\n"
        "root = logging.getLogger()\n"
        "print(root.level, len(root.handlers))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(test_apks.whatsapp)],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == [str(logging.WARNING), "0"]
    assert done.stderr == ""
