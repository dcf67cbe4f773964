"""The ImageNet-1k classes the backbone knows that say "two-wheeler" (it has no "motorcycle" class).

Plain constants: the probe's prior (`network`, `recipe`) and the "neither" screen (`neither`) read them.
"""

from __future__ import annotations

BICYCLE_IMAGENET = (444, 671, 870, 880)  # tandem, mountain bike, tricycle, unicycle
MOTORCYCLE_IMAGENET = (665, 670, 518)  # moped, motor scooter, crash helmet
TWO_WHEELER_IMAGENET = (
    444,  # bicycle-built-for-two
    518,  # crash helmet
    535,  # disk brake
    665,  # moped
    670,  # motor scooter
    671,  # mountain bike
    870,  # tricycle
    880,  # unicycle
)
