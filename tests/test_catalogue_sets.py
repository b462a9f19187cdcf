"""APK sets in the catalogue: a base and its splits verified as one set, stored file by file, listed and served by
the API, added with `phonegate app add BASE SPLIT...`; a set that is not one set is refused and nothing is stored."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures_enrolment import pins_for
from sqlalchemy import select

from phonegate.core.apk.apk_set import inspect_apk_set
from server.extensions import db
from server.models import AuditEntry, CatalogueApp, CatalogueAppFile
from server.services.actor import Actor
from server.services.catalogue import add_app, apk_path, catalogue_dir, current_app_for_role
from server.services.errors import InvalidInput, PolicyRefused

PHONEGATE = str(Path(sys.executable).with_name("phonegate"))


def _set(whatsapp_split_apks, *names: str) -> list[Path]:
    return [getattr(whatsapp_split_apks, name) for name in names]


def test_a_set_is_one_entry_with_the_sets_identity(pinned_app, whatsapp_split_apks):
    files = _set(whatsapp_split_apks, "split_en", "base", "split_xxhdpi")
    entry, created = add_app(db.session, files, "individual", Actor.system())
    db.session.commit()
    assert created
    assert entry.sha256 == inspect_apk_set(files).sha256


def test_a_set_lists_its_files_base_first(pinned_app, whatsapp_split_apks):
    entry, _ = add_app(db.session, _set(whatsapp_split_apks, "split_xxhdpi", "split_en", "base"), "individual", Actor.system())
    assert [(f.position, f.name, f.split_name) for f in entry.files] == [
        (0, "base.apk", None), (1, "split_config.en.apk", "config.en"), (2, "split_config.xxhdpi.apk", "config.xxhdpi")]


def test_every_file_of_a_set_is_stored_by_its_sha256(pinned_app, whatsapp_split_apks):
    files = _set(whatsapp_split_apks, "base", "split_en")
    entry, _ = add_app(db.session, files, "individual", Actor.system())
    assert [apk_path(f).read_bytes() for f in entry.files] == [p.read_bytes() for p in files]


def test_the_sets_size_is_all_its_files(pinned_app, whatsapp_split_apks):
    files = _set(whatsapp_split_apks, "base", "split_en")
    entry, _ = add_app(db.session, files, "individual", Actor.system())
    assert entry.size == sum(p.stat().st_size for p in files)


def test_adding_the_same_set_again_changes_nothing(pinned_app, whatsapp_split_apks):
    first, _ = add_app(db.session, _set(whatsapp_split_apks, "base", "split_en"), "individual", Actor.system())
    again, created = add_app(db.session, _set(whatsapp_split_apks, "split_en", "base"), "individual", Actor.system())
    assert (again.id, created) == (first.id, False)


def test_a_newer_set_becomes_the_current_app(pinned_app, test_apks, whatsapp_split_apks):
    add_app(db.session, test_apks.whatsapp_newer, "individual", Actor.system())
    entry, _ = add_app(db.session, _set(whatsapp_split_apks, "base", "split_en"), "individual", Actor.system())
    assert current_app_for_role(db.session, "individual").id == entry.id


def test_a_single_apk_has_its_one_file(catalogue_app, test_apks):
    assert [(f.name, f.sha256) for f in catalogue_app.files] == [("base.apk", hashlib.sha256(test_apks.whatsapp.read_bytes()).hexdigest())]


def test_the_set_added_is_audited_with_its_files(pinned_app, whatsapp_split_apks):
    add_app(db.session, _set(whatsapp_split_apks, "base", "split_en"), "individual", Actor.system())
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "catalogue.app_added")).one()
    assert [f["name"] for f in json.loads(entry.details)["files"]] == ["base.apk", "split_config.en.apk"]


REFUSED_SETS = [
    (("base", "split_newer"), "split_newer.apk has versionCode"),
    (("base", "split_other_package"), "is a split of com.whatsapp.w4b"),
    (("base", "split_other_signer"), "signed by another certificate than the base"),
    (("base", "second_base"), "two base APKs"),
    (("base", "split_xxhdpi", "split_xxhdpi_again"), "Split config.xxhdpi is in the set twice"),
    (("base", "split_bomb"), "zip bomb"),
    (("split_en", "split_xxhdpi"), "no base APK"),
]


@pytest.mark.parametrize(("names", "message"), REFUSED_SETS)
def test_a_set_that_is_not_one_set_is_refused(pinned_app, whatsapp_split_apks, names, message):
    with pytest.raises(PolicyRefused, match=message):
        add_app(db.session, _set(whatsapp_split_apks, *names), "individual", Actor.system())


@pytest.mark.parametrize(("names", "message"), REFUSED_SETS[:3] + REFUSED_SETS[5:6])
def test_a_refused_set_stores_nothing(pinned_app, whatsapp_split_apks, names, message):
    with pytest.raises(PolicyRefused):
        add_app(db.session, _set(whatsapp_split_apks, *names), "individual", Actor.system())
    db.session.rollback()
    assert (db.session.scalars(select(CatalogueApp)).all(), db.session.scalars(select(CatalogueAppFile)).all()) == ([], [])
    assert not catalogue_dir().exists() or list(catalogue_dir().iterdir()) == []


def test_a_refused_set_is_audited(pinned_app, whatsapp_split_apks):
    with pytest.raises(PolicyRefused):
        add_app(db.session, _set(whatsapp_split_apks, "base", "split_other_signer"), "individual", Actor.system())
    db.session.rollback()
    refusal = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "catalogue.add_refused")).one()
    assert len(json.loads(refusal.details)["file_sha256"]) == 2


def test_a_set_with_a_pinned_base_but_foreign_splits_cannot_pass_as_pinned(pinned_app, whatsapp_split_apks):
    # The pins are checked on the base; a split with another signer is refused by the set rule before that.
    with pytest.raises(PolicyRefused, match="another certificate"):
        add_app(db.session, _set(whatsapp_split_apks, "base", "split_en", "split_other_signer"), "individual", Actor.system())


@pytest.mark.parametrize("suffix", [".apks", ".xapk"])
def test_a_bundle_is_refused_as_bad_input(pinned_app, whatsapp_split_apks, tmp_path, suffix):
    bundle = tmp_path / f"WhatsApp{suffix}"
    shutil.make_archive(str(bundle.with_suffix("")), "zip", whatsapp_split_apks.directory, "base.apk")
    bundle.with_suffix(".zip").rename(bundle)
    with pytest.raises(InvalidInput, match="Unpack it and give the base APK and its split APKs"):
        add_app(db.session, [bundle], "individual", Actor.system())


# ---- the API -------------------------------------------------------------------------------------------------------

@pytest.fixture
def api_set(pinned_app, whatsapp_split_apks, factory, client):
    entry, _ = add_app(db.session, _set(whatsapp_split_apks, "base", "split_en"), "individual", Actor.system())
    db.session.commit()
    token, _ = factory.token(user=factory.user("it"), scope="provision")
    listing = client.get("/api/v1/catalogue", headers={"Authorization": f"Bearer {token}"}).get_json()
    return entry, token, next(item for item in listing if item["sha256"] == entry.sha256)


def test_the_api_lists_a_sets_files(api_set, whatsapp_split_apks):
    _, _, listed = api_set
    assert [(f["name"], f["split_name"], f["size"]) for f in listed["files"]] == [
        ("base.apk", None, whatsapp_split_apks.base.stat().st_size),
        ("split_config.en.apk", "config.en", whatsapp_split_apks.split_en.stat().st_size)]


def test_the_api_serves_each_file_with_its_sha256(api_set, whatsapp_split_apks, client):
    _, token, listed = api_set
    split = listed["files"][1]
    response = client.get(split["download_url"], headers={"Authorization": f"Bearer {token}"})
    served = (response.status_code, response.headers["X-Content-SHA256"], response.data)
    response.close()
    assert served == (200, split["sha256"], whatsapp_split_apks.split_en.read_bytes())


def test_a_file_not_in_the_entry_is_not_found(api_set, client):
    entry, token, _ = api_set
    response = client.get(f"/api/v1/catalogue/{entry.sha256}/files/{'0' * 64}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404


def test_a_single_apk_lists_one_file_served_by_both_addresses(catalogue_app, factory, client, test_apks):
    token, _ = factory.token(user=factory.user("it"), scope="provision")
    headers = {"Authorization": f"Bearer {token}"}
    (listed,) = client.get("/api/v1/catalogue", headers=headers).get_json()
    (only,) = listed["files"]
    served = []
    for url in (only["download_url"], listed["download_url"]):
        response = client.get(url, headers=headers)
        served.append(response.data)
        response.close()
    assert served[0] == served[1] == test_apks.whatsapp.read_bytes()


# ---- the command ---------------------------------------------------------------------------------------------------

@pytest.fixture
def cli(app, test_apks):
    settings = app.config["PHONEGATE"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PHONEGATE_DATABASE_URL": settings.database_url,
           "PHONEGATE_INSTANCE": str(settings.instance_path), "PHONEGATE_SIGNER_PINS": pins_for(test_apks.key_a.sha256)}

    def run(*args):
        result = subprocess.run([PHONEGATE, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
        db.session.expire_all()
        return result

    return run


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_app_add_takes_a_base_and_its_splits(cli, whatsapp_split_apks):
    result = cli("app", "add", *map(str, _set(whatsapp_split_apks, "base", "split_en", "split_xxhdpi")), "--role", "individual")
    assert result.returncode == 0, result.stderr
    entry = db.session.scalars(select(CatalogueApp)).one()
    assert f"APK set of 3 files SHA-256 {entry.sha256}" in result.stdout
    assert "split_config.xxhdpi.apk SHA-256" in result.stdout


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_app_add_refuses_a_mixed_set_with_exit_3(cli, whatsapp_split_apks):
    result = cli("app", "add", *map(str, _set(whatsapp_split_apks, "base", "split_newer")), "--role", "individual")
    assert (result.returncode, "Traceback" in result.stderr) == (3, False), result.stderr
    assert "versionCode" in result.stderr
    assert db.session.scalars(select(CatalogueApp)).all() == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_app_add_refuses_a_bundle_with_exit_2(cli, whatsapp_split_apks, tmp_path):
    bundle = tmp_path / "WhatsApp.apks"
    shutil.copy(whatsapp_split_apks.base, bundle)
    result = cli("app", "add", str(bundle), "--role", "individual")
    assert result.returncode == 2, result.stderr
    assert "Unpack it" in result.stderr
