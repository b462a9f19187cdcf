"""This computer's ADB key, in adb's own file format, and the fingerprint a phone shows for it.

`adbkey` is a PEM RSA-2048 private key; `adbkey.pub` is one line "<base64 of adb's RSAPublicKey struct> user@host",
the same line a phone keeps in /data/misc/adb/adb_keys once someone taps "Always allow". Signing uses
`cryptography` (about 0.3 ms) rather than adb-shell's PythonRSASigner (about 21 ms, blocking the event loop).
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from device_agent.adb.errors import AdbKeyError
from device_agent.settings import AgentSettings

KEY_BITS = 2048
_WORDS = KEY_BITS // 32
_STRUCT = struct.Struct(f"<II{_WORDS * 4}s{_WORDS * 4}sI")  # nwords, n0inv, n, rr, e: 524 bytes


def default_key_path() -> Path:
    """PHONEGATE_ADB_KEY, read with the agent's other settings (device_agent/settings.py)."""
    return AgentSettings.from_environ().adb_key_path


def adb_server_key_path(environ: Mapping[str, str] | None = None) -> Path:
    """The key an adb server of this user signs with: `$ANDROID_USER_HOME/adbkey`, else `~/.android/adbkey`
    (adb's own rule). Not PHONEGATE_ADB_KEY: a phone reached through the adb server is shown the server's key."""
    env = os.environ if environ is None else environ
    if env.get("ANDROID_USER_HOME"):
        return Path(env["ANDROID_USER_HOME"]).expanduser() / "adbkey"
    home = env.get("HOME") or str(Path.home())
    return Path(home).expanduser() / ".android" / "adbkey"


def fingerprint_of_key_file(private_path: Path) -> str | None:
    """The fingerprint of the key at `private_path` (from adbkey.pub, else derived from adbkey); None if neither
    can be read. Never creates a key: this is someone else's (the adb server's) file."""
    public = Path(str(private_path) + ".pub")
    try:
        return fingerprint_of_line(public.read_text(errors="replace"))
    except (OSError, ValueError, IndexError):
        pass
    try:
        return AdbKey.load(private_path).fingerprint()
    except AdbKeyError:
        return None


def encode_public_key(public_key: rsa.RSAPublicKey) -> bytes:
    """adb's 524-byte little-endian RSAPublicKey struct (what the phone stores and fingerprints)."""
    numbers = public_key.public_numbers()
    if public_key.key_size != KEY_BITS:
        raise AdbKeyError(f"ADB keys are {KEY_BITS}-bit RSA, this one has {public_key.key_size} bits")
    n, e = numbers.n, numbers.e
    n0inv = (-pow(n, -1, 1 << 32)) % (1 << 32)  # Montgomery constant the phone's verifier uses
    rr = pow(2, KEY_BITS * 2, n)
    return _STRUCT.pack(_WORDS, n0inv, n.to_bytes(_WORDS * 4, "little"), rr.to_bytes(_WORDS * 4, "little"), e)


def decode_public_key(line: str | bytes) -> rsa.RSAPublicKey:
    """Read one `adb_keys` / `adbkey.pub` line (base64 struct, optional comment); raises AdbKeyError on anything else."""
    text = line.decode("utf-8", errors="replace") if isinstance(line, (bytes, bytearray)) else line
    fields = text.strip().rstrip("\0").split()
    if not fields:
        raise AdbKeyError("empty public key line")
    try:
        blob = base64.b64decode(fields[0], validate=True)
        nwords, _n0inv, n_bytes, _rr, e = _STRUCT.unpack(blob)
    except (ValueError, struct.error) as exc:
        raise AdbKeyError("not an ADB public key (expected base64 of a 524-byte RSAPublicKey struct)") from exc
    if nwords != _WORDS or e < 3:
        raise AdbKeyError("not a 2048-bit ADB public key")
    try:
        return rsa.RSAPublicNumbers(e, int.from_bytes(n_bytes, "little")).public_key()
    except ValueError as exc:
        raise AdbKeyError(f"invalid RSA public key: {exc}") from exc


def fingerprint_of_line(line: str | bytes) -> str:
    """MD5 of the decoded key blob as colon-separated upper-case hex: what "Allow USB debugging?" shows."""
    text = line.decode("utf-8", errors="replace") if isinstance(line, (bytes, bytearray)) else line
    blob = base64.b64decode(text.strip().rstrip("\0").split()[0])
    return ":".join(f"{byte:02X}" for byte in hashlib.md5(blob, usedforsecurity=False).digest())


@dataclass
class AdbKey:
    """A loaded key pair. Also satisfies adb-shell's signer interface (Sign, GetPublicKey)."""

    private_key: rsa.RSAPrivateKey
    public_line: str  # "<base64> user@host", no newline
    path: Path | None = None

    @classmethod
    def load_or_create(cls, path: Path | str | None = None) -> AdbKey:
        """Load `path` (default $PHONEGATE_ADB_KEY or ~/.android/adbkey); create it (0600) if it does not exist."""
        key_path = Path(path).expanduser() if path is not None else default_key_path()
        if not key_path.exists():
            return cls.create(key_path)
        return cls.load(key_path)

    @classmethod
    def load(cls, path: Path) -> AdbKey:
        try:
            private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise AdbKeyError(f"cannot read the ADB private key {path}: {exc}") from exc
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise AdbKeyError(f"{path} is not an RSA private key")
        public_line = _public_line(private_key)
        pub_path = Path(str(path) + ".pub")
        if pub_path.exists():
            # Keep the comment adb wrote, but only if the key in it matches the private key.
            existing = pub_path.read_text(errors="replace").strip()
            if existing.split()[:1] == public_line.split()[:1]:
                public_line = existing
        return cls(private_key, public_line, path)

    @classmethod
    def create(cls, path: Path) -> AdbKey:
        try:
            return cls._create(path)
        except OSError as exc:
            raise AdbKeyError(f"cannot create the ADB key {path}: {exc.strerror or exc}") from exc

    @classmethod
    def _create(cls, path: Path) -> AdbKey:
        path.parent.mkdir(parents=True, exist_ok=True)
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # O_EXCL + 0600: never widen permissions and never overwrite a key someone else created meanwhile.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.load(path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        public_line = _public_line(private_key)
        Path(str(path) + ".pub").write_text(public_line + "\n")
        return cls(private_key, public_line, path)

    def sign(self, token: bytes) -> bytes:
        """PKCS#1 v1.5 over the 20-byte token taken as a SHA-1 digest, as adbd expects."""
        return self.private_key.sign(token, padding.PKCS1v15(), utils.Prehashed(hashes.SHA1()))

    def fingerprint(self) -> str:
        return fingerprint_of_line(self.public_line)

    # adb-shell's signer interface
    def Sign(self, data: bytes) -> bytes:  # noqa: N802 - name fixed by adb-shell
        return self.sign(bytes(data))

    def GetPublicKey(self) -> str:  # noqa: N802 - name fixed by adb-shell
        return self.public_line


def _public_line(private_key: rsa.RSAPrivateKey) -> str:
    blob = base64.b64encode(encode_public_key(private_key.public_key())).decode("ascii")
    return f"{blob} {_user_at_host()}"


def _user_at_host() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "phonegate"
    return f"{user}@{socket.gethostname()}"
