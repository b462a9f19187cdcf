"""Install-result parser: real `adb install`/`pm install` answers and the simulator's install rules."""

from __future__ import annotations

import pytest

from device_agent.parsers import parse_install_result
from device_agent.simulator.phone import VirtualPhone
from test_parsers_getprop import CORPUS, corpus_text


def test_every_capture_is_covered() -> None:
    assert len(list((CORPUS / "pm-install").iterdir())) == 3


def test_success_with_progress_and_pkg_lines() -> None:
    assert parse_install_result(corpus_text("pm-install", "awesome-adb-doc-pkg-line-success.txt")).success


def test_already_exists_without_detail() -> None:
    result = parse_install_result(corpus_text("pm-install", "awesome-adb-doc-pkg-line-failure-already-exists.txt"))
    assert (result.success, result.code, result.detail) == (False, "INSTALL_FAILED_ALREADY_EXISTS", None)


def test_update_incompatible_across_a_line_break() -> None:
    result = parse_install_result(corpus_text("pm-install", "emulator-expo-adb-install-failed-update-incompatible-doc.txt"))
    assert result.code == "INSTALL_FAILED_UPDATE_INCOMPATIBLE"
    assert not result.success
    assert result.detail == "Existing package com.alenaju.croudup signatures do not match newer version; ignoring!"


@pytest.mark.parametrize("text", ["", "Successful?\n", "Error: java.lang.NullPointerException\n", "\x00\xff"])
def test_anything_else_is_a_failure(text: str) -> None:
    result = parse_install_result(text)
    assert not result.success
    assert result.code is None
    assert result.detail


def test_simulator_answers_parse(test_apks) -> None:
    phone = VirtualPhone.from_profile("google-pixel-9")
    assert parse_install_result(phone.install_apk(test_apks.whatsapp_newer.read_bytes(), [])).success
    cases = {
        "whatsapp": "INSTALL_FAILED_VERSION_DOWNGRADE",
        "wrong_signer": "INSTALL_FAILED_UPDATE_INCOMPATIBLE",
        "needs_android_16": "INSTALL_FAILED_OLDER_SDK",
        "not_apk": "INSTALL_PARSE_FAILED_NOT_APK",
        "unsigned": "INSTALL_PARSE_FAILED_NO_CERTIFICATES",
        "tampered": "INSTALL_FAILED_INVALID_APK",
    }
    for apk, code in cases.items():
        assert parse_install_result(phone.install_apk(getattr(test_apks, apk).read_bytes(), [])).code == code, apk
