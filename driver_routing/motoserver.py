"""`python -m driver_routing.motoserver`: moto's own server (`moto.server`), minus two per-request costs.

Profiled under the chain's load (py-spy, `driver-routing bench`), moto 5.2 spent a third of its time on
work that is no AWS behaviour:
- werkzeug logs every request to stderr through one locked handler (~20% of samples, mostly waiting
  on the handler's lock);
- the dispatcher lists moto's package folder (`os.listdir` + an `isdir` per service) on every request,
  under the dispatcher's global lock (~7-15%).
The first is switched off (errors are still logged); the second is memoised: the folder cannot change
while the server runs. Everything else is moto's `main`, with the same arguments.
"""

from __future__ import annotations

import functools
import logging
import sys


def quieten_moto() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        import moto.backends as backends
    except ImportError:  # pragma: no cover - moto is the `local` extra
        return
    listing = getattr(backends, "list_of_moto_modules", None)
    if listing is not None and not hasattr(listing, "cache_info"):
        cached = functools.cache(lambda: tuple(listing()))
        backends.list_of_moto_modules = cached


def main(argv: list[str] | None = None) -> None:
    quieten_moto()
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
