"""QR codes for payment links scan back to the exact link."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from bot.qr import qr_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LINK = "https://pay-gate-uat.payermax.com/paybylink/index.html?token=AbC123_xyz-789&lang=en"


def _decode(png: bytes) -> list[zxingcpp.Result]:
    """Scan a PNG the way a phone camera app would."""
    return zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))


def test_qr_png_is_a_png_that_scans_back_to_the_link() -> None:
    png = qr_png(LINK)
    assert png.startswith(PNG_MAGIC)
    [result] = _decode(png)
    assert result.format == zxingcpp.BarcodeFormat.QRCode
    assert result.text == LINK
    assert result.ec_level == "M"


def test_qr_png_size_follows_box_size_and_border() -> None:
    small = Image.open(io.BytesIO(qr_png(LINK, box_size=2, border=1)))
    large = Image.open(io.BytesIO(qr_png(LINK, box_size=10, border=4)))
    assert small.width == small.height
    modules = small.width // 2 - 2 * 1
    assert large.size == ((modules + 2 * 4) * 10,) * 2


def test_qr_png_with_quiet_zone_of_one_module_still_scans() -> None:
    [result] = _decode(qr_png("https://example.test/l/1", box_size=4, border=1))
    assert result.text == "https://example.test/l/1"


@pytest.mark.parametrize(("url", "kwargs"), [("", {}), (LINK, {"box_size": 0}), (LINK, {"border": -1})])
def test_qr_png_rejects_unusable_arguments(url: str, kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        qr_png(url, **kwargs)
