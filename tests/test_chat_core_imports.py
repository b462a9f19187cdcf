"""phonegate.core stays pure: importing the whole chat scanner and transcript loads no web framework, no
database, no ADB and no HTTP client (server, device_agent and provisioning may all import it)."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("flask", "sqlalchemy", "adb_shell", "requests", "urllib3", "server", "device_agent", "provisioning",
             "celery", "redis")


def test_core_imports_nothing_but_pure_code() -> None:
    code = (
        "import sys\n"
        "import phonegate.core.text, phonegate.core.chat.scan, phonegate.core.chat.transcript\n"
        "import phonegate.core.chat.transcript_pdf, fpdf\n"
        f"print(sorted(name for name in sys.modules if name.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
