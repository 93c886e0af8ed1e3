"""The ticket layout drawn as an image, for the kiosk screen (printer fallback) and the docs.

It walks the same operations as ``layout.render``, so the picture matches the paper.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M

from ticketing.layout import QR, Align, Bold, Cut, Feed, Number, Op, Text, TicketPrint, layout

PAPER_DOTS: Final = 576  # an 80 mm head at 203 dpi
COLUMNS: Final = 42  # font A columns of python-escpos' default profile
_FONT_DIRS: Final = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
_FONTS: Final = {
    False: ("DejaVuSansMono.ttf", "LiberationMono-Regular.ttf"),
    True: ("DejaVuSansMono-Bold.ttf", "LiberationMono-Bold.ttf"),
}

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _font(size: int, bold: bool, font_dir: Path | None) -> Font:
    dirs = [font_dir] if font_dir else [Path(d) for d in _FONT_DIRS]
    for directory in dirs:
        for name in _FONTS[bold]:
            path = directory / name
            if path.exists():
                return ImageFont.truetype(str(path), size)
    # Pillow's built-in font lacks Cyrillic, but a preview with boxes beats no preview.
    return ImageFont.load_default(size)


@dataclass(frozen=True)
class _Piece:
    height: int
    align: str
    text: str | None = None
    font: Font | None = None
    image: Image.Image | None = None
    cut: bool = False


def preview(ops: list[Op], *, scale: int = 1, font_dir: Path | None = None) -> Image.Image:
    """The operations drawn on a white strip ``PAPER_DOTS * scale`` pixels wide."""
    width = PAPER_DOTS * scale
    size = int(width / (COLUMNS + 2) / 0.6)  # monospace advance is 0.6 em; keep a margin
    line = round(size * 1.25)
    align, bold = "left", False
    pieces: list[_Piece] = []
    for op in ops:
        match op:
            case Align(a):
                align = a
            case Bold(on):
                bold = on
            case Text(text):
                font = _font(size, bold, font_dir)
                for wrapped in textwrap.wrap(text, COLUMNS) or [""]:
                    pieces.append(_Piece(line, align, wrapped, font))
            case Number(text, mult):
                font = _font(size * mult, True, font_dir)
                pieces.append(_Piece(round(size * mult * 1.2), align, text, font))
            case QR(data, module):
                code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=module * scale)
                code.add_data(data)
                image = code.make_image().get_image().convert("L")
                pieces.append(_Piece(image.height, align, image=image))
            case Feed(lines):
                pieces.append(_Piece(line * lines, align))
            case Cut():
                pieces.append(_Piece(line * 2, align, cut=True))
    canvas = Image.new("L", (width, sum(p.height for p in pieces) + line), 255)
    draw = ImageDraw.Draw(canvas)
    y = line // 2
    for piece in pieces:
        if piece.image is not None:
            canvas.paste(piece.image, (_x(piece.align, piece.image.width, width), y))
        elif piece.text is not None and piece.font is not None:
            w = round(draw.textlength(piece.text, font=piece.font))
            draw.text((_x(piece.align, w, width), y), piece.text, font=piece.font, fill=0)
        elif piece.cut:
            mid = y + piece.height // 2
            for x in range(0, width, 16):
                draw.line((x, mid, x + 8, mid), fill=128, width=2)
        y += piece.height
    return canvas


def _x(align: str, w: int, width: int) -> int:
    margin = width // 40
    if align == "center":
        return max((width - w) // 2, 0)
    if align == "right":
        return max(width - w - margin, 0)
    return margin


def preview_png(ticket: TicketPrint, *, scale: int = 1, font_dir: Path | None = None) -> bytes:
    """The ticket as PNG bytes."""
    out = io.BytesIO()
    preview(layout(ticket), scale=scale, font_dir=font_dir).save(out, format="PNG")
    return out.getvalue()
