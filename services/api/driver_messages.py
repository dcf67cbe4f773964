"""One sentence a driver reads on their phone for every reason a photo can be turned away.

Written for a person holding a phone at the depot: what to do next, no codes, no blame.
"""

from __future__ import annotations

from shared.contracts import RejectionReason

RETAKE = "Please take the photo again."

SENTENCES: dict[RejectionReason, str] = {
    RejectionReason.BAD_KEY: "The upload went to the wrong place. Please send the photo again from the app.",
    RejectionReason.INVALID_DRIVER_ID: "Your account has no valid driver number. Please ask the depot.",
    RejectionReason.EMPTY_OBJECT: f"The photo arrived empty. {RETAKE}",
    RejectionReason.TOO_LARGE: "The photo is too large. Please take it again at a lower resolution.",
    RejectionReason.UNSUPPORTED_EXTENSION: "That file type is not accepted. Please send a JPEG or PNG photo.",
    RejectionReason.NOT_AN_IMAGE: f"The file is not a photo. {RETAKE}",
    RejectionReason.CORRUPT_IMAGE: f"The photo could not be read. {RETAKE}",
    RejectionReason.DECOMPRESSION_BOMB: "The photo is far too large to read. Please take it again.",
    RejectionReason.EXTENSION_MISMATCH: "The photo's format did not match its type. Please send it again.",
    RejectionReason.OBJECT_MISSING: "The photo was gone before we could read it. Please upload it again.",
    RejectionReason.ENDPOINT_REJECTED: f"Our system could not look at this photo. {RETAKE}",
    RejectionReason.NOT_A_VEHICLE: (
        "The dispatcher could not see a bicycle or motorcycle. Please photograph your vehicle."
    ),
}
FALLBACK = f"The photo could not be used. {RETAKE}"


def sentence_for(reason: str | None) -> str:
    """The sentence for a reason code; any code a later stage adds still gets a sentence."""
    try:
        return SENTENCES[RejectionReason(reason or "")]
    except ValueError:
        return FALLBACK
