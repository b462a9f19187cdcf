"""An APK set (base plus splits) verified as one, as Android checks it at install-commit: one base, each split once,
the same package, versionCode and signer everywhere; each file bounded like any APK, the set bounded as a whole."""

from __future__ import annotations

import hashlib
import time

import pytest

from phonegate.core.apk import ApkInvalid, inspect_apk
from phonegate.core.apk.apk_set import ApkSetLimits, inspect_apk_set, set_sha256


def test_a_base_and_its_splits_are_one_set_in_a_defined_order(split_apks):
    apk_set = inspect_apk_set([split_apks.split_xxhdpi, split_apks.split_en, split_apks.base])
    assert [f.name for f in apk_set.files] == ["base.apk", "split_config.en.apk", "split_config.xxhdpi.apk"]


def test_the_set_identity_is_over_every_file_and_its_part(split_apks):
    apk_set = inspect_apk_set([split_apks.base, split_apks.split_en])
    lines = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()} {name}\n"
                    for name, p in (("base.apk", split_apks.base), ("split_config.en.apk", split_apks.split_en)))
    assert apk_set.sha256 == hashlib.sha256(lines.encode()).hexdigest()


def test_the_order_given_does_not_change_the_identity(split_apks):
    one = inspect_apk_set([split_apks.base, split_apks.split_en, split_apks.split_xxhdpi])
    other = inspect_apk_set([split_apks.split_xxhdpi, split_apks.base, split_apks.split_en])
    assert one.sha256 == other.sha256


def test_a_single_apk_keeps_its_file_sha256_as_identity(test_apks):
    assert inspect_apk_set([test_apks.whatsapp]).sha256 == inspect_apk(test_apks.whatsapp).sha256


def test_set_sha256_of_one_file_is_that_file():
    assert set_sha256([("base.apk", "ab" * 32)]) == "ab" * 32


def test_a_split_records_its_split_name(split_apks):
    assert inspect_apk(split_apks.split_xxhdpi).split_name == "config.xxhdpi"


def test_a_base_has_no_split_name(split_apks):
    assert inspect_apk(split_apks.base).split_name is None


@pytest.mark.parametrize(("files", "message"), [
    (("base", "split_newer"), "split_newer.apk has versionCode 8, not the base's 7"),
    (("base", "split_other_package"), "split_other_package.apk is a split of org.phonegate.otherapp, not of the base's"),
    (("base", "split_other_signer"), "split_other_signer.apk is signed by another certificate than the base"),
    (("base", "second_base"), "two base APKs (base.apk and second_base.apk)"),
    (("split_xxhdpi", "split_en"), "no base APK"),
    (("base", "split_xxhdpi", "split_xxhdpi_again"), "Split config.xxhdpi is in the set twice"),
    (("base", "split_bomb"), "split_bomb.apk: The file is refused as an APK: assets/zeros.bin is compressed more than 100:1"),
])
def test_a_set_that_does_not_agree_is_refused_with_a_sentence(split_apks, files, message):
    with pytest.raises(ApkInvalid, match="^.*" + message.replace("(", r"\(").replace(")", r"\)")):
        inspect_apk_set([getattr(split_apks, name) for name in files])


def test_the_zip_bomb_split_costs_little(split_apks):
    started = time.process_time()
    with pytest.raises(ApkInvalid):
        inspect_apk_set([split_apks.base, split_apks.split_bomb])
    assert time.process_time() - started < 2.0


def test_a_tampered_split_does_not_parse_as_signed(split_apks, tmp_path):
    data = bytearray(split_apks.split_en.read_bytes())
    at = data.find(b"PhoneGate split test split_en")
    data[at:at + 9] = b"EvilGate "
    forged = tmp_path / "split_en_forged.apk"
    forged.write_bytes(bytes(data))
    with pytest.raises(ApkInvalid, match="split_en_forged.apk: "):
        inspect_apk_set([split_apks.base, forged])


def test_a_set_bigger_than_its_limit_is_refused_before_it_is_read(split_apks):
    limits = ApkSetLimits(max_files=10, max_total_bytes=split_apks.base.stat().st_size + 1000)
    with pytest.raises(ApkInvalid, match="more than an APK set may be"):
        inspect_apk_set([split_apks.base, split_apks.split_big], limits)


def test_too_many_files_are_refused(split_apks):
    with pytest.raises(ApkInvalid, match="3 files, more than an APK set may have"):
        inspect_apk_set([split_apks.base, split_apks.split_en, split_apks.split_xxhdpi], ApkSetLimits(2, 10**9))


def test_the_same_file_twice_is_refused(split_apks):
    with pytest.raises(ApkInvalid, match="same file"):
        inspect_apk_set([split_apks.base, split_apks.base])
