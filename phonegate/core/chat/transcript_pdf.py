"""The transcript as a PDF (fpdf2): the same heading and entries as the text one, in a table of time, sender
and message that repeats its heading row on every page.

Names and messages come in every script, so the PDF embeds a TrueType font that covers most of them (DejaVu Sans,
Debian's fonts-dejavu-core). A character the font has no glyph for (most emoji) is written as its Unicode name,
"[grinning face]", rather than drawn as an empty box that would lose what was said.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from phonegate.core.chat.messages import Chat
from phonegate.core.chat.transcript import SYSTEM_MARK, entries, heading
from phonegate.core.errors import PhoneGateError

FONT_FOLDERS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/local/share/fonts/truetype/dejavu"),
                Path("/usr/share/fonts/TTF"), Path("/usr/share/fonts/dejavu"))
_INVISIBLE = {"Mn", "Me", "Cf"}  # joiners, variation selectors and other combining marks: nothing to say
_SKIN_TONES = range(0x1F3FB, 0x1F400)  # they only modify the emoji before them, already named


class FontMissing(PhoneGateError):
    """No Unicode font to draw the PDF with."""


@dataclass(frozen=True)
class Fonts:
    regular: Path
    bold: Path

    @classmethod
    def find(cls) -> Fonts:
        for folder in FONT_FOLDERS:
            regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
            if regular.is_file() and bold.is_file():
                return cls(regular, bold)
        raise FontMissing("No DejaVu Sans font for the PDF: install Debian's fonts-dejavu-core, or use --format text.")


def render_pdf(chat: Chat, source_name: str, made_at: datetime, fonts: Fonts | None = None) -> bytes:
    from fpdf import FPDF  # imported here: the scanner and the text transcript do not need it
    from fpdf.fonts import FontFace

    fonts = fonts or Fonts.find()
    pdf = FPDF(format="A4")
    pdf.set_creation_date(made_at.astimezone(timezone.utc) if made_at.tzinfo else made_at.replace(tzinfo=timezone.utc))
    pdf.set_title("WhatsApp chat transcript")
    pdf.set_creator("PhoneGate")
    pdf.add_font("body", "", str(fonts.regular))
    pdf.add_font("body", "B", str(fonts.bold))
    glyphs = set(pdf.fonts["body"].cmap) & set(pdf.fonts["bodyB"].cmap)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("body", "B", 12)
    lines = heading(chat, source_name, made_at)
    pdf.multi_cell(0, 6, _drawable(lines[0], glyphs), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("body", "", 9)
    pdf.multi_cell(0, 5, _drawable(" ".join(lines[1:]), glyphs), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    system_style = FontFace(color=(90, 90, 90))
    with pdf.table(col_widths=(34, 38, 118), text_align="LEFT", v_align="TOP", borders_layout="HORIZONTAL_LINES",
                   line_height=4.5, padding=1) as table:
        table.row(["Time", "Sender", "Message"])
        for entry in entries(chat):
            row = table.row(style=system_style if entry.sender == SYSTEM_MARK else None)
            row.cell(entry.time)
            row.cell(_drawable(entry.sender, glyphs))
            row.cell(_drawable("\n".join(entry.lines), glyphs))
    return bytes(pdf.output())


def _drawable(text: str, glyphs: set[int]) -> str:
    """`text` with each character the font cannot draw replaced by its name (or dropped, when it is invisible)."""
    if all(ord(char) in glyphs or char == "\n" for char in text):
        return text
    out = []
    for char in text:
        if ord(char) in glyphs or char == "\n":
            out.append(char)
        elif unicodedata.category(char) not in _INVISIBLE and ord(char) not in _SKIN_TONES:
            out.append(f"[{unicodedata.name(char, f'U+{ord(char):04X}').lower()}]")
    return "".join(out)
