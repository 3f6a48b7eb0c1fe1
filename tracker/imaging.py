"""Lesion photo handling: refuse hostile uploads, strip metadata, re-encode, make thumbnails.

Pure functions on bytes and binary streams (no Django), shared by the upload service, which calls
:func:`validate` inside the request, and the processing task, which calls :func:`sanitize`.

Invariants:

- The format is decided by magic bytes only (:func:`sniff_format`), never by the file name or
  the client's content type, and Pillow is restricted to that one decoder.
- Nothing is decoded before the declared size has been checked against ``max_pixels``; Pillow's
  own decompression-bomb warning is an error too.
- A file is accepted only if it decodes completely (``ImageFile.LOAD_TRUNCATED_IMAGES`` must stay
  False).
- Every refusal is an :class:`ImageRejected` with a machine-readable ``code``; no other exception
  escapes for bad input. (Programming errors and ``MemoryError`` still propagate.)
- Stored photos are re-encoded from pixels only: no EXIF (so no GPS), XMP, ICC profile, comment,
  text chunk or trailing bytes survive. Orientation is applied to the pixels; a wide-gamut ICC
  profile (Display P3 on iPhones) is converted to sRGB first, so colours are kept without
  keeping the profile.
- One decode per photo: :func:`sanitize` validates, orients, re-encodes and makes the thumbnail
  from the same decoded image.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Final

import pillow_heif
from PIL import Image, ImageCms, ImageFile

if TYPE_CHECKING:
    from typing import BinaryIO

pillow_heif.register_heif_opener()

MAX_BYTES: Final = 15 * 1024 * 1024
MAX_PIXELS: Final = 40_000_000
THUMBNAIL_SIZE: Final = (320, 320)
ACCEPTED_FORMATS: Final = frozenset({"JPEG", "PNG", "HEIF"})

JPEG_QUALITY: Final = 90
THUMBNAIL_QUALITY: Final = 85
SNIFF_BYTES: Final = 512
"""Bytes read for :func:`sniff_format`; enough for any ISO-BMFF ``ftyp`` box a phone writes."""

_WHITE: Final = (255, 255, 255)
# Every mode the JPEG, PNG and HEIF decoders produce, all handled by _to_rgb_or_l; anything else
# is refused up front so that validate() and sanitize() agree.
_DECODED_MODES: Final = frozenset(
    {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "I", "I;16", "I;16B", "I;16L", "I;16N"}
)
_ORIENTATION_TAG: Final = 0x0112
_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# HEVC-coded HEIF brands. "mif1"/"msf1" only say "HEIF structure" and are shared with AVIF
# (whose files list "avif"/"avis" too): a file with a HEVC brand is HEIF; else one with an AV1
# brand is AVIF (refused: not accepted, and libheif here has no AV1 decoder); else bare
# "mif1"/"msf1" is treated as HEIF and the HEIF decoder decides (an AV1 item then fails to decode
# and is refused as corrupt).
_HEVC_BRANDS: Final = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm"})
_AV1_BRANDS: Final = frozenset({b"avif", b"avis"})
_HEIF_STRUCTURAL_BRANDS: Final = frozenset({b"mif1", b"msf1", b"mif2"})

# Refused formats are named too, so that logs say what was sent.
_OTHER_MAGIC: Final = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF-", "PDF"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG2000"),
    (b"\xff\x4f\xff\x51", "JPEG2000"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JXL"),
    (b"\xff\x0a", "JXL"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
)


class ImageRejected(Exception):
    """An upload that is not an acceptable photo.

    ``code`` is machine-readable (one of ``CODES``); ``message`` is a sentence for the phone user.
    """

    CODES: Final = frozenset(
        {"unsupported_type", "truncated", "too_many_pixels", "too_large", "corrupt", "empty"}
    )

    def __init__(self, code: str, message: str) -> None:
        if code not in self.CODES:
            raise ValueError(f"unknown rejection code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ImageRejected(code={self.code!r}, message={self.message!r})"


@dataclass(frozen=True)
class ProcessedImage:
    """A sanitised photo: baseline JPEG re-encoded from pixels, in sRGB (RGB, or L if grey).

    ``sha256`` is the hex digest of ``data``. ``thumbnail`` (JPEG, within ``THUMBNAIL_SIZE``) is
    made from the same decoded pixels, so the task need not decode the photo again.
    """

    data: bytes = field(repr=False)
    width: int
    height: int
    sha256: str
    content_type: str = "image/jpeg"
    thumbnail: bytes = field(default=b"", repr=False)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sniff_format(head: bytes) -> str | None:
    """Name the format from its magic bytes (Pillow's format names), or None if unknown.

    Only ``ACCEPTED_FORMATS`` are accepted downstream; other names are returned for logging.
    ISO-BMFF files are classified by their ``ftyp`` brands, see ``_HEVC_BRANDS``.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[4:8] == b"ftyp":
        return _sniff_isobmff(head)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":
        return "BMP"
    for magic, name in _OTHER_MAGIC:
        if head.startswith(magic):
            return name
    return None


def _sniff_isobmff(head: bytes) -> str | None:
    box_size = int.from_bytes(head[:4], "big")
    end = box_size if 16 <= box_size <= len(head) else len(head)
    brands = {head[8:12]} | {head[i : i + 4] for i in range(16, end - 3, 4)}
    if brands & _HEVC_BRANDS:
        return "HEIF"
    if brands & _AV1_BRANDS:
        return "AVIF"
    if brands & _HEIF_STRUCTURAL_BRANDS:
        return "HEIF"
    return None


def validate(stream: BinaryIO, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> str:
    """Return the detected format (one of ``ACCEPTED_FORMATS``) or raise :class:`ImageRejected`.

    Decodes nothing until the size, magic-byte and declared-pixel checks pass; then decodes the
    whole image once, to detect truncation. Rewinds the stream and never closes it.
    """
    # Not img.close(): for PNG and MPO it would close the caller's stream. The decoded pixels
    # are freed when img goes out of scope.
    return _accepted_format(_open_checked(stream, max_bytes=max_bytes, max_pixels=max_pixels))


def sanitize(
    stream: BinaryIO,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    quality: int = JPEG_QUALITY,
    thumbnail_size: tuple[int, int] | None = THUMBNAIL_SIZE,
) -> ProcessedImage:
    """Validate and re-encode an upload as a metadata-free JPEG, plus its thumbnail.

    Raises :class:`ImageRejected` exactly when :func:`validate` would. The output keeps only
    pixels: orientation applied, colours converted to sRGB, alpha composited on white, 16-bit
    reduced to 8-bit. Pass ``thumbnail_size=None`` to skip the thumbnail. Rewinds the stream.
    """
    img = _normalise(_open_checked(stream, max_bytes=max_bytes, max_pixels=max_pixels))
    if thumbnail_size is None:
        data = _encode_jpeg(img, quality)
        thumb = b""
    else:
        # Pillow releases the GIL while resampling and encoding, so the thumbnail is made on a
        # second core while the full-size JPEG is encoded; both only read the same pixels.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(_thumbnail_jpeg, img, thumbnail_size)
            data = _encode_jpeg(img, quality)
            thumb = pending.result()
    return ProcessedImage(
        data=data, width=img.width, height=img.height, sha256=sha256_hex(data), thumbnail=thumb
    )


def thumbnail(
    data: bytes, size: tuple[int, int] = THUMBNAIL_SIZE, *, max_pixels: int = MAX_PIXELS
) -> bytes:
    """A JPEG within ``size`` keeping the aspect ratio, from any acceptable image's bytes.

    Validated like an upload. JPEGs are decoded at a reduced DCT scale (``Image.draft``), which
    is several times faster than a full decode.
    """
    img = _open_checked(io.BytesIO(data), max_bytes=len(data), max_pixels=max_pixels, draft=size)
    return _thumbnail_jpeg(_normalise(img), size)


# --- internals ----------------------------------------------------------------------------------

_MESSAGES: Final = {
    "empty": "The photo file is empty. Please take the photo again.",
    "unsupported_type": "This file is not a photo we can accept. Please send a JPEG, PNG or HEIC "
    "photo from your camera.",
    "truncated": "The photo did not arrive completely. Please try sending it again.",
    "corrupt": "The photo could not be read. Please take it again or choose another photo.",
}


def _reject(code: str) -> ImageRejected:
    return ImageRejected(code, _MESSAGES[code])


def _open_checked(
    stream: BinaryIO,
    *,
    max_bytes: int,
    max_pixels: int,
    draft: tuple[int, int] | None = None,
) -> Image.Image:
    """Size, magic-byte and pixel-count checks, then one full decode; the stream is rewound.

    Shared by :func:`validate` and :func:`sanitize` so that a photo is decoded only once.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Something in the process turned it on; failing loudly beats accepting half-photos.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True; refusing to validate")
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    if size == 0:
        raise _reject("empty")
    if size > max_bytes:
        raise ImageRejected(
            "too_large",
            f"The photo is {_megabytes(size)}; the limit is {_megabytes(max_bytes)}. "
            "Please send a smaller photo.",
        )
    fmt = sniff_format(stream.read(SNIFF_BYTES))
    stream.seek(0)
    if fmt not in ACCEPTED_FORMATS:
        raise _reject("unsupported_type")
    too_many = ImageRejected(
        "too_many_pixels",
        f"The photo has too many pixels (the limit is {max_pixels / 1e6:g} megapixels). "
        "Please send a smaller photo.",
    )
    try:
        # catch_warnings is not thread-safe: concurrent calls may leave this filter installed
        # process-wide, which only makes Pillow stricter elsewhere. (Pillow warns above 89 MP,
        # so with the default max_pixels our own check below refuses those images first.)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(stream, formats=[fmt])
            width, height = img.size
            if width <= 0 or height <= 0 or img.mode not in _DECODED_MODES:
                raise _reject("corrupt")
            if width * height > max_pixels:
                raise too_many
            if draft is not None and fmt == "JPEG":
                img.draft(None, _draft_box(img, draft))
            img.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise too_many from exc
    except MemoryError:
        raise
    except Exception as exc:
        # Decoders fed hostile bytes raise OSError, SyntaxError, ValueError, EOFError,
        # struct.error, zlib.error, IndexError...: each means "not a readable photo".
        raise _reject(_decoder_failure_code(exc)) from exc
    finally:
        stream.seek(0)
    return img


def _decoder_failure_code(exc: Exception) -> str:
    text = str(exc).lower()
    truncation_hints = ("truncated", "end of file", "premature", "unexpected end", "not enough")
    if isinstance(exc, EOFError) or any(hint in text for hint in truncation_hints):
        return "truncated"
    return "corrupt"


def _accepted_format(img: Image.Image) -> str:
    # MPO (multi-picture JPEG, written by some Android cameras) is decoded by the JPEG plugin.
    return "JPEG" if img.format == "MPO" else str(img.format)


def _draft_box(img: Image.Image, size: tuple[int, int]) -> tuple[int, int]:
    """The draft request in stored (pre-orientation) axes: a quarter turn swaps them."""
    try:
        orientation = img.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:
        orientation = 1
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _normalise(img: Image.Image) -> Image.Image:
    """Oriented, sRGB, 8-bit RGB or L pixels, with no metadata attached."""
    icc = img.info.get("icc_profile")
    img = _orient(img)
    img = _to_rgb_or_l(img, icc if isinstance(icc, bytes) else None)
    img.info = {}
    return img


def _orient(img: Image.Image) -> Image.Image:
    """Apply the EXIF (or XMP) orientation to the pixels, as ``ImageOps.exif_transpose`` does.

    Done directly rather than through exif_transpose because the metadata it rewrites is dropped
    anyway. HEIF is already oriented by libheif, which also resets the tag to 1.
    """
    try:
        orientation = img.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:
        # A malformed EXIF block must not cost the patient the photo: keep it as stored.
        orientation = 1
    method = _TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
    return img if method is None else img.transpose(method)


def _to_rgb_or_l(img: Image.Image, icc: bytes | None) -> Image.Image:
    mode = img.mode
    if mode in ("RGB", "CMYK"):
        img = _to_srgb(img, icc)
        return img if img.mode == "RGB" else img.convert("RGB")
    if mode == "L":
        return img
    if mode in ("RGBA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        out = Image.new("RGB", img.size, _WHITE)
        out.paste(rgba, mask=rgba)
        return _to_srgb(out, icc)
    if mode == "LA":
        grey = Image.new("L", img.size, 255)
        grey.paste(img.getchannel("L"), mask=img.getchannel("A"))
        return grey
    if mode.startswith("I;16") or mode == "I":
        # Pillow's I -> L conversion clips at 255 instead of scaling, which would turn a 16-bit
        # photo white.
        return img.convert("I").point([v >> 8 for v in range(65536)], "L")
    if mode == "1":
        return img.convert("L")
    return _to_srgb(img.convert("RGB"), icc)


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert RGB or CMYK pixels from their embedded profile to sRGB; no-op if none or sRGB.

    Paid only for non-sRGB profiles (iPhone Display P3), and dear: about 125 ms on a 12 MP photo,
    some 2.5 bare decodes, worth it so that erythema keeps its colour. A profile that is broken or
    does not match the pixels is ignored, not refused.
    """
    if not icc:
        return img
    transform = _srgb_transform(icc, img.mode)
    if transform is None:
        return img
    if img.mode == "RGB":
        ImageCms.applyTransform(img, transform, inPlace=True)
        return img
    out = ImageCms.applyTransform(img, transform)
    return img if out is None else out


@lru_cache(maxsize=8)
def _srgb_transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        expected_space = {"RGB": "RGB ", "CMYK": "CMYK"}[mode]
        if source.profile.xcolor_space != expected_space:
            return None
        if mode == "RGB" and _is_srgb_like(source):
            return None
        # NOCACHE: lcms's one-pixel cache makes a shared transform unsafe across threads.
        return ImageCms.buildTransform(
            source,
            _srgb_profile(),
            mode,
            "RGB",
            ImageCms.Intent.PERCEPTUAL,
            flags=ImageCms.Flags.NOCACHE,
        )
    except (ImageCms.PyCMSError, OSError, KeyError, ValueError, TypeError):
        return None


@lru_cache(maxsize=1)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _is_srgb_like(profile: ImageCms.ImageCmsProfile) -> bool:
    """Same primaries as sRGB (within rounding): converting would change nothing visible."""
    reference = _srgb_profile().profile
    pairs = (
        (profile.profile.red_colorant, reference.red_colorant),
        (profile.profile.green_colorant, reference.green_colorant),
        (profile.profile.blue_colorant, reference.blue_colorant),
    )
    for colorant, expected in pairs:
        if colorant is None or expected is None:
            return False
        if any(abs(a - b) > 0.002 for a, b in zip(colorant[0], expected[0], strict=True)):
            return False
    return True


def _shrink(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Fit within ``size`` keeping the aspect ratio; never enlarges."""
    scale = min(size[0] / img.width, size[1] / img.height, 1.0)
    target = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    if target == img.size:
        return img
    # reducing_gap lets Pillow box-reduce first: much faster than a full bicubic pass.
    return img.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _thumbnail_jpeg(img: Image.Image, size: tuple[int, int]) -> bytes:
    small = _shrink(img, size)
    # Never encode the caller's image object here: save() stores encoder settings on it, and
    # sanitize() encodes that object concurrently.
    return _encode_jpeg(small.copy() if small is img else small, THUMBNAIL_QUALITY)


def _encode_jpeg(img: Image.Image, quality: int) -> bytes:
    """Baseline JPEG from pixels only: info is empty, so no EXIF, ICC, XMP or comment."""
    img.info = {}
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=False, subsampling="4:2:0")
    return buf.getvalue()
