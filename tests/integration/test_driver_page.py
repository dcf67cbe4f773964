"""The driver's page on a phone (Playwright, Debian's chromium, 390 x 844, touch) on the local stack.

GIVEN a driver signed in on /driver, the page the local API gateway serves
WHEN they take a photo (the camera's file input) and send it
THEN the page shows the bay and the radius; a damaged photo its sentence and "take it again"; a photo
of no vehicle the waiting state, then the dispatcher's decision; a photo taken without signal, or whose
upload broke off, waits on the phone and is decided once when the signal returns (one record, one object).
Screenshots go to $DRIVER_SCREENSHOT_DIR (default build/screenshots; `docs/` holds the README's copies).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from driver_routing.driver_app import sign_in
from driver_routing.people import create_user
from local.stack import LocalStack
from shared.aws.capture_table import CaptureTable
from shared.aws.clients import client
from shared.contracts import CaptureRecord
from tests.conftest import DATA, REPO
from tests.integration.conftest import CHROMIUM

playwright = pytest.importorskip("playwright.sync_api")

REGION = "us-east-1"
PASSWORD = "Driver-Page-Pass-1"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
BICYCLE = DATA / "photos" / "bicycle" / "aicaphw1_bicycle_14.jpg"
CAT = DATA / "other" / "photos" / "catsdogs__cat.4049.jpg"
SCREENSHOTS = Path(os.environ.get("DRIVER_SCREENSHOT_DIR", REPO / "build" / "screenshots"))
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "en-GB"}
ENGLISH = json.loads((REPO / "services" / "api" / "static" / "lang-en.json").read_text(encoding="utf-8"))

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (make test installs it)"),
    pytest.mark.skipif(
        not BICYCLE.exists() or not CAT.exists(), reason=f"needs the sample photos under {DATA}"
    ),
]


@pytest.fixture(scope="module")
def people(stack: LocalStack) -> Callable[[bool], tuple[str, str]]:
    """New users of the stack's pool: (user name, driver id), a dispatcher's driver id is ''."""
    assert stack.identity is not None
    idp = client("cognito-idp", REGION)

    def make(driver: bool = True) -> tuple[str, str]:
        suffix = uuid.uuid4().hex[:8]
        name, driver_id = (f"drv-{suffix}", f"phone-{suffix}") if driver else (f"disp-{suffix}", "")
        create_user(idp, stack.identity.user_pool_id, name, PASSWORD, driver_id or None)  # type: ignore[union-attr]
        return name, driver_id

    return make


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(**PHONE)
    yield context
    context.close()


def signed_in(context: Any, stack: LocalStack, user: str) -> Any:
    page = context.new_page()
    page.goto(f"{stack.api_url}/driver")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#sign-in button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")
    return page


def take(page: Any, photo: Path | bytes, name: str = "photo.jpg") -> None:
    """What the camera hands the page: a file in the capture input; then the driver taps send."""
    data = photo.read_bytes() if isinstance(photo, Path) else photo
    page.set_input_files("#camera", files=[{"name": name, "mimeType": "image/jpeg", "buffer": data}])
    page.wait_for_selector("#preview:not([hidden])")
    page.click("#send")


def answered(page: Any, state: str, timeout_s: float = 60) -> None:
    page.wait_for_selector(f"#answer[data-state='{state}']", timeout=timeout_s * 1000)


def records_of(driver_id: str) -> list[CaptureRecord]:
    table = CaptureTable(client("dynamodb", REGION), os.environ["CAPTURE_TABLE"])
    return table.for_driver(driver_id)


def objects_of(stack: LocalStack, driver_id: str) -> list[dict[str, Any]]:
    assert stack.resources is not None
    versions = client("s3", REGION).list_object_versions(
        Bucket=stack.resources.bucket, Prefix=f"photos/{driver_id}/"
    )
    return list(versions.get("Versions", []))


def serious(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture(autouse=True)
def _capture_table(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    assert stack.resources is not None
    monkeypatch.setenv("CAPTURE_TABLE", stack.resources.capture_table)


def test_a_driver_signs_in_takes_a_photo_and_reads_the_bay(
    stack: LocalStack, phone: Any, people: Callable[[bool], tuple[str, str]]
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    user, driver_id = people(True)
    seen_urls: list[str] = []
    logged: list[str] = []
    phone.on("request", lambda request: seen_urls.append(request.url))
    # GIVEN a driver signed in on a phone-sized page
    page = signed_in(phone, stack, user)
    page.on("console", lambda message: logged.append(message.text))
    assert page.is_visible("#take") and not page.is_visible("#pick")  # the camera only, by default
    page.screenshot(path=str(SCREENSHOTS / "driver-signed-in.png"))
    # WHEN they take a photo of their bicycle and send it
    take(page, BICYCLE)
    # THEN the answer is the depot's bicycle bay and its radius, large, in the live region
    answered(page, "routed")
    assert page.inner_text("#answer-bay") == "B-NEAR-01"
    assert "3 km" in page.inner_text("#answer-radius")
    assert page.get_attribute("#answer", "aria-live") == "polite"
    page.screenshot(path=str(SCREENSHOTS / "driver-answer.png"))
    # AND today's uploads list it, and the chain made one record of it
    page.wait_for_selector("#today li[data-state='routed']")
    assert [r.outcome.value for r in records_of(driver_id)] == ["routed"]
    # AND a reload keeps the driver signed in (the refresh token), still showing today's upload
    page.reload()
    page.wait_for_selector("#today li[data-state='routed']")
    assert page.is_hidden("#sign-in")
    # AND no token travelled in a URL or reached the console
    token = page.evaluate("Session.idToken()")
    assert token.count(".") == 2
    assert not [u for u in seen_urls if "eyJ" in u or token in u]
    assert not [line for line in logged if "eyJ" in line]


def test_a_damaged_photo_shows_its_sentence_and_take_it_again(
    stack: LocalStack, phone: Any, people: Callable[[bool], tuple[str, str]]
) -> None:
    user, _ = people(True)
    page = signed_in(phone, stack, user)
    # WHEN the driver sends a photo cut off halfway
    take(page, BICYCLE.read_bytes()[:3000])
    # THEN the page says why, in the driver's words, and offers to take it again
    answered(page, "rejected")
    assert page.inner_text("#answer-sentence") == ENGLISH["reason"]["corrupt-image"]
    assert page.is_visible("#answer-retake")
    page.screenshot(path=str(SCREENSHOTS / "driver-rejected.png"))


def test_a_photo_of_no_vehicle_waits_for_the_dispatcher_and_shows_their_decision(
    stack: LocalStack, phone: Any, people: Callable[[bool], tuple[str, str]]
) -> None:
    assert stack.identity is not None
    user, driver_id = people(True)
    dispatcher, _ = people(False)
    page = signed_in(phone, stack, user)
    # WHEN the driver sends a photo of a cat
    take(page, CAT)
    # THEN the page says a dispatcher is looking
    answered(page, "manual-review")
    assert page.inner_text("#answer-title") == ENGLISH["reviewing"]
    assert page.inner_text("#answer-sentence") == ENGLISH["review"]["no-two-wheeler"]
    page.screenshot(path=str(SCREENSHOTS / "driver-waiting.png"))
    # WHEN a dispatcher says it is a bicycle (through the API, as the board does)
    (record,) = records_of(driver_id)
    token = sign_in(client("cognito-idp", REGION), stack.identity.client_id, dispatcher, PASSWORD)
    reviewed = requests.post(
        f"{stack.api_url}/reviews/{record.photo_id}",
        json={"label": "bicycle", "note": ""},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert reviewed.status_code == 200, reviewed.text
    # THEN the phone shows the bay within 2 seconds, without the driver doing anything
    answered(page, "routed", timeout_s=2)
    assert page.inner_text("#answer-bay") == "B-NEAR-01"


def test_a_photo_taken_without_signal_is_sent_when_it_returns_and_decided_once(
    stack: LocalStack, phone: Any, people: Callable[[bool], tuple[str, str]]
) -> None:
    user, driver_id = people(True)
    page = signed_in(phone, stack, user)
    # GIVEN a phone that has lost its signal
    phone.set_offline(True)
    # WHEN the driver takes and sends a photo
    take(page, BICYCLE)
    # THEN the page says it waits for signal, and keeps the photo
    answered(page, "waiting", timeout_s=5)
    assert page.is_visible("#connection")
    page.screenshot(path=str(SCREENSHOTS / "driver-offline.png"))
    assert records_of(driver_id) == [] and objects_of(stack, driver_id) == []
    # WHEN the signal returns
    phone.set_offline(False)
    # THEN the photo goes by itself and is decided once: one object, one record
    answered(page, "routed")
    time.sleep(1.5)  # a second send would have reached S3 by now
    assert len(objects_of(stack, driver_id)) == 1
    assert len(records_of(driver_id)) == 1


@pytest.mark.parametrize("reached_s3", [False, True], ids=["before-s3-had-it", "after-s3-had-it"])
def test_an_upload_cut_off_is_sent_again_and_decided_once(
    stack: LocalStack, phone: Any, people: Callable[[bool], tuple[str, str]], reached_s3: bool
) -> None:
    assert stack.resources is not None
    user, driver_id = people(True)
    page = signed_in(phone, stack, user)
    cut: list[str] = []
    signal = {"up": False}

    def patchy(route: Any) -> None:
        # The connection breaks during the upload while the yard has no signal: before S3 has the
        # photo, or after it stored it and before its answer reached the phone. The phone still
        # believes it is online (navigator.onLine), as phones on a weak signal do.
        if signal["up"]:
            route.continue_()
            return
        if reached_s3 and not cut:
            route.fetch()
        cut.append(route.request.url)
        route.abort("connectionreset")

    page.route(f"**/{stack.resources.bucket}**", patchy)
    # WHEN the driver sends a photo and the connection breaks during its upload
    take(page, BICYCLE)
    deadline = time.monotonic() + 15
    while not cut and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # Playwright runs the route handler while the test waits on the page
    assert cut, "the upload never reached S3's address"
    # THEN the page waits for signal, and tries again by itself
    answered(page, "waiting", timeout_s=10)
    # WHEN the signal returns
    signal["up"] = True
    # THEN the photo is decided once: the same upload, one object, one record
    answered(page, "routed")
    time.sleep(1.5)
    assert len(objects_of(stack, driver_id)) == 1
    assert len(records_of(driver_id)) == 1


def test_a_driver_sees_only_their_own_uploads(
    stack: LocalStack, browser: Any, people: Callable[[bool], tuple[str, str]]
) -> None:
    assert stack.identity is not None
    idp = client("cognito-idp", REGION)
    (ana, ana_id), (ben, _) = people(True), people(True)
    # GIVEN Ana's routed upload
    first = browser.new_context(**PHONE)
    take_page = signed_in(first, stack, ana)
    take(take_page, BICYCLE)
    answered(take_page, "routed")
    first.close()
    (record,) = records_of(ana_id)
    upload_id = f"{ana_id}.{record.photo_key.split('/')[2].split('.')[0]}"
    # WHEN Ben signs in on another phone
    second = browser.new_context(**PHONE)
    page = signed_in(second, stack, ben)
    # THEN his day is empty, and Ana's upload is refused to him
    page.wait_for_selector("#none-today:not([hidden])")
    ben_token = sign_in(idp, stack.identity.client_id, ben, PASSWORD)
    ana_token = sign_in(idp, stack.identity.client_id, ana, PASSWORD)
    listed = requests.get(
        f"{stack.api_url}/uploads", headers={"Authorization": f"Bearer {ben_token}"}, timeout=10
    )
    assert listed.status_code == 200 and listed.json()["uploads"] == []
    theirs = requests.get(
        f"{stack.api_url}/uploads/{upload_id}", headers={"Authorization": f"Bearer {ben_token}"}, timeout=10
    )
    assert theirs.status_code == 403
    own = requests.get(
        f"{stack.api_url}/uploads", headers={"Authorization": f"Bearer {ana_token}"}, timeout=10
    )
    assert [u["upload_id"] for u in own.json()["uploads"]] == [upload_id]
    second.close()


def test_each_person_is_sent_to_their_own_page(
    stack: LocalStack, phone: Any, people: Callable[[bool], tuple[str, str]]
) -> None:
    driver, _ = people(True)
    dispatcher, _ = people(False)
    # WHEN a driver signs in on the board's page
    page = phone.new_page()
    page.goto(f"{stack.api_url}/")
    page.fill("#username", driver)
    page.fill("#password", PASSWORD)
    page.click("#sign-in button[type=submit]")
    # THEN they land on the driver's page, signed in
    page.wait_for_url("**/driver")
    page.wait_for_selector("#app:not([hidden])")
    page.click("#sign-out")
    page.wait_for_selector("#sign-in:not([hidden])")
    # WHEN a dispatcher signs in on the driver's page
    page.fill("#username", dispatcher)
    page.fill("#password", PASSWORD)
    page.click("#sign-in button[type=submit]")
    # THEN they land on the board
    page.wait_for_selector("#board:not([hidden])")
    assert page.url.rstrip("/") == stack.api_url


@pytest.mark.skipif(not AXE.exists(), reason="needs axe-core (make install runs npm ci)")
def test_axe_finds_nothing_serious_on_the_driver_page_and_the_board(
    stack: LocalStack, browser: Any, people: Callable[[bool], tuple[str, str]]
) -> None:
    # axe-core is injected as an inline script, which the pages' own CSP refuses (tested apart, in
    # tests/api/test_uploads.py): the audit's context alone bypasses it.
    phone = browser.new_context(**PHONE, bypass_csp=True)
    driver, _ = people(True)
    dispatcher, _ = people(False)
    # GIVEN each page signed out, then signed in (the driver's with an answer on screen)
    page = phone.new_page()
    page.goto(f"{stack.api_url}/driver")
    page.wait_for_selector("#sign-in:not([hidden])")
    found = {"driver, signed out": serious(page)}
    page = signed_in(phone, stack, driver)
    take(page, BICYCLE)
    answered(page, "routed")
    found["driver, answer"] = serious(page)
    page.click("#sign-out")
    board = phone.new_page()
    board.goto(f"{stack.api_url}/")
    board.wait_for_selector("#sign-in")
    found["board, signed out"] = serious(board)
    board.fill("#username", dispatcher)
    board.fill("#password", PASSWORD)
    board.click("#sign-in button[type=submit]")
    board.wait_for_function("document.querySelector('#status').textContent.startsWith('live')")
    found["board, signed in"] = serious(board)
    phone.close()
    # THEN axe-core reports no serious or critical violation on any of them
    assert found == {name: [] for name in found}
