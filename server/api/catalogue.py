"""The approved-app catalogue over the API: list it and download an APK (adding one is `phonegate app add`).

GET /api/v1/catalogue[?role=individual|broadcast] -> 200 [{"package", "version_code", "version_name", "min_sdk",
    "signer_sha256", "sha256", "size", "role", "download_url", "added_at",
    "files": [{"name", "split_name", "sha256", "size", "download_url"}]}]  (active apps, newest version first)
    `sha256` is the entry's identity (a single APK's file SHA-256; for an APK set, the digest over its files:
    phonegate.core.apk.apk_set.set_sha256); `files` lists the base first, then the splits. A single APK has one file.
GET /api/v1/catalogue/<sha256>/apk -> the (base) APK, streamed; header X-Content-SHA256 carries the file's SHA-256 so
    the client can check what it received before it goes anywhere near a phone.
GET /api/v1/catalogue/<sha256>/files/<file sha256> -> one file of the entry, the same way.
"""

from __future__ import annotations

from flask import send_file, url_for
from marshmallow import fields, validate

from server.api.auth import token_required
from server.api.common import Blueprint, ResponseSchema, StrictSchema
from server.extensions import db
from server.services import catalogue
from server.services.errors import NotFound

blp = Blueprint("catalogue", __name__, url_prefix="/api/v1/catalogue", description="Approved APKs")

SHA256_HEADER = "X-Content-SHA256"
APK_MIMETYPE = "application/vnd.android.package-archive"


class CatalogueQuerySchema(StrictSchema):
    role = fields.String(validate=validate.OneOf(["individual", "broadcast"]))


class CatalogueAppFileSchema(ResponseSchema):
    name = fields.String(metadata={"description": "base.apk or split_<split name>.apk"})
    split_name = fields.String(allow_none=True)
    sha256 = fields.String()
    size = fields.Integer()
    download_url = fields.Method("_download_url", metadata={"type": "string"})

    def _download_url(self, item) -> str:
        return url_for("catalogue.download_file", sha256=item.app.sha256, file_sha256=item.sha256, _external=True)


class CatalogueAppSchema(ResponseSchema):
    package = fields.String()
    version_code = fields.Integer()
    version_name = fields.String(allow_none=True)
    min_sdk = fields.Integer(allow_none=True)
    signer_sha256 = fields.String()
    sha256 = fields.String()
    size = fields.Integer()
    role = fields.String()
    added_at = fields.DateTime()
    download_url = fields.Function(lambda app: apk_url(app.sha256), metadata={"type": "string"})
    files = fields.Nested(CatalogueAppFileSchema, many=True)


def apk_url(sha256: str) -> str:
    return url_for("catalogue.download_apk", sha256=sha256, _external=True)


@blp.route("")
@token_required("provision", "agent", "station")
@blp.arguments(CatalogueQuerySchema, location="query")
@blp.response(200, CatalogueAppSchema(many=True))
def list_catalogue(query):
    """Active catalogue apps, optionally for one role."""
    return catalogue.list_apps(db.session, query.get("role"))


@blp.route("/<string:sha256>/apk")
@token_required("provision", "station")
@blp.doc(responses={200: {"description": "The APK file", "content": {APK_MIMETYPE: {}}}})
def download_apk(sha256: str):
    """Download one catalogue APK by its SHA-256."""
    app = catalogue.get_by_sha256(db.session, sha256)
    return _send(catalogue.apk_path(app.files[0]), f"{app.package}-{app.version_code}.apk", app.files[0].sha256)


@blp.route("/<string:sha256>/files/<string:file_sha256>")
@token_required("provision", "station")
@blp.doc(responses={200: {"description": "One APK of the entry (its base or a split)", "content": {APK_MIMETYPE: {}}}})
def download_file(sha256: str, file_sha256: str):
    """Download one file of a catalogue app (the base APK or a split) by the app's and the file's SHA-256."""
    app = catalogue.get_by_sha256(db.session, sha256)
    item = catalogue.get_file(app, file_sha256)
    return _send(catalogue.apk_path(item), f"{app.package}-{app.version_code}-{item.name}", item.sha256)


def _send(path, download_name: str, sha256: str):
    if not path.is_file():
        raise NotFound("The APK file is missing from the server's catalogue folder; an administrator must add it again.")
    response = send_file(path, mimetype=APK_MIMETYPE, as_attachment=True, download_name=download_name,
                         conditional=False, etag=False)
    response.headers[SHA256_HEADER] = sha256
    response.headers["Cache-Control"] = "no-store"
    return response

