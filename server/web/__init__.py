"""The web pages for people: managers, administrators, IT and auditors (server-rendered, GOV.UK Frontend).

`init_app(app)` joins them to the app: the Jinja loader for govuk-frontend-jinja's macros, the session cookie
policy, template helpers, the blueprints, and the council's sign-in (server/web/oidc.py). The security headers are
server/http_security.py (they cover the API too). Other parts add their own web blueprint
with one line in `_register_blueprints` and extend "base.html".
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader

from server.web import oidc, presentation
from server.web.session import CouncilSessionInterface
from server.web.uploads import PhoneGateRequest


def init_app(app: Flask) -> None:
    loaders = [
        FileSystemLoader(str(Path(__file__).parent / "templates")),
        PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
    ]
    if app.jinja_loader is not None:
        loaders.insert(0, app.jinja_loader)
    app.jinja_loader = ChoiceLoader(loaders)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    app.request_class = PhoneGateRequest  # chat-export uploads stay in memory (server/web/uploads.py)
    settings = app.config["PHONEGATE"]
    app.config["SESSION_COOKIE_SECURE"] = settings.secure_cookies  # None: decided per request (see session.py)
    app.session_interface = CouncilSessionInterface()

    presentation.init_app(app)
    _register_blueprints(app)
    oidc.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from server.web.assets import assets_bp
    from server.web.compliance import compliance_bp
    from server.web.governance import governance_bp
    from server.web.views import pages_bp
    from server.web.views.account import account_bp

    app.register_blueprint(assets_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(compliance_bp)
    app.register_blueprint(governance_bp)
