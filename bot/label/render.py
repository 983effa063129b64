"""The printable QR label as a PNG: the QR code, then the amount, what it is for, the shop and the expiry.

Made for a counter or a chat: a white card that prints on any printer, the QR large with its
quiet zone, every line centred (so it reads the same in left-to-right and right-to-left
languages), a sandbox label marked as a test at the top in red. The words arrive already
written in the customer's language (``LabelText``); this module only draws them.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from bot.i18n.locales import is_right_to_left
from bot.label import lines
from bot.label.fonts import typeface
from bot.label.text import LabelText
from bot.qr import qr_modules

WIDTH = 800
MARGIN = 56
QR_SIDE = 600  # pixels the code may take, quiet zone included; modules are whole pixels
QUIET_ZONE = 4  # modules of white around the code, as the QR standard asks
INK, MUTED, WARNING = "#111111", "#555555", "#b00020"
AMOUNT_SIZE, DESCRIPTION_SIZE, SHOP_SIZE, EXPIRY_SIZE, BANNER_SIZE = 64, 36, 32, 30, 30
MIN_SIZE = 22
DESCRIPTION_LINES = 2


def label_png(url: str, text: LabelText) -> bytes:
    """The label for a payment link: a PNG whose QR code encodes ``url``."""
    image = label_image(url, text)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def label_image(url: str, text: LabelText) -> Image.Image:
    """The label as a Pillow image (RGB)."""
    if not url:
        raise ValueError("a QR label needs a non-empty URL")
    rtl = is_right_to_left(text.language)
    regular, bold = typeface(text.language), typeface(text.language, bold=True)
    room = WIDTH - 2 * MARGIN

    def fitted(words: str, size: int, *, strong: bool = False) -> lines.Line:
        return lines.fit(words, bold if strong else regular, size, room, right_to_left=rtl, min_size=MIN_SIZE)

    banner = fitted(text.test_note, BANNER_SIZE, strong=True) if text.test_note else None
    under_code: list[tuple[lines.Line, str]] = [(fitted(text.amount, AMOUNT_SIZE, strong=True), INK)]
    under_code += [
        (line, INK)
        for line in lines.wrap(
            text.description, regular, DESCRIPTION_SIZE, room, right_to_left=rtl, max_lines=DESCRIPTION_LINES
        )
    ]
    under_code += [(fitted(text.shop, SHOP_SIZE), MUTED), (fitted(text.expiry, EXPIRY_SIZE), MUTED)]
    under_code = [(line, colour) for line, colour in under_code if line.runs]  # an empty line takes no room

    code = _code(url)
    banner_height = lines.height(BANNER_SIZE) + 24 if banner else 0
    text_height = sum(lines.height(line.size) for line, _ in under_code)
    image = Image.new("RGB", (WIDTH, banner_height + code.height + text_height + MARGIN), "white")
    canvas = ImageDraw.Draw(image)
    top = 0
    if banner is not None:
        canvas.rectangle((0, 0, WIDTH - 1, banner_height - 1), fill=WARNING)
        lines.draw(canvas, banner, (WIDTH - banner.width) / 2, 12, "white")
        top = banner_height
    image.paste(code, ((WIDTH - code.width) // 2, top))
    top += code.height
    for line, colour in under_code:
        lines.draw(canvas, line, (WIDTH - line.width) / 2, top, colour)
        top += lines.height(line.size)
    return image


def _code(url: str) -> Image.Image:
    """The QR code with its quiet zone, in whole-pixel modules no wider than QR_SIDE."""
    matrix = qr_modules(url, border=QUIET_ZONE)
    module = max(1, QR_SIDE // len(matrix))
    image = Image.new("1", (module * len(matrix), module * len(matrix)), 1)
    canvas = ImageDraw.Draw(image)
    for row, cells in enumerate(matrix):
        for column, dark in enumerate(cells):
            if dark:
                x, y = column * module, row * module
                canvas.rectangle((x, y, x + module - 1, y + module - 1), fill=0)
    return image.convert("RGB")
