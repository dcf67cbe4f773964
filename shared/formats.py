"""The photo formats the chain takes, their extensions and content types, and what it turns away.

Pure data and byte sniffing, no third-party import: the model server's image reads this module too.
The upload API lists `UPLOAD_CONTENT_TYPES` and names keys with `extension_for`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PhotoFormat:
    """One accepted format: Pillow's name for it, the extensions that may carry it (the first is the one
    a new key gets) and the content types an upload of it may declare (the first is canonical)."""

    name: str
    extensions: tuple[str, ...]
    content_types: tuple[str, ...]

    @property
    def content_type(self) -> str:
        return self.content_types[0]


# Phones: iPhones shoot HEIC, Android sends WebP or JPEG, stereo and portrait JPEGs are MPO files named
# .jpg. GIF and AVIF come from messaging apps and newer Android cameras.
PHOTO_FORMATS: tuple[PhotoFormat, ...] = (
    PhotoFormat("JPEG", (".jpg", ".jpeg", ".jpe", ".jfif"), ("image/jpeg", "image/pjpeg")),
    PhotoFormat("MPO", (".jpg", ".jpeg", ".mpo"), ("image/jpeg",)),
    PhotoFormat("PNG", (".png",), ("image/png",)),
    PhotoFormat("HEIF", (".heic", ".heif", ".hif"), ("image/heic", "image/heif")),
    PhotoFormat("WEBP", (".webp",), ("image/webp",)),
    PhotoFormat("AVIF", (".avif",), ("image/avif",)),
    PhotoFormat("GIF", (".gif",), ("image/gif",)),
)
ACCEPTED: dict[str, PhotoFormat] = {fmt.name: fmt for fmt in PHOTO_FORMATS}
ACCEPTED_EXTENSIONS: frozenset[str] = frozenset(ext for fmt in PHOTO_FORMATS for ext in fmt.extensions)
# What a driver's upload may declare (the presigned POST's Content-Type condition).
UPLOAD_CONTENT_TYPES: tuple[str, ...] = tuple(
    dict.fromkeys(content_type for fmt in PHOTO_FORMATS for content_type in fmt.content_types)
)

# Files a driver may plausibly send that are not photos we read, by extension, as the driver is told
# what they sent. Any other unknown extension is an unsupported extension.
UNSUPPORTED_EXTENSIONS: dict[str, str] = {
    **dict.fromkeys((".svg", ".svgz"), "an SVG drawing"),
    ".pdf": "a PDF document",
    **dict.fromkeys((".tif", ".tiff"), "a TIFF image"),
    **dict.fromkeys((".bmp", ".psd", ".ico", ".jp2", ".jxl", ".eps"), "an image format we do not read"),
    **dict.fromkeys(
        (".dng", ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".orf", ".raf", ".rw2", ".pef", ".srw", ".raw"),
        "a camera RAW file",
    ),
    **dict.fromkeys(
        (".mov", ".mp4", ".m4v", ".3gp", ".avi", ".mkv", ".webm", ".hevc", ".mts", ".wmv"),
        "a video",
    ),
}

# ISO base media file brands (the `ftyp` box) of still images; any other brand is a video or a camera
# RAW (Canon's CR3 is `crx `).
_IMAGE_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"mif2", b"msf1", b"avif", b"avis"}
)


def extension_for(content_type: str) -> str:
    """The extension a new upload of `content_type` is stored under (`photos/{driver}/{id}.{ext}`)."""
    wanted = content_type.split(";", 1)[0].strip().lower()
    for fmt in PHOTO_FORMATS:
        if wanted in fmt.content_types:
            return fmt.extensions[0]
    raise KeyError(f"content type {content_type!r} is not accepted; accepted: {list(UPLOAD_CONTENT_TYPES)}")


def content_type_for(extension: str) -> str | None:
    """The canonical content type of a file with this extension, if the chain takes it."""
    wanted = extension.lower()
    for fmt in PHOTO_FORMATS:
        if wanted in fmt.extensions:
            return fmt.content_type
    return None


def sniff_unsupported(data: bytes) -> str | None:
    """What a file we do not read is ("a PDF document", "a video"...), from its first bytes; None when it
    is none of those. Pillow identifies the other images it knows (BMP, PSD...) by itself."""
    head = data[:512]
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith((b"II*\x00", b"MM\x00*", b"IIRO", b"IIU\x00", b"FUJIFILMCCD-RAW")):
        return "a TIFF image or camera RAW file"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(len(head), _ftyp_end(head)), 4)}
        return None if brands & _IMAGE_BRANDS else "a video or camera RAW file"
    if head.startswith(b"\x1a\x45\xdf\xa3") or (head.startswith(b"RIFF") and head[8:12] == b"AVI "):
        return "a video"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml", b"<!doctype svg")) and b"<svg" in data[:4096].lower():
        return "an SVG drawing"
    return None


def _ftyp_end(head: bytes) -> int:
    return int.from_bytes(head[0:4], "big")
