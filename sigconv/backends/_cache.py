"""The one mutable global of sigconv: a bounded, thread-safe cache of FFT plans.

Plans own their work buffers, so a cached plan also saves the page faults of a
fresh multi-megabyte allocation on every call (about as costly as the FFT itself
on the machines we measured; see benchmarks/README.md). The cache is bounded both
in entries and in bytes held; the least recently used plans are dropped first.
Keys include the calling thread, so two threads never share a plan's buffers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

DEFAULT_MAX_ENTRIES = 64
DEFAULT_MAX_BYTES = 768 * 2**20


class PlanCache:
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self.max_entries = max_entries
        self.max_bytes = max_bytes

    def get(self, key: Hashable, build: Callable[[], tuple[Any, int]]) -> Any:
        """Return the cached value for ``key``, building (value, nbytes) if absent."""
        key = (threading.get_ident(), key)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit[0]
        value, nbytes = build()          # built outside the lock: planning may be slow
        if nbytes > self.max_bytes:      # too big to keep: used once, not cached
            return value
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, nbytes)
            self._bytes += nbytes
            while self._items and (len(self._items) > self.max_entries
                                   or self._bytes > self.max_bytes):
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._items), "bytes": self._bytes,
                    "max_entries": self.max_entries, "max_bytes": self.max_bytes}


PLANS = PlanCache()
