"""Fixtures for APKs: real signed test APKs built with Debian's aapt, zipalign and apksigner.

Debian ships no android.jar, so the builder first compiles a tiny stand-in framework package that declares the
handful of `android:` attributes a manifest needs, with their real resource ids; aapt links against it and
the result is an ordinary binary AndroidManifest.xml. Keys are generated here (RSA 2048, self-signed) and
handed to apksigner as PKCS#8 + PEM.
"""

from __future__ import annotations

import datetime
import hashlib
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

FRAMEWORK_ATTRS = {"label": 0x01010001, "minSdkVersion": 0x0101020C, "versionCode": 0x0101021B,
                   "versionName": 0x0101021C, "targetSdkVersion": 0x01010270}
TAMPER_ENTRY = "assets/notice.txt"


def make_signing_key(directory: Path, name: str) -> SimpleNamespace:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"PhoneGate test signer {name}"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PhoneGate tests")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=365 * 30)).sign(key, hashes.SHA256()))
    key_path, cert_path = directory / f"{name}.pk8", directory / f"{name}.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    der = cert.public_bytes(serialization.Encoding.DER)
    return SimpleNamespace(key=key_path, cert=cert_path, der=der, sha256=hashlib.sha256(der).hexdigest())


def _framework(directory: Path) -> Path:
    root = directory / "framework"
    (root / "res" / "values").mkdir(parents=True, exist_ok=True)
    (root / "AndroidManifest.xml").write_text(
        '<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="android"/>\n')
    attrs = "".join(f'  <attr name="{n}" format="{"integer|string" if "Sdk" in n else "integer" if n == "versionCode" else "string"}"/>\n'
                    for n in FRAMEWORK_ATTRS)
    public = "".join(f'  <public type="attr" name="{n}" id="{i:#010x}"/>\n' for n, i in FRAMEWORK_ATTRS.items())
    (root / "res" / "values" / "attrs.xml").write_text(f"<resources>\n{attrs}{public}</resources>\n")
    jar = directory / "framework.jar"
    subprocess.run(["aapt", "package", "-f", "-x", "-M", str(root / "AndroidManifest.xml"), "-S", str(root / "res"),
                    "-F", str(jar)], check=True, capture_output=True)
    return jar


def build_unsigned(directory: Path, framework: Path, name: str, package: str, version_code: int,
                   version_name: str, min_sdk: int, target_sdk: int = 34) -> Path:
    source = directory / f"src-{name}"
    (source / "assets").mkdir(parents=True, exist_ok=True)
    (source / "AndroidManifest.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="{package}"'
        f' android:versionCode="{version_code}" android:versionName="{version_name}">\n'
        f'  <uses-sdk android:minSdkVersion="{min_sdk}" android:targetSdkVersion="{target_sdk}"/>\n'
        '  <application android:label="PhoneGate test"/>\n</manifest>\n')
    (source / "assets" / "notice.txt").write_text(f"PhoneGate test APK {name}: {package} {version_name}\n" * 20)
    raw, aligned = directory / f"{name}-raw.apk", directory / f"{name}-unsigned.apk"
    subprocess.run(["aapt", "package", "-f", "-0", "txt", "-M", str(source / "AndroidManifest.xml"), "-I", str(framework),
                    "-A", str(source / "assets"), "-F", str(raw)], check=True, capture_output=True)
    subprocess.run(["zipalign", "-f", "4", str(raw), str(aligned)], check=True, capture_output=True)
    return aligned


def sign(unsigned: Path, out: Path, key: SimpleNamespace, *extra: str) -> Path:
    subprocess.run(["apksigner", "sign", "--key", str(key.key), "--cert", str(key.cert), *extra,
                    "--out", str(out), str(unsigned)], check=True, capture_output=True)
    return out


def tamper(source: Path, out: Path) -> Path:
    """Flip bytes of a stored (uncompressed) entry in place: the zip stays valid, the signature must not."""
    data = bytearray(source.read_bytes())
    marker = b"PhoneGate test APK"
    index = data.find(marker)
    assert index > 0, "the stored asset was not found"
    data[index:index + len(marker)] = b"PhoneGate EVIL APK"
    out.write_bytes(bytes(data))
    return out


def build_test_apks(directory: Path) -> SimpleNamespace:
    """Every APK the tests need; returns paths plus the signer keys (with their certificate SHA-256)."""
    for tool in ("aapt", "zipalign", "apksigner"):
        if shutil.which(tool) is None:
            pytest.fail(f"Debian's {tool} is missing: run `make system-deps`.")
    directory.mkdir(parents=True, exist_ok=True)
    framework = _framework(directory)
    key_a, key_b = make_signing_key(directory, "key-a"), make_signing_key(directory, "key-b")
    specs = {  # name -> (package, versionCode, versionName, minSdk[, targetSdk])
        "whatsapp": ("com.whatsapp", 242201005, "2.24.22.5", 21),
        "whatsapp_newer": ("com.whatsapp", 242301002, "2.24.23.2", 21),
        "w4b": ("com.whatsapp.w4b", 242201004, "2.24.22.4", 21),
        "needs_android_16": ("com.whatsapp", 252001000, "2.25.20.0", 36),
        "old_app": ("org.example.legacy", 7, "1.0.7", 18, 28),
        "modern": ("com.whatsapp", 242201005, "2.24.22.5", 28),
    }
    unsigned = {name: build_unsigned(directory, framework, name, *spec) for name, spec in specs.items()}
    jobs = {
        "whatsapp": (unsigned["whatsapp"], key_a, ()),
        "whatsapp_newer": (unsigned["whatsapp_newer"], key_a, ()),
        "w4b": (unsigned["w4b"], key_a, ()),
        "wrong_signer": (unsigned["whatsapp_newer"], key_b, ()),
        "needs_android_16": (unsigned["needs_android_16"], key_a, ()),
        "v1_only": (unsigned["old_app"], key_a, ("--v2-signing-enabled", "false", "--v3-signing-enabled", "false")),
        "v1_only_targets_android_14": (unsigned["whatsapp"], key_a, ("--v2-signing-enabled", "false",
                                                                     "--v3-signing-enabled", "false")),
        "v2_only": (unsigned["modern"], key_a, ("--v1-signing-enabled", "false", "--v3-signing-enabled", "false")),
        "v3_only": (unsigned["modern"], key_a, ("--v1-signing-enabled", "false", "--v2-signing-enabled", "false")),
    }
    with ThreadPoolExecutor(max_workers=4) as pool:  # apksigner is a JVM start each time: run them side by side
        futures = {name: pool.submit(sign, src, directory / f"{name}.apk", key, *extra) for name, (src, key, extra) in jobs.items()}
        paths = {name: future.result() for name, future in futures.items()}
    paths["tampered"] = tamper(paths["whatsapp"], directory / "tampered.apk")
    paths["v1_tampered"] = tamper(paths["v1_only"], directory / "v1-tampered.apk")
    paths["unsigned"] = unsigned["whatsapp"]
    paths["not_apk"] = directory / "not-an-apk.apk"
    paths["not_apk"].write_text("This is a text file, not an APK.\n")
    no_manifest = directory / "no-manifest.apk"
    import zipfile
    with zipfile.ZipFile(no_manifest, "w") as archive:
        archive.writestr("classes.dex", b"dex\n035\x00")
    paths["no_manifest"] = no_manifest
    return SimpleNamespace(key_a=key_a, key_b=key_b, directory=directory, specs=specs, **paths)


@pytest.fixture(scope="session")
def test_apks(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Paths of real test APKs (see build_test_apks) and the signer digests key_a.sha256 / key_b.sha256."""
    return build_test_apks(tmp_path_factory.mktemp("apks"))
