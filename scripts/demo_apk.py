"""Build a stand-in "WhatsApp" APK for the walkthrough, signed by a demo key, and print the signer pin for it.

The machine running the demo usually has no real WhatsApp APK (and the catalogue refuses anything not signed
by WhatsApp's certificate). This builds a tiny com.whatsapp APK with Debian's aapt/zipalign/apksigner (`make
system-deps`), signed by a key generated here, and prints the PHONEGATE_SIGNER_PINS line that makes PhoneGate
trust that key instead. Never use that setting outside a demo.

    .venv/bin/python scripts/demo_apk.py instance/demo
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fixtures_apks import _framework, build_unsigned, make_signing_key, sign  # noqa: E402  (the project's APK builder)


def main(directory: str) -> None:
    out = Path(directory).resolve()
    out.mkdir(parents=True, exist_ok=True)
    key = make_signing_key(out, "demo-key")
    unsigned = build_unsigned(out, _framework(out), "whatsapp-demo", "com.whatsapp", 242201005, "2.24.22.5-demo", 21)
    apk = sign(unsigned, out / "whatsapp-demo.apk", key)
    # stdout is only the line to run (so `eval "$(scripts/demo_apk.py DIR)"` works); the note goes to stderr.
    print(f"APK: {apk}", file=sys.stderr)
    print(f"export PHONEGATE_SIGNER_PINS='com.whatsapp={key.sha256};com.whatsapp.w4b={key.sha256}'")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/demo_apk.py DIRECTORY")
    main(sys.argv[1])
