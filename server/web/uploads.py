"""The request class: chat-export uploads are read into memory only, within their own size limit.

Werkzeug writes an uploaded file larger than 500 KB to a temporary file while it parses the form; a chat export
holds conversations with service users, so under IN_MEMORY_PATHS it never touches the disk: the parser is given
a BytesIO, and the body may be at most UPLOAD_MAX_BYTES (a WhatsApp export with media can be far larger: the page
asks for the export "without media" then). Everything else (APK uploads, the API) is parsed as before.
"""

from __future__ import annotations

import io
from typing import IO, Any

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

IN_MEMORY_PATHS = ("/reviews/",)
UPLOAD_MAX_BYTES = 100 * 1024 * 1024


class PhoneGateRequest(Request):
    @property
    def keeps_uploads_in_memory(self) -> bool:
        return self.path.startswith(IN_MEMORY_PATHS)

    @property
    def max_content_length(self) -> int | None:  # type: ignore[override]
        if self.keeps_uploads_in_memory:
            return UPLOAD_MAX_BYTES
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    def _load_form_data(self) -> None:
        if self.keeps_uploads_in_memory and self.content_length is not None and self.content_length > UPLOAD_MAX_BYTES:
            raise RequestEntityTooLarge(
                f"A chat export can be at most {UPLOAD_MAX_BYTES // (1024 * 1024)} MB here. On the phone, export the "
                "chat \"Without media\" and upload that.")
        super()._load_form_data()

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None, filename: str | None = None,
                         content_length: int | None = None) -> IO[Any]:
        if self.keeps_uploads_in_memory:
            return io.BytesIO()
        return super()._get_file_stream(total_content_length, content_type, filename, content_length)
