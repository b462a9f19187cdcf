"""The session cookie's Secure flag, decided per request when not configured.

PHONEGATE_SECURE_COOKIES=1 (or 0) settles it. Left unset ("auto"), the cookie is Secure on every request
except plain HTTP to a loopback host (127.0.0.0/8, ::1, localhost): that is `make run` on a developer's
machine, where no TLS exists and nothing leaves the computer. A deployment behind a TLS proxy that rewrites
the Host header to a loopback address should set PHONEGATE_SECURE_COOKIES=1 explicitly.
"""

from __future__ import annotations

import ipaddress

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface


def is_loopback_host(host: str) -> bool:
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:5000
        name = name[1 : name.find("]")] if "]" in name else name[1:]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class CouncilSessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        configured = app.config.get("SESSION_COOKIE_SECURE")
        if configured is not None:
            return bool(configured)
        if not has_request_context():
            return True
        return request.is_secure or not is_loopback_host(request.host)
