"""ADB keys: adb's file format (checked against Debian's adb itself), permissions, fingerprint, signatures."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from device_agent.adb.errors import AdbKeyError
from device_agent.adb.keys import AdbKey, decode_public_key, default_key_path, encode_public_key, fingerprint_of_line


def test_created_key_is_private_and_has_a_public_line(tmp_path: Path) -> None:
    key = AdbKey.load_or_create(tmp_path / "sub" / "adbkey")
    assert stat.S_IMODE((tmp_path / "sub" / "adbkey").stat().st_mode) == 0o600
    public = (tmp_path / "sub" / "adbkey.pub").read_text().strip()
    assert public == key.public_line
    blob = base64.b64decode(public.split()[0])
    assert len(blob) == 524
    assert int.from_bytes(blob[:4], "little") == 64


def test_loading_gives_the_same_key(tmp_path: Path) -> None:
    first = AdbKey.load_or_create(tmp_path / "adbkey")
    second = AdbKey.load_or_create(tmp_path / "adbkey")
    assert first.public_line == second.public_line
    assert first.fingerprint() == second.fingerprint()


def test_default_path_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHONEGATE_ADB_KEY", str(tmp_path / "k" / "adbkey"))
    assert default_key_path() == tmp_path / "k" / "adbkey"
    AdbKey.load_or_create()
    assert (tmp_path / "k" / "adbkey.pub").exists()


@pytest.mark.adb
def test_adb_reads_our_key_and_prints_the_same_public_key(adb_key: AdbKey) -> None:
    result = subprocess.run(["adb", "pubkey", str(adb_key.path)], capture_output=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0].decode() == adb_key.public_line.split()[0]


@pytest.mark.adb
def test_we_read_a_key_that_adb_created(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".android").mkdir(parents=True)
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    subprocess.run(["adb", "keygen", str(home / "adbkey")], env=env, capture_output=True, timeout=60, check=True)
    key = AdbKey.load(home / "adbkey")
    assert key.public_line.split()[0] == (home / "adbkey.pub").read_text().split()[0]


def test_fingerprint_is_md5_of_the_key_blob_in_android_prompt_form(adb_key: AdbKey) -> None:
    blob = base64.b64decode(adb_key.public_line.split()[0])
    expected = hashlib.md5(blob).hexdigest().upper()
    fingerprint = adb_key.fingerprint()
    assert fingerprint.replace(":", "") == expected
    assert len(fingerprint.split(":")) == 16


def test_signature_verifies_as_adbd_checks_it(adb_key: AdbKey) -> None:
    token = os.urandom(20)
    public = decode_public_key(adb_key.public_line)
    public.verify(adb_key.sign(token), token, padding.PKCS1v15(), utils.Prehashed(hashes.SHA1()))
    assert encode_public_key(public) == base64.b64decode(adb_key.public_line.split()[0])
    assert fingerprint_of_line(adb_key.public_line + "\0") == adb_key.fingerprint()


@pytest.mark.parametrize("line", ["", "not-base64!!", base64.b64encode(b"short").decode(), base64.b64encode(bytes(524)).decode()])
def test_malformed_public_keys_are_refused_clearly(line: str) -> None:
    with pytest.raises(AdbKeyError):
        decode_public_key(line)


def test_unreadable_private_key_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "adbkey").write_text("garbage")
    with pytest.raises(AdbKeyError) as caught:
        AdbKey.load_or_create(tmp_path / "adbkey")
    assert caught.value.exit_code == 2
