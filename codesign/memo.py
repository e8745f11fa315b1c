"""Process-level caches of bounded size: a sweep plans thousands of points in one worker, so what one
point computes (a loaded dataset, a planned network, a schedule) is kept for the next, but never
without limit.

    _GRAPHS = Memo(256)
    graph = _GRAPHS.get_or_make(key, lambda: build(net))

The least recently used entry is forgotten when the cache is full. Keys must be hashable and must say
everything the made value depends on (a file's path with its modification time, a network's
signature, ...); values are shared between callers, so treat them as read-only.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

T = TypeVar("T")


class Memo(OrderedDict):
    """A dict of at most ``limit`` entries (see the module doc)."""

    def __init__(self, limit: int):
        super().__init__()
        if limit < 1:
            raise ValueError(f"a cache holds at least one entry, not {limit}")
        self.limit = limit

    def get_or_make(self, key: Hashable, make: Callable[[], T]) -> T:
        """The value cached under ``key``, else ``make()``'s, cached (``make`` may raise: nothing is kept)."""
        try:
            value = self[key]
        except KeyError:
            return self.put(key, make())
        self.move_to_end(key)
        return value

    def put(self, key: Hashable, value: T) -> T:
        """Cache ``value`` under ``key`` (replacing what was there); returns it."""
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)
        return value
