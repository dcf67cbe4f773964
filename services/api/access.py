"""Which depot a dispatcher works at, and the photos they may see: their depot's only."""

from __future__ import annotations

from dataclasses import dataclass

from services.api.errors import NotFound, NotYours
from services.api.identity import Caller, Group
from services.router.rules import RoutingRules
from shared.aws.ports import RecordReader
from shared.contracts import CaptureRecord


@dataclass(frozen=True)
class DepotAccess:
    records: RecordReader
    rules: RoutingRules

    def depot_of(self, caller: Caller) -> str:
        """The depot a dispatcher works at: their claim, or the rules' default depot."""
        caller.require(Group.DISPATCHERS)
        return caller.depot_id or self.rules.default_depot

    def record(self, caller: Caller, photo_id: str) -> CaptureRecord:
        """The photo's record, when it is the dispatcher's depot's."""
        depot_id = self.depot_of(caller)
        record = self.records.get(photo_id)
        if record is None:
            raise NotFound("no such photo")
        if (record.depot_id or self.rules.default_depot) != depot_id:
            raise NotYours("this photo is another depot's")
        return record
