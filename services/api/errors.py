"""What the API's use cases refuse, in the domain's words; the handler maps each to its HTTP status."""

from __future__ import annotations


class ApiRefusal(Exception):
    """A request the API refuses, with a message the caller can act on."""


class NotSignedIn(ApiRefusal):
    """No verified caller (401)."""


class NotAllowed(ApiRefusal):
    """The caller's role may not do this (403)."""


class NotYours(ApiRefusal):
    """Another driver's upload, or another depot's photo (403)."""


class NotFound(ApiRefusal):
    """No such upload or photo (404)."""


class Invalid(ApiRefusal):
    """A request the rules cannot take: a label they do not know, a cursor the board never gave (400)."""


class TooLarge(ApiRefusal):
    """A photo larger than the chain accepts (422)."""


class AlreadyDecided(ApiRefusal):
    """The photo is not waiting for a review, or another dispatcher reviewed it first (409)."""


class Claimed(ApiRefusal):
    """Another dispatcher holds the photo's lease: they are looking at it (409)."""


class Stale(ApiRefusal):
    """A correction of a review that is no longer the latest: someone corrected it first (409)."""


class AlreadyReceived(ApiRefusal):
    """A new form for an upload whose photo has already arrived: read its status instead (409)."""


# The HTTP status of each refusal, for the handler (services/api/handler.py).
STATUS: dict[type[ApiRefusal], int] = {
    NotSignedIn: 401,
    NotAllowed: 403,
    NotYours: 403,
    NotFound: 404,
    Invalid: 400,
    TooLarge: 422,
    AlreadyDecided: 409,
    Claimed: 409,
    Stale: 409,
    AlreadyReceived: 409,
}
