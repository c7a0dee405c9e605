"""A few seconds (or minutes) of memory per key, shared by every request of one process.

The HTTP routes that crawlers, partner sites and a spike of visitors all hit (the JSON API, link previews) keep
their answer here, so the database is read once per key and interval however many ask. A miss is computed
outside the cache's lock (a slow database never blocks other keys), by one caller at a time per key: the others
asking for that key meanwhile wait for its answer instead of each reading the database too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

MAX_ITEMS = 1000  # past this many keys the cache starts again empty (unknown slugs can't grow it without bound)


class TTLCache:
    """Values kept ``seconds`` per key (thread-safe). ``clock`` is ``time.monotonic``; tests pass their own."""

    def __init__(
        self, seconds: float, *, max_items: int = MAX_ITEMS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.max_items = max_items
        self.clock = clock
        self._items: dict[Hashable, tuple[float, Any]] = {}
        self._making: dict[Hashable, threading.Lock] = {}  # key -> held while one caller makes its value
        self._lock = threading.Lock()

    def peek(self, key: Hashable) -> Any:
        """The fresh value for ``key``, or None (no locking: a dict read is atomic)."""
        hit = self._items.get(key)
        return hit[1] if hit and self.clock() - hit[0] < self.seconds else None

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The fresh value for ``key``, made by ``make()`` when there is none (an exception is not kept)."""
        hit = self._items.get(key)
        if hit and self.clock() - hit[0] < self.seconds:
            return hit[1]
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        with making:
            hit = self._items.get(key)  # made by the caller this one waited for
            if hit and self.clock() - hit[0] < self.seconds:
                return hit[1]
            made_at = self.clock()
            try:
                value = make()
            except BaseException:
                self._done(key, making)
                raise
            with self._lock:
                if len(self._items) >= self.max_items:
                    self._items.clear()
                self._items[key] = (made_at, value)
            self._done(key, making)
        return value

    def _done(self, key: Hashable, making: threading.Lock) -> None:
        with self._lock:
            if self._making.get(key) is making:  # not a newer caller's, after a failed make
                del self._making[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
