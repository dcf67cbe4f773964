"""What a handler builds once per Lambda execution environment (clients, adapters, the use case)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

T = TypeVar("T")


class BuiltOnce(Generic[T]):
    """Built on first use, at the first invocation rather than at import (so that importing a handler
    needs no environment), then reused by every later invocation of the same environment."""

    _all: ClassVar[list[BuiltOnce[Any]]] = []

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()
        BuiltOnce._all.append(self)

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value

    def use(self, value: T) -> None:
        """Run the handler on this instead (a test's own composition)."""
        with self._lock:
            self._value = value

    def reset(self) -> None:
        with self._lock:
            self._value = None

    @classmethod
    def reset_all(cls) -> None:
        """Forget everything built, so that the next invocation builds from the current environment."""
        for built in cls._all:
            built.reset()
