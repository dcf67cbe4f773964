"""One sentence a driver reads on their phone for every reason a photo can be turned away.

Written for a person holding a phone at the depot: what to do next, no codes, no blame. The upload API
shows them; ingest's rejections carry the reason they are looked up by.
"""

from __future__ import annotations

from shared.contracts import RejectionReason, ReviewReason

RETAKE = "Please take the photo again."
SENT_AS = "JPEG, HEIC, PNG, WebP or AVIF"

SENTENCES: dict[RejectionReason, str] = {
    RejectionReason.BAD_KEY: "The upload went to the wrong place. Please send the photo again from the app.",
    RejectionReason.INVALID_DRIVER_ID: "Your account has no valid driver number. Please ask the depot.",
    RejectionReason.EMPTY_OBJECT: f"The photo arrived empty. {RETAKE}",
    RejectionReason.TOO_LARGE: "The file is too large: send the photo the camera took, not a video.",
    RejectionReason.UNSUPPORTED_EXTENSION: (
        f"That file type is not accepted. Please send a photo as {SENT_AS}."
    ),
    RejectionReason.UNSUPPORTED_FORMAT: (
        f"We cannot read this kind of file: send a photo from the camera as {SENT_AS}."
    ),
    RejectionReason.NOT_AN_IMAGE: f"This file is not a photo: send a photo of the vehicle as {SENT_AS}.",
    RejectionReason.CORRUPT_IMAGE: (
        "The photo arrived damaged or incomplete: take it again and send it once more."
    ),
    RejectionReason.DECOMPRESSION_BOMB: "The picture has too many pixels: send the photo the camera took.",
    RejectionReason.EXTENSION_MISMATCH: (
        "The file's name does not match its contents: send the photo as the camera saved it."
    ),
    RejectionReason.OBJECT_MISSING: "The photo was gone before we could read it. Please upload it again.",
    RejectionReason.ENDPOINT_REJECTED: f"Our system could not look at this photo. {RETAKE}",
    RejectionReason.UNKNOWN_DEPOT: "Your account names a depot we do not know. Please ask the depot.",
    RejectionReason.UPLOAD_MISMATCH: (
        "The photo that arrived is not the one the app announced. Please send it again from the app."
    ),
    RejectionReason.UPLOAD_REUSED: (
        "This upload was already used for a photo. To send another, start a new upload in the app."
    ),
    RejectionReason.NOT_A_VEHICLE: (
        "The dispatcher could not see a bicycle or motorcycle. Please photograph your vehicle."
    ),
}
FALLBACK = f"The photo could not be used. {RETAKE}"

# While a dispatcher decides: why, and what the driver may do meanwhile.
REVIEW_SENTENCES: dict[ReviewReason, str] = {
    ReviewReason.LOW_CONFIDENCE: "A dispatcher is looking at your photo; wait here for your bay.",
    ReviewReason.NO_TWO_WHEELER: (
        "We could not see a bicycle or a motorcycle in this photo: please take a photo of your vehicle "
        "and send it, or wait here while a dispatcher looks."
    ),
}


def sentence_for(reason: str | None) -> str:
    """The sentence for a reason code; any code a later stage adds still gets a sentence."""
    try:
        return SENTENCES[RejectionReason(reason or "")]
    except ValueError:
        return FALLBACK


def review_sentence_for(reason: str | None) -> str:
    """The sentence for a photo waiting for a dispatcher; an unknown reason gets the plain one."""
    try:
        return REVIEW_SENTENCES[ReviewReason(reason or "")]
    except ValueError:
        return REVIEW_SENTENCES[ReviewReason.LOW_CONFIDENCE]
