"""QR codes for payment links: a PNG ready to send as a Telegram photo, or the modules for a label to draw."""

from __future__ import annotations

import io

# qrcode and Pillow are imported with the first code, not at start-up: the bot answers /healthz sooner.
# Error correction M recovers ~15% damage: sturdy enough for a phone photo of a screen, still a small code.


def qr_modules(url: str, *, border: int = 4) -> list[list[bool]]:
    """The QR code for `url` as rows of modules (True: dark), with `border` modules of quiet zone around it."""
    if not url:
        raise ValueError("a QR code needs a non-empty URL")
    from qrcode import QRCode
    from qrcode.constants import ERROR_CORRECT_M

    code = QRCode(error_correction=ERROR_CORRECT_M, border=border)
    code.add_data(url)
    code.make(fit=True)
    return [[bool(cell) for cell in row] for row in code.get_matrix()]


def qr_png(url: str, *, box_size: int = 10, border: int = 4) -> bytes:
    """Return a PNG image of a QR code encoding `url`."""
    if not url:
        raise ValueError("a QR code needs a non-empty URL")
    if box_size < 1 or border < 0:
        raise ValueError(f"box_size must be >= 1 and border >= 0, got {box_size} and {border}")
    from qrcode import QRCode
    from qrcode.constants import ERROR_CORRECT_M
    from qrcode.image.pil import PilImage

    code = QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border, image_factory=PilImage)
    code.add_data(url)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()
