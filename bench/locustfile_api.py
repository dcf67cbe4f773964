"""The load of `driver-routing bench --api`: a shift starting, as Locust users against the local API.

Run by Locust in a virtual environment of its own (`bench.locust_env`), so this file imports only Locust,
the standard library and requests; everything it needs comes in the plan, a JSON file named by
`$DRIVER_ROUTING_LOAD_PLAN` (`bench.api_load` writes it):

- each driver reads `/config.json` as the page does, signs in with Cognito's InitiateAuth
  (USER_PASSWORD_AUTH) and sends its photos one after another, the phone's path: `POST /uploads`, the
  presigned form POST to S3, then `GET /uploads/{id}` at once and every second after (the page's
  cadence) until the answer is final (routed, rejected, or manual review: what the phone shows); after
  its last photo it stops;
- one dispatcher polls `GET /board` with its cursor once a second (the board's cadence) until every
  driver is done, then ends the run.

A 429 (the route's throttle, or the driver's own upload limit) is waited out: `Retry-After` when the
answer has one, else the page's back-off (2, 4, 8, 15, 30 s). Locust counts it as a failure with the
error the plan names; `bench.locust_stats` tells those from errors. Each photo's times go to the plan's
`samples` file, one JSON line per photo: from the first `POST /uploads` attempt to the final answer
(429 waits included), and from the admitted `POST /uploads` to the final answer.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task
from locust.exception import StopUser

PLAN: dict[str, Any] = json.loads(Path(os.environ["DRIVER_ROUTING_LOAD_PLAN"]).read_text(encoding="utf-8"))
BACKOFF_S = (2.0, 4.0, 8.0, 15.0, 30.0)  # services/api/static/driver.js's RETRY_MS
FINAL = frozenset({"routed", "rejected", "manual-review"})
THROTTLED = PLAN["throttled_error"]  # bench.locust_stats.THROTTLED


class Shift:
    """What the run's users share: who is signed in, who is done."""

    credentials = iter(PLAN["drivers"])
    done = 0


def _wait_s(response: Any, attempt: int) -> float:
    retry_after = response.headers.get("Retry-After", "")
    if retry_after.isdigit():
        return float(retry_after)
    return BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)] * random.uniform(0.8, 1.2)


class Person(HttpUser):  # type: ignore[misc]
    abstract = True
    host = PLAN["api_url"]

    def sign_in(self, username: str, password: str) -> str:
        config = self.client.get("/config.json", name="GET /config.json").json()
        answer = self.client.post(
            config["cognito_endpoint"],
            name="Cognito InitiateAuth",
            data=json.dumps(
                {
                    "AuthFlow": "USER_PASSWORD_AUTH",
                    "ClientId": config["client_id"],
                    "AuthParameters": {"USERNAME": username, "PASSWORD": password},
                }
            ),
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
            },
        )
        answer.raise_for_status()
        token: str = answer.json()["AuthenticationResult"]["IdToken"]
        return token

    def call(self, method: str, path: str, name: str, **kwargs: Any) -> Any:
        """One API request until it is not a 429, each 429 waited out; the last response."""
        attempt = 0
        while True:
            with self.client.request(
                method, path, name=name, headers=self.auth, catch_response=True, **kwargs
            ) as response:
                if response.status_code != 429:
                    if response.status_code >= 400:
                        response.failure(f"HTTP {response.status_code}")
                    return response
                response.failure(THROTTLED)
            time.sleep(_wait_s(response, attempt))
            attempt += 1


class Driver(Person):
    wait_time = between(1, 3)  # between two photos: the driver takes the next one

    def on_start(self) -> None:
        me = next(Shift.credentials)
        self.username = me["username"]
        count = PLAN["photos_per_driver"]
        self.photos = [PLAN["photos"][(me["index"] + n) % len(PLAN["photos"])] for n in range(count)]
        try:
            self.auth = {"Authorization": f"Bearer {self.sign_in(me['username'], me['password'])}"}
        except Exception as error:  # one line per photo it could not send, then this driver is done
            for photo in self.photos:
                self.record(photo, None, time.monotonic(), time.monotonic(), f"sign-in: {error}")
            self.finish()

    @task  # type: ignore[untyped-decorator]
    def send_a_photo(self) -> None:
        if not self.photos:
            self.finish()
        photo = self.photos.pop(0)
        data = Path(photo["path"]).read_bytes()
        first_attempt = time.monotonic()
        ticket = self.call(
            "POST",
            "/uploads",
            "POST /uploads",
            json={"content_type": photo["content_type"], "size": len(data), "upload_token": uuid.uuid4().hex},
        )
        admitted = time.monotonic()
        if ticket.status_code != 201:
            self.record(photo, None, first_attempt, admitted, f"POST /uploads: HTTP {ticket.status_code}")
            return
        body = ticket.json()
        posted = self.client.post(
            body["url"],
            name="S3 form POST",
            data=body["fields"],
            files={"file": (Path(photo["path"]).name, data, photo["content_type"])},
        )
        if posted.status_code >= 300:
            self.record(photo, body["upload_id"], first_attempt, admitted, f"S3: HTTP {posted.status_code}")
            return
        deadline = time.monotonic() + PLAN["final_timeout_s"]
        while time.monotonic() < deadline:
            answer = self.call("GET", f"/uploads/{body['upload_id']}", "GET /uploads/{id}")
            if answer.status_code == 200 and answer.json().get("status") in FINAL:
                self.record(photo, body["upload_id"], first_attempt, admitted, None, answer.json()["status"])
                return
            time.sleep(PLAN["poll_s"])
        self.record(photo, body["upload_id"], first_attempt, admitted, "no final answer in time")

    def record(
        self,
        photo: dict[str, str],
        upload_id: str | None,
        first_attempt: float,
        admitted: float,
        error: str | None,
        status: str | None = None,
    ) -> None:
        now = time.monotonic()
        line = {
            "driver": self.username,
            "photo": Path(photo["path"]).name,
            "upload_id": upload_id,
            "status": status,
            "error": error,
            "upload_to_final_s": round(now - first_attempt, 4),
            "admitted_to_final_s": round(now - admitted, 4),
        }
        with open(PLAN["samples"], "a", encoding="utf-8") as samples:
            samples.write(json.dumps(line) + "\n")

    def finish(self) -> None:
        Shift.done += 1
        raise StopUser()


class Dispatcher(Person):
    fixed_count = 1
    wait_time = between(PLAN["board_poll_s"], PLAN["board_poll_s"])

    def on_start(self) -> None:
        me = PLAN["dispatcher"]
        self.auth = {"Authorization": f"Bearer {self.sign_in(me['username'], me['password'])}"}
        self.cursor: str | None = None

    @task  # type: ignore[untyped-decorator]
    def poll_the_board(self) -> None:
        if Shift.done >= len(PLAN["drivers"]):
            self.environment.runner.quit()
            raise StopUser()
        query = {"cursor": self.cursor} if self.cursor else None
        board = self.call("GET", "/board", "GET /board", params=query)
        if board.status_code == 200:
            self.cursor = board.json().get("cursor")


@events.init.add_listener  # type: ignore[untyped-decorator]
def _fresh_samples(**_: Any) -> None:
    Path(PLAN["samples"]).write_text("", encoding="utf-8")
