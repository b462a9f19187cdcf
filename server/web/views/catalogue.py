"""The app catalogue: what may be installed, and (admins) adding an APK, verified and pinned by the service."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.utils import secure_filename

from phonegate.core.files import private_folder
from server.extensions import db
from server.models import CatalogueApp, DeviceRole, Role, User
from server.services import access, catalogue
from server.services.actor import Actor
from server.services.errors import ServiceError
from server.settings import current_settings
from server.web.auth import current_user, login_required
from server.web.forms import FormErrors
from server.web.views import pages_bp

ROLES = tuple(role.value for role in DeviceRole)


def _render(errors: FormErrors, form, status: int = 200):
    apps = db.session.execute(
        select(CatalogueApp, User.email).outerjoin(User, User.id == CatalogueApp.added_by_id)
        .order_by(CatalogueApp.package, CatalogueApp.version_code.desc(), CatalogueApp.id.desc())
    ).all()
    return render_template("catalogue/list.html", apps=apps, errors=errors, form=form, roles=ROLES), status


@pages_bp.get("/catalogue", endpoint="catalogue")
@login_required(*access.CATALOGUE_READER_ROLES)
def catalogue_page():
    return _render(FormErrors(), {})


@pages_bp.post("/catalogue")
@login_required(Role.ADMIN.value)
def catalogue_add():
    errors = FormErrors()
    role = request.form.get("role", "")
    uploads = [upload for upload in request.files.getlist("apk") if upload.filename]
    if role not in ROLES:
        errors.add("role", "Select whether the app is for individual phones or the Broadcast phone")
    if not uploads:
        errors.add("apk", "Select the APK file to upload")
    if errors:
        return _render(errors, request.form, status=400)

    # Uploads are kept in the instance folder only while they are checked; the service copies accepted files.
    # Each keeps its (sanitised) name so that the service's messages name the file the admin chose; a folder per
    # file, so two files with one name stay two files.
    upload_root = private_folder(Path(current_settings().instance_path) / "uploads")
    with tempfile.TemporaryDirectory(dir=upload_root) as folder:
        paths = []
        for index, upload in enumerate(uploads):
            path = Path(folder) / str(index) / (secure_filename(upload.filename) or "upload.apk")
            path.parent.mkdir()
            upload.save(path)
            paths.append(path)
        try:
            app, created = catalogue.add_app(db.session, paths, role, Actor.for_user(current_user()))
            db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            errors.add("apk", f"The APK was not accepted: {exc.message}")
            return _render(errors, request.form, status=exc.http_status)
    if created:
        flash(f"{app.package} version {app.version_name or app.version_code} was verified and added for {role} phones.")
    else:
        flash(f"That APK ({app.package} version {app.version_name or app.version_code}) was already in the catalogue.")
    return redirect(url_for("pages.catalogue"))
