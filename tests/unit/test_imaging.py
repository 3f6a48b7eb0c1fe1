from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image, ImageFile

from tests import fixtures_images as fx
from tracker import imaging
from tracker.imaging import ImageRejected, ProcessedImage, sanitize, sniff_format, validate

# What a pixels-only baseline JPEG from Pillow carries: SOI, JFIF APP0, DQT, SOF0, DHT, SOS.
PIXELS_ONLY_MARKERS = {0xD8, 0xE0, 0xDB, 0xC0, 0xC4, 0xDA}


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data), formats=["JPEG"])
    img.load()
    return img


def _assert_pixels_only(data: bytes) -> None:
    markers = {marker for marker, _ in fx.jpeg_segments(data)}
    assert markers <= PIXELS_ONLY_MARKERS, f"unexpected JPEG markers {sorted(markers)}"
    assert data.endswith(b"\xff\xd9")
    img = _open(data)
    assert len(img.getexif()) == 0
    assert "icc_profile" not in img.info
    assert "comment" not in img.info
    for needle in (b"Exif", b"GPS", b"ICC_PROFILE", b"http://ns.adobe.com/xap", fx.SECRET):
        assert needle not in data


def _refusal(data: bytes, **limits: int) -> ImageRejected:
    with pytest.raises(ImageRejected) as info:
        validate(io.BytesIO(data), **limits)
    return info.value


def _corner_colours(img: Image.Image) -> dict[str, tuple[int, ...]]:
    w, h = img.size
    points = {"top_left": (1, 1), "top_right": (w - 2, 1)}
    points |= {"bottom_left": (1, h - 2), "bottom_right": (w - 2, h - 2)}
    return {name: img.convert("RGB").getpixel(xy) for name, xy in points.items()}  # type: ignore[misc]


def _is_red(rgb: tuple[int, ...]) -> bool:
    return rgb[0] > 200 and rgb[1] < 60 and rgb[2] < 60


# --- sniffing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (fx.ftyp_box(b"heic", b"mif1", b"heic", b"miaf"), "HEIF"),
        (fx.ftyp_box(b"mif1", b"mif1", b"heic"), "HEIF"),
        (fx.ftyp_box(b"hevc", b"msf1"), "HEIF"),
        (fx.ftyp_box(b"mif1", b"mif1", b"miaf"), "HEIF"),
        (fx.ftyp_box(b"avif", b"mif1", b"miaf"), "AVIF"),
        (fx.ftyp_box(b"mif1", b"mif1", b"avif"), "AVIF"),
        (fx.ftyp_box(b"isom", b"isom", b"mp41"), None),
        (b"GIF89a\x01\x00", "GIF"),
        (b"II*\x00\x08\x00", "TIFF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"),
        (b"%PDF-1.7", "PDF"),
        (fx.SVG, None),
        (fx.TEXT, None),
        (b"", None),
    ],
)
def test_sniff_format_reads_magic_bytes_only(head: bytes, expected: str | None) -> None:
    assert sniff_format(head) == expected


def test_real_heic_sniffs_as_heif_and_real_avif_as_avif() -> None:
    assert sniff_format(fx.heic_bytes()[:512]) == "HEIF"
    assert sniff_format(fx.avif_bytes()[:512]) == "AVIF"


# --- validate -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [(fx.jpeg_bytes(), "JPEG"), (fx.png_bytes(), "PNG"), (fx.heic_bytes(), "HEIF")],
    ids=["jpeg", "png", "heic"],
)
def test_validate_returns_format_and_rewinds_open_stream(data: bytes, expected: str) -> None:
    stream = io.BytesIO(data)
    assert validate(stream) == expected
    assert stream.tell() == 0
    assert not stream.closed
    assert stream.read() == data
    stream.seek(0)
    sanitize(stream)
    assert stream.tell() == 0
    assert not stream.closed


def test_validate_rewinds_after_refusal() -> None:
    stream = io.BytesIO(fx.truncated_jpeg())
    with pytest.raises(ImageRejected):
        validate(stream)
    assert stream.tell() == 0


def test_mpo_from_android_cameras_counts_as_jpeg() -> None:
    data = dict(fx.valid_corpus())["multi_picture.mpo"]
    assert validate(io.BytesIO(data)) == "JPEG"


@pytest.mark.parametrize("case", fx.hostile_cases(), ids=lambda c: c.name)
def test_every_hostile_file_is_refused_with_its_code(case: fx.HostileFile) -> None:
    refusal = _refusal(case.data)  # how fast: benchmarks/photo_processing.py (under 1 s)
    assert refusal.code == case.code
    assert refusal.message
    with pytest.raises(ImageRejected) as info:
        sanitize(io.BytesIO(case.data))
    assert info.value.code == case.code


def test_hostile_corpus_is_large_and_uniquely_named() -> None:
    names = [name for name, _ in fx.hostile_corpus()]
    assert len(names) >= 40
    assert len(set(names)) == len(names)


def test_decompression_bomb_is_refused_before_decoding_and_small_on_disk() -> None:
    bomb = fx.decompression_bomb_png()
    assert len(bomb) < 64 * 1024
    assert _refusal(bomb).code == "too_many_pixels"


def test_pillows_decompression_bomb_warning_is_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow warns above MAX_IMAGE_PIXELS (89 MP by default) and raises at twice that. Our
    # own limit (40 MP) normally refuses first; a deployment that raises max_pixels must
    # still get Pillow's warning as a refusal, not a decoded 89+ MP image. Lowering Pillow's
    # threshold lets a small image stand in for a huge one.
    data = fx.jpeg_bytes((64, 48))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 48 - 1)  # warns, does not raise
    assert _refusal(data, max_pixels=10**9).code == "too_many_pixels"


def test_pixel_limit_is_inclusive_and_configurable() -> None:
    data = fx.jpeg_bytes((64, 48))
    assert validate(io.BytesIO(data), max_pixels=64 * 48) == "JPEG"
    refusal = _refusal(data, max_pixels=64 * 48 - 1)
    assert refusal.code == "too_many_pixels"
    assert "megapixels" in refusal.message


def test_file_over_max_bytes_is_refused_as_too_large() -> None:
    data = fx.jpeg_bytes()
    assert validate(io.BytesIO(data), max_bytes=len(data)) == "JPEG"
    refusal = _refusal(data, max_bytes=len(data) - 1)
    assert refusal.code == "too_large"
    assert "MB" in refusal.message


def test_default_byte_limit_is_15_mib() -> None:
    assert imaging.MAX_BYTES == 15 * 1024 * 1024
    assert imaging.MAX_PIXELS == 40_000_000
    assert {"JPEG", "PNG", "HEIF"} == imaging.ACCEPTED_FORMATS


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (fx.decompression_bomb_png(), "too_many_pixels"),
        (fx.SVG, "unsupported_type"),
        (fx.TEXT, "unsupported_type"),
        (fx.truncated_jpeg(), "truncated"),
        (fx.gif_bytes(), "unsupported_type"),
        (fx.tiff_bytes(), "unsupported_type"),
        (fx.pdf_bytes(), "unsupported_type"),
        (fx.webp_bytes(), "unsupported_type"),
        (b"", "empty"),
    ],
    ids=["bomb", "svg", "text_named_jpg", "truncated_jpeg", "gif", "tiff", "pdf", "webp", "empty"],
)
def test_named_hostile_files(data: bytes, code: str) -> None:
    assert _refusal(data).code == code


def test_truncated_images_are_never_loaded_leniently(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        validate(io.BytesIO(fx.truncated_jpeg()))


def test_image_rejected_carries_code_and_message() -> None:
    exc = ImageRejected("corrupt", "The photo could not be read.")
    assert (exc.code, exc.message, str(exc)) == ("corrupt", *(["The photo could not be read."] * 2))
    with pytest.raises(ValueError, match="unknown rejection code"):
        ImageRejected("nope", "x")


# --- sanitize -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", fx.valid_cases(), ids=lambda c: c.name)
def test_every_valid_file_is_accepted_as_a_pixels_only_jpeg(case: fx.ValidFile) -> None:
    out = sanitize(io.BytesIO(case.data))
    assert (out.width, out.height) == case.size
    assert out.content_type == "image/jpeg"
    assert out.sha256 == hashlib.sha256(out.data).hexdigest()
    _assert_pixels_only(out.data)
    img = _open(out.data)
    assert img.size == case.size
    assert img.mode in {"RGB", "L"}


def test_gps_exif_is_removed() -> None:
    source = fx.jpeg_with_gps()
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(0x8825)  # the fixture has GPS
    out = sanitize(io.BytesIO(source))
    img = _open(out.data)
    assert len(img.getexif()) == 0
    assert img.getexif().get_ifd(0x8825) == {}
    assert b"Exif" not in out.data
    assert b"GPS" not in out.data
    assert fx.SECRET not in out.data


@pytest.mark.parametrize(
    ("orientation", "red_corner"),
    [
        (1, "top_left"),
        (2, "top_right"),
        (3, "bottom_right"),
        (4, "bottom_left"),
        (5, "top_left"),
        (6, "top_right"),
        (7, "bottom_right"),
        (8, "bottom_left"),
    ],
)
def test_exif_orientation_is_applied_to_pixels(orientation: int, red_corner: str) -> None:
    out = sanitize(io.BytesIO(fx.jpeg_with_gps(orientation=orientation, size=(40, 20))))
    assert (out.width, out.height) == ((20, 40) if orientation >= 5 else (40, 20))
    corners = _corner_colours(_open(out.data))
    assert [name for name, rgb in corners.items() if _is_red(rgb)] == [red_corner]


def test_orientation_6_turns_40x20_into_20x40() -> None:
    out = sanitize(io.BytesIO(fx.jpeg_with_gps(orientation=6, size=(40, 20))))
    assert (out.width, out.height) == (20, 40)
    assert _open(out.data).size == (20, 40)


def test_png_with_html_tail_is_stored_without_it() -> None:
    source = fx.png_with_html_tail()
    assert source.endswith(fx.HTML_TAIL)
    out = sanitize(io.BytesIO(source))
    assert fx.HTML_TAIL not in out.data
    assert b"<script" not in out.data
    assert b"<script" not in out.thumbnail
    _assert_pixels_only(out.data)


@pytest.mark.parametrize("case", fx.smuggled_cases(), ids=lambda c: c.name)
def test_smuggled_metadata_and_tails_do_not_survive(case: fx.SmuggledFile) -> None:
    assert case.marker in case.data
    out = sanitize(io.BytesIO(case.data))
    assert case.marker not in out.data
    assert case.marker not in out.thumbnail
    _assert_pixels_only(out.data)


def test_heic_is_accepted_and_converted_to_jpeg() -> None:
    out = sanitize(io.BytesIO(fx.heic_bytes((64, 48), exif=fx.gps_exif())))
    assert (out.width, out.height) == (64, 48)
    _assert_pixels_only(out.data)


def test_heic_orientation_is_applied_once() -> None:
    out = sanitize(io.BytesIO(fx.heic_bytes((40, 20), exif=fx.gps_exif(orientation=6))))
    assert (out.width, out.height) == (20, 40)
    corners = _corner_colours(_open(out.data))
    assert _is_red(corners["top_right"])


def test_transparent_pixels_become_white() -> None:
    img = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    out = sanitize(io.BytesIO(fx.encode(img, "PNG")))
    assert all(channel > 245 for channel in _open(out.data).getpixel((8, 8)))  # type: ignore[union-attr]


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    img = Image.new("I;16", (16, 16), 32768)
    out = sanitize(io.BytesIO(fx.encode(img, "PNG")))
    result = _open(out.data)
    assert result.mode == "L"
    assert 120 <= result.getpixel((8, 8)) <= 136  # type: ignore[operator]


def test_cmyk_jpeg_becomes_rgb() -> None:
    out = sanitize(io.BytesIO(fx.jpeg_bytes(mode="CMYK")))
    assert _open(out.data).mode == "RGB"


def _flat(colour: tuple[int, int, int], icc: bytes | None, fmt: str = "JPEG") -> tuple[int, ...]:
    """Sanitise a one-colour image and read back its centre pixel."""
    params: dict[str, object] = {"quality": 100}
    if icc is not None:
        params["icc_profile"] = icc
    data = fx.encode(Image.new("RGB", (16, 16), colour), fmt, **params)
    return _open(sanitize(io.BytesIO(data)).data).getpixel((8, 8))  # type: ignore[return-value]


def _close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 3) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "HEIF"])
def test_display_p3_is_converted_to_srgb_and_srgb_left_alone(fmt: str) -> None:
    colour = (200, 100, 100)
    plain = _flat(colour, None, fmt)
    assert _close(_flat(colour, fx.srgb_icc(), fmt), plain)
    p3 = _flat(colour, fx.display_p3_icc(), fmt)
    # The same numbers mean a more saturated red in Display P3 than in sRGB.
    assert p3[0] > plain[0] + 5
    assert p3[1] < plain[1] - 5


def test_broken_icc_profile_is_ignored_not_refused() -> None:
    colour = (200, 100, 100)
    assert _close(_flat(colour, b"not a profile" * 4), _flat(colour, None))


def test_processed_image_is_frozen_and_repr_hides_bytes() -> None:
    out = sanitize(io.BytesIO(fx.jpeg_bytes()))
    assert isinstance(out, ProcessedImage)
    with pytest.raises(AttributeError):
        out.width = 1  # type: ignore[misc]
    assert "data=" not in repr(out)
    assert out.sha256 in repr(out)


def test_sha256_hex_matches_hashlib() -> None:
    assert imaging.sha256_hex(b"abc") == hashlib.sha256(b"abc").hexdigest()
    out = sanitize(io.BytesIO(fx.png_bytes()))
    assert out.sha256 == imaging.sha256_hex(out.data)
    assert len(out.sha256) == 64


def test_same_upload_gives_same_output() -> None:
    data = fx.jpeg_with_gps(orientation=6)
    assert sanitize(io.BytesIO(data)).sha256 == sanitize(io.BytesIO(data)).sha256


# --- thumbnails ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1280, 960), (320, 240)),
        ((960, 1280), (240, 320)),
        ((2000, 50), (320, 8)),
        ((64, 48), (64, 48)),
    ],
)
def test_thumbnail_fits_320_box_keeping_aspect_ratio(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    source = fx.jpeg_bytes(size)
    from_sanitize = _open(sanitize(io.BytesIO(source)).thumbnail)
    from_bytes = _open(imaging.thumbnail(source))
    assert from_sanitize.size == expected
    assert from_bytes.size == expected


def test_thumbnail_applies_orientation_and_strips_metadata() -> None:
    source = fx.jpeg_with_gps(orientation=6, size=(1280, 640))
    for thumb in (sanitize(io.BytesIO(source)).thumbnail, imaging.thumbnail(source)):
        assert _open(thumb).size == (160, 320)
        _assert_pixels_only(thumb)


def test_thumbnail_of_sanitised_photo_and_custom_size() -> None:
    photo = sanitize(io.BytesIO(fx.jpeg_bytes((1600, 1200))), thumbnail_size=None)
    assert photo.thumbnail == b""
    assert _open(imaging.thumbnail(photo.data, (100, 100))).size == (100, 75)


def test_thumbnail_refuses_hostile_bytes() -> None:
    with pytest.raises(ImageRejected) as info:
        imaging.thumbnail(fx.decompression_bomb_png())
    assert info.value.code == "too_many_pixels"
