"""The headers every page response carries: a strict Content-Security-Policy and its companions.

The board runs only its own script (`board.js`, no inline script, no `eval`); its one stylesheet is the
page's `<style>` block, allowed by its SHA-256 and nothing else. It talks to the API (same origin) and to
Cognito (`cognito_url`, sign-in), and shows photos from presigned S3 links: those two origins, and no
other, are allowed for connections and images. No page may frame it (`frame-ancestors 'none'`, and
`X-Frame-Options` for older browsers); nothing is sniffed into another type; no URL leaves as a referrer
(a presigned link or a token in a URL stays on the page).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

from services.api.bootstrap import presigning_s3
from services.api.settings import ApiSettings

STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def style_hashes(html: str) -> list[str]:
    """CSP sources for each inline `<style>` block of the page, by the SHA-256 of its text."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
        for block in STYLE_BLOCK.findall(html)
    ]


def content_security_policy(*, cognito_url: str, photos_url: str, page_html: str) -> str:
    cognito, photos = origin_of(cognito_url), origin_of(photos_url)
    directives = {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": " ".join(style_hashes(page_html)) or "'none'",
        "img-src": f"'self' {photos}",
        "connect-src": f"'self' {cognito}",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def security_headers(*, cognito_url: str, photos_url: str, page_html: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(
            cognito_url=cognito_url, photos_url=photos_url, page_html=page_html
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def page_headers(settings: ApiSettings, page_html: str) -> dict[str, str]:
    """The headers for this deployment: its Cognito endpoint, and the origin its photo links point at
    (a link presigned here, with no AWS call: the virtual-hosted bucket on AWS, moto locally)."""
    s3: Any = presigning_s3(settings.aws_region)
    link = s3.generate_presigned_url(
        "get_object", Params={"Bucket": settings.photo_bucket or "photos", "Key": "photos/"}, ExpiresIn=10
    )
    return security_headers(cognito_url=settings.cognito_url, photos_url=str(link), page_html=page_html)
