"""The app catalogue: the only APKs PhoneGate will ever put on a phone.

An APK is accepted only if its signatures verify (phonegate.core.apk.inspect_apk), its package is allowed for the
role (WhatsApp for individual phones; WhatsApp or WhatsApp Business for the Broadcast phone, from settings), and
every signer certificate is pinned for that package. An APK set (a base and its splits, as the stores ship WhatsApp
Business) is accepted the same way once it verifies as one set (phonegate.core.apk.apk_set: one base, each split
once, every file with the base's package, versionCode and signers); the pins are checked on the base, and every
split has the base's signers. Accepted files are kept as instance/catalogue/<file sha256>.apk; a set is nothing
stored until every file has passed.

Default pins (SHA-256 of the DER signing certificate, what `apksigner verify --print-certs` prints):

  com.whatsapp: 3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5d44
    The "WhatsApp Inc." certificate (valid 2010-06-25 to 2044-02-15), SHA-1 38a0f7d505fe18fec64fbf343ecaaaf310dbd799,
    MD5 556c6019249bbc0cab70495178d3a9d1. Sources, each independent of the others:
    - github.com/sedrubal/apk_schleuder, apk_schleuder/config.py: the fingerprints it checks APKs downloaded
      from https://www.whatsapp.com/android/ against (SHA-256, SHA-1 and MD5 together);
    - github.com/soupslurpr/AppVerifier, InternalVerificationInfoDatabase.kt: com.whatsapp, source Google Play;
    - an example of mvt-project/androidqf's packages.json for an installed com.whatsapp, quoted in a Spanish-language
      forensics guide (our search could not tie it to a repository): the same SHA-1 and MD5 beside a SHA-256 that
      starts 3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5 (cut off there).
    WhatsApp itself publishes no fingerprint page that we could find. A SHA-256 cannot be computed from a SHA-1 (both
    are digests of the certificate, which we do not have here), so the pairing rests on apk_schleuder listing both
    for the same downloads and on the androidqf example; AppVerifier agrees on the SHA-256 independently. Before
    production, check one real APK: `apksigner verify --print-certs WhatsApp.apk` must print this SHA-256.
  com.whatsapp.w4b (WhatsApp Business): we found no published SHA-256 for it in any source we could search. It is
    made and signed by the same company; the default assumes the same certificate. Check before relying on it:
    `apksigner verify --print-certs WhatsAppBusiness.apk` and set PHONEGATE_SIGNER_PINS if it differs.
  Recent WhatsApp builds also carry an APK Signature Scheme v3 rotated key for Android 13+ (reported as
  fb920d381bee1b2093f27dc8f13d994da629dc91887d0529b35c9a2dc4f4a6c2 in one public review); it is not pinned by
  default because only one source reports it. Add it with PHONEGATE_SIGNER_PINS once verified on a real APK.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from phonegate.core.apk import ApkInvalid
from phonegate.core.apk.apk_set import inspect_apk_set
from phonegate.core.files import private_folder
from phonegate.core.text import printable
from server.models import CatalogueApp, CatalogueAppFile, DeviceRole, Role
from server.services import audit
from server.services.actor import Actor
from server.services.errors import Conflict, Forbidden, InvalidInput, NotFound, PolicyRefused
from server.services.refusals import refuse
from server.settings import current_settings

CATALOGUE_DIR = "catalogue"
# Containers of APKs (bundletool, APKMirror, APKPure, and the unsigned upload format): an APK set is accepted only as
# its own APK files, each of which is verified; a container adds a second, unverified layer for no gain.
BUNDLE_SUFFIXES = (".apks", ".xapk", ".apkm", ".aab")


def signer_pins() -> Mapping[str, tuple[str, ...]]:
    return current_settings().signer_pins


def allowed_packages(role: str) -> tuple[str, ...]:
    return current_settings().packages_for(role)


def catalogue_dir() -> Path:
    return current_settings().instance_path / CATALOGUE_DIR


def apk_path(app: CatalogueApp | CatalogueAppFile) -> Path:
    return catalogue_dir() / app.filename


def get_file(app: CatalogueApp, file_sha256: str) -> CatalogueAppFile:
    for item in app.files:
        if item.sha256 == (file_sha256 or "").lower():
            return item
    raise NotFound("That catalogue app has no file with that SHA-256.")


def check_apk_allowed(package: str, signers: list[str], role: str) -> str | None:
    """The reason an APK with this package and these signers may not be used for `role`, or None if it may."""
    if package not in allowed_packages(role):
        return f"{package} is not an approved app for {role} phones."
    pinned = set(signer_pins().get(package, ()))
    if not signers:
        return "The APK has no signer certificate."
    unknown = [s for s in signers if s.lower() not in pinned]
    if unknown:
        # The setting is printed ready to paste (only after checking where the APK came from, for a real server).
        return (f"The APK for {package} is signed by a certificate that is not pinned (SHA-256 {unknown[0]}). "
                f"To trust it: export PHONEGATE_SIGNER_PINS='{package}={unknown[0]}'")
    return None


def add_app(session: Session, sources: Path | Sequence[Path], role: str, actor: Actor) -> tuple[CatalogueApp, bool]:
    """Verify one APK, or an APK set (a base and its splits, given as separate files), and add it to the catalogue.
    Returns (app, created); re-adding the same file or set is a no-op."""
    action = "catalogue.add_refused"
    if actor.user is not None and actor.user.role != Role.ADMIN.value:
        raise refuse(session, actor, action, Forbidden("Only an administrator can add apps to the catalogue."))
    if role not in {r.value for r in DeviceRole}:
        raise InvalidInput("Unknown role.", errors={"role": ["Choose individual or broadcast."]})
    paths = [Path(sources)] if isinstance(sources, (str, os.PathLike)) else [Path(s) for s in sources]
    if not paths:
        raise InvalidInput("Give the APK file (and, for an APK set, its split APKs).", errors={"apk": ["No file given."]})
    for source in paths:
        _check_is_apk_file(source)
    try:
        apk_set = inspect_apk_set(paths)
    except ApkInvalid as exc:
        raise refuse(session, actor, action, PolicyRefused(f"The APK failed verification: {exc}"),
                     details={"file_sha256": [_sha256_file(p) for p in paths]} if len(paths) > 1
                     else {"file_sha256": _sha256_file(paths[0])}) from None

    info = apk_set.base
    signers = [s.lower() for s in info.signer_sha256]
    problem = check_apk_allowed(info.package, signers, role)
    if problem is not None:
        raise refuse(session, actor, action, PolicyRefused(problem),
                     details={"package": info.package, "version_code": info.version_code, "signers": signers, "sha256": apk_set.sha256})

    existing = session.scalar(select(CatalogueApp).where(CatalogueApp.sha256 == apk_set.sha256))
    if existing is not None:
        if existing.role != role:
            raise Conflict(f"This APK is already in the catalogue for {existing.role} phones.")
        for item in apk_set.files:  # restores a file if someone deleted it from the instance folder
            _store(item.path, item.info.sha256)
        return existing, False

    stored = [_store(item.path, item.info.sha256) for item in apk_set.files]
    app = CatalogueApp(
        # The version name is the APK's own text: stored with its control characters escaped, like phone facts.
        package=info.package, version_code=info.version_code,
        version_name=printable(info.version_name) if info.version_name is not None else None, min_sdk=info.min_sdk,
        signer_sha256=signers[0], sha256=apk_set.sha256, size=apk_set.size, role=role, filename=stored[0],
        active=True, added_by_id=actor.user.id if actor.user else None,
        files=[CatalogueAppFile(position=index, name=item.name, split_name=item.info.split_name, sha256=item.info.sha256,
                                size=item.info.size, filename=filename)
               for index, (item, filename) in enumerate(zip(apk_set.files, stored, strict=True))],
    )
    session.add(app)
    session.flush()
    details = {"package": app.package, "version_code": app.version_code, "sha256": app.sha256, "role": role,
               "signer_sha256": app.signer_sha256}
    if len(apk_set.files) > 1:
        details["files"] = [{"name": f.name, "sha256": f.sha256} for f in app.files]
    audit.record(session, actor, "catalogue.app_added", target=app, details=details)
    return app, True


def _check_is_apk_file(source: Path) -> None:
    if not source.is_file():
        raise InvalidInput(f"No APK file at {source}.", errors={"apk": ["The file does not exist."]})
    if source.suffix.lower() in BUNDLE_SUFFIXES:
        raise InvalidInput(f"{source.name} is an app bundle ({source.suffix}), not an APK. Unpack it and give the base APK "
                           "and its split APKs as separate files.", errors={"apk": ["Bundles (.apks, .xapk, .apkm, .aab) are not accepted."]})
    with source.open("rb") as handle:
        if handle.read(4) != b"PK\x03\x04":  # not even a ZIP: a wrong path, not a forged APK
            raise InvalidInput(f"{source.name} is not an APK file.", errors={"apk": ["Not an APK (ZIP) file."]})


def _store(source: Path, sha256: str) -> str:
    """Copy into instance/catalogue/<sha256>.apk atomically (a half-written APK must never be served)."""
    directory = private_folder(catalogue_dir())
    filename = f"{sha256}.apk"
    target = directory / filename
    if target.is_file() and _sha256_file(target) == sha256:
        return filename
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, 1024 * 1024)
        if _sha256_file(Path(tmp)) != sha256:
            raise InvalidInput("The APK changed while it was being copied; try again.")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return filename


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def list_apps(session: Session, role: str | None = None, *, active_only: bool = True) -> list[CatalogueApp]:
    query = select(CatalogueApp).order_by(CatalogueApp.package, CatalogueApp.version_code.desc(), CatalogueApp.id.desc())
    if role is not None:
        query = query.where(CatalogueApp.role == role)
    if active_only:
        query = query.where(CatalogueApp.active.is_(True))
    return list(session.scalars(query))


def current_app_for_role(session: Session, role: str) -> CatalogueApp | None:
    """The newest active APK for the role (highest version code): what a phone of that role gets."""
    return session.scalar(
        select(CatalogueApp).where(CatalogueApp.role == role, CatalogueApp.active.is_(True))
        .order_by(CatalogueApp.version_code.desc(), CatalogueApp.id.desc()).limit(1)
    )


def get_by_sha256(session: Session, sha256: str) -> CatalogueApp:
    app = session.scalar(select(CatalogueApp).where(CatalogueApp.sha256 == (sha256 or "").lower()))
    if app is None:
        raise NotFound("No catalogue app has that SHA-256.")
    return app
