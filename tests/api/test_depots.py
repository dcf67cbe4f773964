"""A dispatcher works at one depot: their board shows its drivers only, and another depot's photos and
reviews are refused (403), whatever the photo id."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.decisions import BIKE, RULES, decided, record_of, sure, unsure

FIRST, SECOND = list(RULES.depots)[:2]


def dispatcher_at(depot_id: str, name: str) -> dict[str, Any]:
    return {"cognito:username": name, "cognito:groups": ["dispatchers"], "custom:depot_id": depot_id}


def put(api: Api, key: str, answer: dict[str, float], depot_id: str) -> str:
    record = record_of(decided(answer, key=key, depot_id=depot_id))
    assert api.table.put_once(record)
    return record.photo_id


def test_each_depots_board_shows_only_its_own_drivers(api: Api) -> None:
    # GIVEN a routed photo and a photo waiting for review at each depot
    put(api, "photos/d-101/a.jpg", sure(BIKE), FIRST)
    put(api, "photos/d-102/b.jpg", unsure(), FIRST)
    put(api, "photos/d-201/c.jpg", sure(BIKE), SECOND)
    put(api, "photos/d-202/d.jpg", unsure(), SECOND)

    # WHEN each depot's dispatcher loads the board
    boards = {
        depot: api.call("GET", "/board", dispatcher_at(depot, f"pat-{depot}")) for depot in (FIRST, SECOND)
    }

    # THEN each sees its own drivers only, in its own depot's bays
    for depot, (status, board) in boards.items():
        assert status == 200 and board["depot_id"] == depot
        drivers = {item["driver_id"] for lane in board["bays"].values() for item in lane}
        drivers |= {item["driver_id"] for item in board["manual_review"]}
        prefix = "d-1" if depot == FIRST else "d-2"
        assert drivers == {f"{prefix}01", f"{prefix}02"}
        assert set(board["bays"]) == {RULES.depots[depot].bays[BIKE].bay}


def test_another_depots_photo_and_review_are_refused(api: Api) -> None:
    # GIVEN a photo waiting for review at the second depot
    photo_id = put(api, "photos/d-201/c.jpg", unsure(), SECOND)
    outsider = dispatcher_at(FIRST, "pat")

    # WHEN the first depot's dispatcher asks for it, or reviews it
    link_status, _ = api.call("GET", f"/photos/{photo_id}", outsider)
    review_status, body = api.call("POST", f"/reviews/{photo_id}", outsider, {"label": BIKE})

    # THEN both are refused, and the photo is still waiting for its own depot
    assert (link_status, review_status) == (403, 403)
    assert "another depot" in body["message"]
    record = api.table.get(photo_id)
    assert record is not None and record.review is None

    # AND its own depot's dispatcher reviews it to that depot's bay
    status, result = api.call("POST", f"/reviews/{photo_id}", dispatcher_at(SECOND, "sam"), {"label": BIKE})
    assert (status, result["bay"]) == (200, RULES.depots[SECOND].bays[BIKE].bay)


def test_a_dispatcher_without_a_depot_claim_works_at_the_default_depot(api: Api) -> None:
    put(api, "photos/d-101/a.jpg", sure(BIKE), RULES.default_depot)
    status, board = api.call("GET", "/board", {"cognito:username": "old", "cognito:groups": ["dispatchers"]})
    assert status == 200 and board["depot_id"] == RULES.default_depot
    assert [item["driver_id"] for lane in board["bays"].values() for item in lane] == ["d-101"]
