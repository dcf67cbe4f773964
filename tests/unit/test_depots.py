"""Each depot has its own bays: the rules route a photo by the depot its upload names."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from services.router.rules import DEFAULT_RULES, RoutingRules
from shared.contracts import RejectionReason, Route
from tests.decisions import BIKE, MOTO, RULES, decided, rejected, sure


def test_the_same_vehicle_goes_to_each_depots_own_bay() -> None:
    # GIVEN the served rules' two depots
    first, second = list(RULES.depots)
    # WHEN a sure bicycle is decided at each
    at_first, at_second = decided(sure(BIKE), depot_id=first), decided(sure(BIKE), depot_id=second)
    # THEN each is routed to its own depot's bicycle bay and radius, and says which depot
    for decision, depot in ((at_first, first), (at_second, second)):
        bay = RULES.depots[depot].bays[BIKE]
        assert (decision.outcome, decision.depot_id) == (Route.ROUTED, depot)
        assert (decision.bay, decision.radius_km) == (bay.bay, bay.radius_km)
    assert at_first.bay != at_second.bay
    assert at_first.message_attributes()["depot_id"] == first


def test_a_photo_that_names_no_depot_keeps_the_default_depots_bays() -> None:
    decision = decided(sure(MOTO))
    assert decision.depot_id == RULES.default_depot
    assert decision.bay == RULES.depots[RULES.default_depot].bays[MOTO].bay


def test_a_photo_from_a_depot_the_rules_do_not_know_is_rejected_never_routed() -> None:
    decision = decided(sure(BIKE), depot_id="atlantis")
    assert decision.outcome == Route.REJECTED and decision.bay is None
    assert decision.reason == RejectionReason.UNKNOWN_DEPOT


def test_a_rejection_is_kept_at_its_depot_for_that_depots_board() -> None:
    second = list(RULES.depots)[1]
    assert rejected(depot_id=second).depot_id == second


def test_rules_that_leave_a_class_without_a_bay_at_some_depot_do_not_load() -> None:
    # GIVEN the served rules with the motorcycle bay of one depot removed
    data = yaml.safe_load(DEFAULT_RULES.read_text())
    depot = next(iter(data["depots"]))
    del data["depots"][depot]["bays"][MOTO]
    # THEN they are refused when loaded, naming the depot and the class
    with pytest.raises(ValidationError, match=f"depot {depot}: no bay for \\['{MOTO}'\\]"):
        RoutingRules.model_validate(data)


def test_the_default_depot_must_be_one_of_the_depots() -> None:
    data = yaml.safe_load(DEFAULT_RULES.read_text())
    data["default_depot"] = "nowhere"
    with pytest.raises(ValidationError, match="default_depot"):
        RoutingRules.model_validate(data)
