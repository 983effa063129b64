"""The printable QR label: it scans back to the link, and its words are drawn as their readers write them.

Arabic is checked against an independent reference (arabic-reshaper for the letter forms,
python-bidi for the order), Thai and Chinese by the fonts that draw them; mixed lines by the
order their pieces are shown in.
"""

from __future__ import annotations

import io

import arabic_reshaper  # type: ignore[import-untyped]
import pytest
import zxingcpp
from bidi import get_display  # type: ignore[import-untyped]
from PIL import Image, ImageChops, ImageDraw, ImageFont

from bot.label import bidi, fonts, lines
from bot.label.fonts import DEBIAN_PACKAGES, missing_families, shaping_available, typeface
from bot.label.render import WIDTH, LabelText, label_png
from bot.startup_report import label_problems

LINK = "http://192.168.1.20:8080/sandbox/pay/SBX01J9ZQ4T7W3K8M2N6P5R"
FONTS_HINT = f"apt-get install {' '.join(DEBIAN_PACKAGES)} (as .ci/run does)"

LABELS = {
    "en": LabelText(
        "en",
        "IDR\xa0150,000",
        "Winter shoes, size 42, black leather",
        "Ann's Shoes",
        "Valid until Nov 25, 2026, 17:00 UTC+7",
        "TEST LINK: no real money moves",
    ),
    "ar": LabelText(
        "ar",
        "\u2068\u200f150,000\xa0IDR\u2069",
        "حذاء شتوي أسود مقاس 42",
        "متجر آن",
        "صالح حتى \u206825 نوفمبر 2026، 17:00 UTC+7\u2069",
    ),
    "th": LabelText("th", "฿1,500.00", "รองเท้าฤดูหนาว iPhone เคส สีดำ", "ร้านของแอน", "ใช้ได้ถึง 25 พ.ย. 2026 17:00 น."),
    "zh_Hans": LabelText(
        "zh_Hans", "IDR\xa0150,000", "冬季鞋子 黑色 42码", "安的鞋店", "有效期至 2026年11月25日 17:00"
    ),
}


@pytest.fixture(scope="module", autouse=True)
def _fonts_installed() -> None:
    assert not missing_families(), f"missing fonts {missing_families()}: {FONTS_HINT}"
    assert shaping_available() and bidi.available(), f"Pillow cannot shape text (libraqm needs FriBiDi): {FONTS_HINT}"


def _scan(png: bytes) -> list[str]:
    """What a phone camera reads off the image."""
    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


@pytest.mark.parametrize("language", list(LABELS))
def test_label_scans_back_to_the_link_with_its_words_under_the_code(language: str) -> None:
    png = label_png(LINK, LABELS[language])
    image = Image.open(io.BytesIO(png))
    assert _scan(png) == [LINK]
    assert image.width == WIDTH and image.height > image.width  # the words take room under the square code
    words = image.crop((0, WIDTH - 80, image.width, image.height)).convert("L")
    assert words.getbbox() is not None and ImageChops.invert(words).getbbox() is not None  # ink under the code


def test_label_still_scans_after_telegram_recompresses_it_as_a_small_jpeg() -> None:
    image = Image.open(io.BytesIO(label_png(LINK, LABELS["en"]))).convert("RGB")
    image.thumbnail((320, 320))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=60)
    assert _scan(buffer.getvalue()) == [LINK]


def test_sandbox_label_is_marked_as_a_test_in_red_at_the_top() -> None:
    sandbox = Image.open(io.BytesIO(label_png(LINK, LABELS["en"]))).convert("RGB")
    live = Image.open(io.BytesIO(label_png(LINK, LABELS["ar"]))).convert("RGB")
    red, green, blue = sandbox.getpixel((5, 5))  # type: ignore[misc]
    assert red > 150 and green < 60 and blue < 60
    assert live.getpixel((5, 5)) == (255, 255, 255)


def _ink(image: Image.Image) -> Image.Image:
    """The dark pixels of an image, cropped to them."""
    mask = image.convert("L").point(lambda value: 255 if value < 128 else 0)
    box = mask.getbbox()
    assert box is not None, "nothing was drawn"
    return mask.crop(box)


def _overlap(ours: Image.Image, reference: Image.Image) -> float:
    """Intersection over union of two ink masks, the reference scaled to ours."""
    reference = reference.resize(ours.size)
    both = ImageChops.multiply(ours, reference).histogram()[255]
    either = ImageChops.lighter(ours, reference).histogram()[255]
    return both / either


def _drawn_by_the_label(text: str) -> Image.Image:
    image = Image.new("L", (900, 120), 255)
    line = lines.lay_out(text, typeface("ar"), 48, right_to_left=True)
    lines.draw(ImageDraw.Draw(image), line, 10, 10, "black")
    return _ink(image)


def _drawn_letter_by_letter(text: str) -> Image.Image:
    """Text drawn glyph after glyph, left to right, with no shaping: right only for pre-shaped visual text."""
    face = typeface("ar").faces[0]
    font = ImageFont.truetype(str(face.path), 48, layout_engine=ImageFont.Layout.BASIC)
    image = Image.new("L", (900, 120), 255)
    ImageDraw.Draw(image).text((10, 10), text, font=font, fill=0)
    return _ink(image)


def test_arabic_letters_join_and_read_right_to_left() -> None:
    words = "مرحبا بالعالم"
    reference = _drawn_letter_by_letter(get_display(arabic_reshaper.reshape(words)))
    drawn = _drawn_by_the_label(words)
    assert _overlap(drawn, reference) > 0.75
    # Each half of the job alone looks nothing like it: the comparison can tell.
    assert _overlap(drawn, _drawn_letter_by_letter(words)) < 0.4  # neither joined nor reversed
    assert _overlap(drawn, _drawn_letter_by_letter(get_display(words))) < 0.4  # reversed, not joined
    assert _overlap(drawn, _drawn_letter_by_letter(arabic_reshaper.reshape(words))) < 0.4  # joined, not reversed


def test_a_latin_time_zone_in_an_arabic_sentence_sits_at_its_left_end() -> None:
    line = lines.lay_out("صالح حتى 25 نوفمبر UTC+7", typeface("ar"), 30, right_to_left=True)
    assert line.runs[0].text.strip() == "UTC+7"  # read last, so drawn leftmost
    assert line.families[0] == "Noto Sans" and line.families[-1] == "Noto Sans Arabic"
    assert line.runs[-1].right_to_left


def test_an_arabic_name_in_an_english_sentence_keeps_its_place_and_direction() -> None:
    line = lines.lay_out("Shop \u2068متجر آن\u2069 here", typeface("en"), 30, right_to_left=False)
    shown = [(run.text.strip(), run.right_to_left) for run in line.runs if run.text.strip()]
    assert shown == [("Shop", False), ("متجر آن", True), ("here", False)]


def test_thai_and_latin_words_in_one_line_each_get_a_font_that_has_them() -> None:
    line = lines.lay_out("รองเท้า iPhone สีดำ", typeface("th"), 30, right_to_left=False)
    assert [(run.text.strip(), family) for run, family in zip(line.runs, line.families, strict=True)] == [
        ("รองเท้า", "Noto Sans Thai"),
        ("iPhone", "Noto Sans"),
        ("สีดำ", "Noto Sans Thai"),
    ]


def test_chinese_is_drawn_with_the_simplified_chinese_face() -> None:
    line = lines.lay_out("冬季鞋子 42码", typeface("zh_Hans"), 30, right_to_left=False)
    assert set(line.families) == {"Noto Sans CJK SC"}


def test_a_long_description_takes_two_lines_and_ends_in_an_ellipsis() -> None:
    text = "Handmade leather boots with wool lining, size 42, colour dark brown, gift wrapped, delivered Friday"
    wrapped = lines.wrap(text, typeface("en"), 36, 688, right_to_left=False, max_lines=2)
    assert len(wrapped) == 2 and all(line.width <= 688 for line in wrapped)
    assert wrapped[0].text.startswith("Handmade leather") and wrapped[1].text.endswith("…")


def test_a_long_word_without_spaces_is_cut_between_characters() -> None:
    text = "รองเท้าหนังแท้ทำมือบุขนแกะไซส์สี่สิบสองสีน้ำตาลเข้มห่อของขวัญส่งวันศุกร์" * 2
    wrapped = lines.wrap(text, typeface("th"), 36, 688, right_to_left=False, max_lines=2)
    assert len(wrapped) == 2 and all(line.width <= 688 for line in wrapped)


def test_without_its_fonts_the_label_still_scans_and_start_up_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fonts, "FONT_DIRS", ())
    fonts._installed.cache_clear()
    try:
        assert fonts.missing_families() == ["Noto Sans", "Noto Sans Arabic", "Noto Sans Thai", "Noto Sans CJK SC"]
        assert _scan(label_png(LINK, LABELS["ar"])) == [LINK]  # Pillow's own font: plainer, still a working code
        said = "; ".join(label_problems())
        assert "QR labels lack the fonts Noto Sans" in said and "fonts-noto-core fonts-noto-cjk" in said
    finally:
        fonts._installed.cache_clear()  # found again once the folders are back
