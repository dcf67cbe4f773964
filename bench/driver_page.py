"""`python -m bench.driver_page`: from the tap on "send" to the bay on the driver's page, in a browser.

Starts a local stack on free ports, signs a driver in on /driver in Debian's chromium at a phone's size
(390 x 844, touch), and for each photo kind (a 3 MB, 12-megapixel phone JPEG made from a sample bicycle
photo, and a 32 x 32 PNG thumbnail) sends it `--uploads` times, one after another, timing from the
click on "send" to the upload's answer in today's list (Playwright's clock, so its own round trips are
included). Prints p50 and p95 per kind and run, and the median over `--runs`, with the load average.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.page_timing import Phases, phases, requests_of, summary
from bench.stats import percentile
from driver_routing.people import create_user, new_password
from local.stack import LocalStack, StackConfig
from shared.aws import clients
from shared.aws.clients import client

DATA = Path(os.environ.get("DRIVER_ROUTING_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
BICYCLE = DATA / "photos" / "bicycle" / "aicaphw1_bicycle_14.jpg"
THUMBNAIL = DATA / "cifar100-vehicles" / "test" / "bicycle" / "bicycle_s_000030.png"
BENCH_UPLOADS_PER_MINUTE = 600
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def phone_jpeg(target_bytes: int = 3_000_000) -> bytes:
    """A 4032 x 3024 JPEG of the sample bicycle with sensor-like noise, about `target_bytes` long."""
    base = Image.open(BICYCLE).convert("RGB").resize((4032, 3024), Image.Resampling.BICUBIC)
    noise = np.random.default_rng(0).normal(0, 6, (3024, 4032, 3))
    pixels = np.clip(np.asarray(base, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    for quality in (98, 97, 96, 95, 92, 90, 85):
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "JPEG", quality=quality)
        if out.tell() <= target_bytes * 1.1:
            break
    return out.getvalue()


def thumbnail_png() -> bytes:
    out = io.BytesIO()
    Image.open(THUMBNAIL).convert("RGB").resize((32, 32)).save(out, "PNG")
    return out.getvalue()


# Marks the page's own time of the tap and clears the browser's resource timings, so that what is read
# after the answer are this upload's requests only.
_ARM = """() => {
  performance.clearResourceTimings();
  performance.setResourceTimingBufferSize(2000);
  window.__shown = null;
  const mark = () => { window.__tap = performance.now(); };
  document.querySelector('#send').addEventListener('click', mark, { once: true });
}"""
# True once the n-th decided upload is in today's list; notes the page's time when it first is.
_SHOWN = """n => {
  const shown = document.querySelectorAll('#today li[data-state=routed], #today li[data-state=rejected],'
    + ' #today li[data-state=manual-review]').length >= n;
  if (shown && window.__shown === null) window.__shown = performance.now();
  return shown;
}"""
_READ = """() => ({
  tap: window.__tap, shown: window.__shown,
  decided: Date.parse(document.querySelector('#today li time').dateTime) - performance.timeOrigin,
  entries: performance.getEntriesByType('resource').map(e => ({
    name: e.name, initiatorType: e.initiatorType, startTime: e.startTime, responseEnd: e.responseEnd })),
})"""


def timed_uploads(
    page: Any, data: bytes, name: str, mime: str, count: int, done_before: int, api_origin: str
) -> tuple[list[float], list[Phases]]:
    seconds, profile = [], []
    for n in range(count):
        page.set_input_files("#camera", files=[{"name": name, "mimeType": mime, "buffer": data}])
        page.wait_for_selector("#preview:not([hidden])")
        page.evaluate(_ARM)
        started = time.perf_counter()
        page.click("#send")
        page.wait_for_function(_SHOWN, arg=done_before + n + 1, timeout=60_000)
        seconds.append(time.perf_counter() - started)
        seen = page.evaluate(_READ)
        requests = requests_of(seen["entries"], api_origin)
        profile.append(phases(requests, seen["tap"], seen["shown"], seen["decided"]))
    return seconds, profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=50, help="uploads per photo kind and run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="one JSON object on the last line")
    args = parser.parse_args()
    if not BICYCLE.exists() or not THUMBNAIL.exists():
        raise SystemExit(f"needs the sample photos under {DATA} (or $DRIVER_ROUTING_DATA)")
    from playwright.sync_api import sync_playwright

    from local.processes import free_port

    kinds = {
        "phone-jpeg-3mb": (phone_jpeg(), "phone.jpg", "image/jpeg"),
        "png-32x32": (thumbnail_png(), "thumb.png", "image/png"),
    }
    sizes = {kind: len(data) for kind, (data, _, _) in kinds.items()}
    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    profiles: dict[str, list[dict[str, dict[str, float]]]] = {kind: [] for kind in kinds}
    load_before = _load()
    with tempfile.TemporaryDirectory() as state:
        config = StackConfig(
            aws_port=free_port(),
            endpoint_port=free_port(),
            api_port=free_port(),
            state_dir=Path(state),
            # One driver sending back to back starts ~50 uploads a minute: above a phone's limit (10),
            # whose 429s would time the limiter, not the page.
            function_settings={"DRIVER_UPLOADS_PER_MINUTE": str(BENCH_UPLOADS_PER_MINUTE)},
        )
        with LocalStack(config) as stack, sync_playwright() as p:
            os.environ.update(stack.client_environment())
            clients.client.cache_clear()
            assert stack.identity is not None
            user, password = f"bench-{uuid.uuid4().hex[:6]}", new_password()
            create_user(
                client("cognito-idp", config.region),
                stack.identity.user_pool_id,
                user,
                password,
                "bench-phone",
            )
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
            )
            page = browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            ).new_page()
            page.goto(f"{stack.api_url}/driver")
            page.fill("#username", user)
            page.fill("#password", password)
            page.click("#sign-in button[type=submit]")
            page.wait_for_selector("#app:not([hidden])")
            done = 0
            for run in range(args.runs):
                for kind, (data, name, mime) in kinds.items():
                    seconds, profile = timed_uploads(
                        page, data, name, mime, args.uploads, done, stack.api_url
                    )
                    done += len(seconds)
                    figures = {
                        "p50_s": round(percentile(seconds, 50), 3),
                        "p95_s": round(percentile(seconds, 95), 3),
                    }
                    results[kind].append(figures)
                    profiles[kind].append(summary(profile))
                    print(f"run {run + 1} {kind} ({sizes[kind]} bytes): {figures} {_load()}", flush=True)
                    print(f"  where it went (ms, p50/p95): {_phases_line(profiles[kind][-1])}", flush=True)
            browser.close()
    report: dict[str, Any] = {
        kind: {f"median_{k}": statistics.median(r[k] for r in runs) for k in ("p50_s", "p95_s")}
        | {"bytes": sizes[kind]}
        for kind, runs in results.items()
    }
    for kind in kinds:
        report[kind]["profile_by_run"] = profiles[kind]
    report["uploads_per_run"] = args.uploads
    report["runs"] = args.runs
    report["loadavg_before"] = load_before
    report["loadavg_after"] = _load()
    for kind in kinds:
        median = report[kind]
        print(
            f"{kind}: median over {args.runs} runs of "
            f"p50 {median['median_p50_s']} s, p95 {median['median_p95_s']} s"
        )
    print(f"load average before: {load_before}, after: {report['loadavg_after']}")
    if args.json:
        print(json.dumps(report, sort_keys=True))


def _load() -> str:
    """The host's load average (1, 5, 15 min): every figure is read beside it."""
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "unknown"


def _phases_line(figures: dict[str, dict[str, float]]) -> str:
    return ", ".join(f"{name.removesuffix('_ms')} {f['p50']:g}/{f['p95']:g}" for name, f in figures.items())


if __name__ == "__main__":
    main()
