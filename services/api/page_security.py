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


def content_security_policy(*, cognito_url: str, photo_origins: list[str], page_html: str) -> str:
    cognito, photos = origin_of(cognito_url), " ".join(photo_origins)
    directives = {
        "default-src": "'none'",
        "script-src": "'self'",
        # the pages' own style sheets, and the board's one inline block by its hash
        "style-src": " ".join(["'self'", *style_hashes(page_html)]),
        # the driver's preview is an object URL of the photo taken (blob:), the board's photos presigned
        "img-src": f"'self' blob: {photos}",
        # the driver's page posts the photo to the bucket with the presigned form
        "connect-src": f"'self' {cognito} {photos}",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def security_headers(*, cognito_url: str, photo_origins: list[str], page_html: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(
            cognito_url=cognito_url, photo_origins=photo_origins, page_html=page_html
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def photo_origins(endpoint_url: str, bucket: str, region: str) -> list[str]:
    """Where the API's presigned photo links point: the bucket's virtual host on AWS (botocore presigns
    with the global name, `{bucket}.s3.amazonaws.com`; the regional one is allowed too), else the
    configured endpoint itself (moto locally, path-style)."""
    if urlsplit(endpoint_url).hostname and str(urlsplit(endpoint_url).hostname).endswith(".amazonaws.com"):
        return [f"https://{bucket}.s3.amazonaws.com", f"https://{bucket}.s3.{region}.amazonaws.com"]
    return [origin_of(endpoint_url)]


def page_headers(settings: ApiSettings, page_html: str) -> dict[str, str]:
    """The headers for this deployment: its Cognito endpoint, and the origins of its photo links (read
    from the presigning client's endpoint: no AWS call, no credentials needed)."""
    s3: Any = presigning_s3(settings.aws_region)
    photos = photo_origins(str(s3.meta.endpoint_url), settings.photo_bucket, settings.aws_region)
    return security_headers(cognito_url=settings.cognito_url, photo_origins=photos, page_html=page_html)
