"""GOV.UK Frontend's built CSS/JS, served from the project's node_modules (installed by `make`).

The council is not GOV.UK: the crown and the GDS Transport typeface are reserved for GOV.UK services, so the
stylesheet is served with its @font-face rules removed and its font stack swapped for the system stack.
The rewrite happens once per process and is cached; everything else is sent byte for byte.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_from_directory

SYSTEM_FONT_STACK = 'system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif'
_FONT_FACE = re.compile(r"@font-face\{[^}]*\}")
_GDS_STACK = re.compile(r"font-family:\s*\"?GDS Transport\"?(,arial,sans-serif)?")

# Only these files are served: the layout needs no others (no crown, no GOV.UK icons).
_SERVED = {"govuk-frontend.min.js", "govuk-frontend.min.js.map"}

assets_bp = Blueprint("assets", __name__, url_prefix="/assets")


def frontend_dist() -> Path:
    """Where govuk-frontend's dist/govuk folder is; PHONEGATE_FRONTEND_DIR overrides (config FRONTEND_DIR)."""
    configured = current_app.config.get("FRONTEND_DIR")
    if configured:
        return Path(configured)
    project_root = Path(__file__).resolve().parents[2]
    return project_root / "node_modules" / "govuk-frontend" / "dist" / "govuk"


@lru_cache(maxsize=4)
def _council_css(path: str, mtime_ns: int) -> str:
    css = Path(path).read_text(encoding="utf-8")
    css = _FONT_FACE.sub("", css)
    return _GDS_STACK.sub(f"font-family:{SYSTEM_FONT_STACK}", css)


@assets_bp.get("/govuk-frontend.min.css")
def stylesheet() -> Response:
    source = frontend_dist() / "govuk-frontend.min.css"
    if not source.is_file():
        # A missing build is an installation problem; say so rather than serve a blank page style.
        current_app.logger.error("GOV.UK Frontend is not installed (run `make` or `npm install`)")
        abort(404)
    css = _council_css(str(source), source.stat().st_mtime_ns)
    response = Response(css, mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


@assets_bp.get("/<path:filename>")
def frontend_file(filename: str) -> Response:
    if filename not in _SERVED:
        abort(404)
    return send_from_directory(frontend_dist(), filename, max_age=3600)


@assets_bp.get("/phonegate.css")
def phonegate_css() -> Response:
    return send_from_directory(Path(__file__).parent / "static", "phonegate.css", max_age=3600)


@assets_bp.get("/init.mjs")
def init_script() -> Response:
    return send_from_directory(Path(__file__).parent / "static", "init.mjs", mimetype="text/javascript", max_age=3600)
