"""sigconv's one mutable global, in two bounded, thread-safe parts: FFT plans, and
freed output memory kept for the next output.

Plans own their work buffers, so a cached plan also saves the page faults of a
fresh multi-megabyte allocation on every call (about as costly as the FFT itself
on the machines we measured; see benchmarks/README.md). The cache is bounded both
in entries and in bytes held; the least recently used plans are dropped first.
Keys include the calling thread, so two threads never share a plan's buffers.

Outputs of ``BLOCK_MIN_BYTES`` or more come from :data:`BLOCKS` (:func:`fresh_array`):
malloc keeps freed memory for the next allocation only below that size, and a large
output in new memory pays a page fault and the kernel's zeroing for every page.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from ._base import aligned_empty

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


# Freed outputs of this many bytes or more are kept for reuse. glibc's malloc serves
# smaller blocks from memory it keeps (its mmap threshold rises to at most 32 MB) but
# maps larger ones afresh and unmaps them on free, and each new page then costs a fault
# and the kernel's zeroing. Measured on the 2-core VM (medians, transparent huge pages
# on): writing a new 64 MB array 7.3 ms against 1.9 ms for one written before (32 MB:
# 3.6 against 0.8 ms; 24 MB and below: the same time, malloc reusing its own memory);
# 1e7 x 301 float64 overlap-add 31.2 ms in new output memory, 22.4 ms in reused.
BLOCK_MIN_BYTES = 32 << 20
DEFAULT_MAX_BLOCKS = 4


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


# At most 512 MB kept, and at most an eighth of the machine's memory.
DEFAULT_BLOCK_BYTES = min(512 << 20, (_physical_memory() or 4 << 30) // 8)


class _Lease:
    """The base of an output array lent from a :class:`BlockStore`: it exposes the block
    as the array's memory, and when the last array or view on it is gone its deletion
    brings the block back to the store."""

    __slots__ = ("__array_interface__", "_block", "_store")

    def __init__(self, store: BlockStore, block: np.ndarray, offset: int,
                 shape: tuple[int, ...], dtype: np.dtype) -> None:
        self._store = store
        self._block = block
        self.__array_interface__ = {"data": (block.ctypes.data + offset, False),
                                    "shape": shape, "typestr": dtype.str,
                                    "version": 3}

    def __del__(self) -> None:
        try:
            self._store._give(self._block)
        except Exception:  # noqa: BLE001,S110 - interpreter shutdown: the block is just freed
            pass


class BlockStore:
    """Freed output blocks (raw uint8 arrays), bounded in count and in bytes, the most
    recently freed kept first. ``take`` lends a kept block at least as large as asked and
    at most a quarter larger, else a new one.

    A block comes back when its lease is deleted, which can happen on any thread and at
    any point (a garbage collection inside this very class): ``_give`` only appends to a
    deque, and the bounds are applied by whoever next holds the lock without waiting."""

    def __init__(self, max_bytes: int = DEFAULT_BLOCK_BYTES,
                 max_blocks: int = DEFAULT_MAX_BLOCKS) -> None:
        self._lock = threading.Lock()
        self._kept: list[np.ndarray] = []         # newest last
        self._returned: deque[np.ndarray] = deque()
        self.max_bytes = max_bytes
        self.max_blocks = max_blocks
        self.reused = 0                            # blocks lent again (for the tests)

    def _give(self, block: np.ndarray) -> None:
        self._returned.append(block)
        if self._lock.acquire(blocking=False):
            try:
                dropped = self._settle()
            finally:
                self._lock.release()
            del dropped                            # freed outside the lock

    def _settle(self) -> list[np.ndarray]:
        """(Lock held.) Move returned blocks to the kept list and apply the bounds;
        returns the blocks dropped, for the caller to free after releasing the lock."""
        while True:
            try:
                self._kept.append(self._returned.popleft())
            except IndexError:
                break
        dropped = []
        total = sum(b.nbytes for b in self._kept)
        while self._kept and (len(self._kept) > self.max_blocks or total > self.max_bytes):
            old = self._kept.pop(0)
            total -= old.nbytes
            dropped.append(old)
        return dropped

    def take(self, shape: tuple[int, ...], dtype, align: int = 64) -> tuple[np.ndarray, bool]:
        """An uninitialised C-contiguous ``shape`` array of ``dtype`` whose data start on an
        ``align``-byte boundary, and whether its memory was used before (pages mapped)."""
        dtype = np.dtype(dtype)
        shape = tuple(int(d) for d in shape)
        need = math.prod(shape) * dtype.itemsize + align
        block = None
        with self._lock:
            dropped = self._settle()
            best = None
            for i in range(len(self._kept) - 1, -1, -1):
                size = self._kept[i].nbytes
                if need <= size <= need + need // 4 and (
                        best is None or size < self._kept[best].nbytes):
                    best = i
            if best is not None:
                block = self._kept.pop(best)
                self.reused += 1
        del dropped
        used = block is not None
        if block is None:
            block = np.empty(need, np.uint8)
        offset = -block.ctypes.data % align
        out = np.asarray(_Lease(self, block, offset, shape, dtype))
        return out, used

    def clear(self) -> None:
        with self._lock:
            dropped = self._settle()
            dropped += self._kept
            self._kept = []
        del dropped

    def stats(self) -> dict[str, int]:
        with self._lock:
            dropped = self._settle()
            out = {"blocks": len(self._kept), "bytes": sum(b.nbytes for b in self._kept),
                   "max_blocks": self.max_blocks, "max_bytes": self.max_bytes,
                   "reused": self.reused}
        del dropped
        return out


BLOCKS = BlockStore()


def _after_fork_in_child() -> None:
    """A forked child (a --jobs worker) starts with new locks: another thread of the parent
    may have held one at the fork, and would never release it in the child."""
    PLANS._lock = threading.Lock()
    BLOCKS._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def fresh_array(shape: tuple[int, ...], dtype, *, align: int | None = None,
                populate: Callable[[np.ndarray], Any] | None = None) -> np.ndarray:
    """An uninitialised C-contiguous output array: from :data:`BLOCKS` when it holds
    ``BLOCK_MIN_BYTES`` or more (data on an ``align``-byte boundary, 64 by default;
    ``populate``, if given, is called on it when its memory is new), else ``np.empty``
    (``aligned_empty`` when ``align`` is given)."""
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize >= BLOCK_MIN_BYTES:
        out, used = BLOCKS.take(shape, dtype, align or 64)
        if populate is not None and not used:
            populate(out)
        return out
    out = np.empty(shape, dtype) if align is None else aligned_empty(shape, dtype, align)
    if populate is not None:
        populate(out)
    return out
