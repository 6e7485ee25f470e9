"""The store's cache of small reads made on every request.

Matching reads the active model's version and the API the caller behind a
token on every request; each is a DuckDB round trip of a millisecond or more
(a third of a ``/v1/match`` at 10k persons). A DuckDB file has one writing
process, so this one can keep what it last read, provided no write is hidden:
a write to a cached table clears the cache and keeps it from filling until its
transaction commits or rolls back, and a read that raced with a write is not
kept.

Several instances over one PostgreSQL store each keep a cache of their own, which
another instance's write cannot clear: each value is kept under a key whose first
part names its kind (``meta``, ``users``, ``api_keys``, ``organisations``), and
the writer bumps that kind's generation in the store (``generations.py``), which
every instance reads each second and drops the kinds that moved (:meth:`ReadCache.drop`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

#: The kinds of value kept here, each the first part of its key (and the name of its generation).
READ_CACHED = frozenset({"meta", "users", "api_keys", "organisations"})


class ReadCache:
    """Values by key, as last read, cleared around every write to what they come from."""

    def __init__(self) -> None:
        self._values: dict[Hashable, Any] = {}
        self._version = 0
        self._writing = False
        self._lock = threading.Lock()

    @property
    def writing(self) -> bool:
        """Whether a transaction has written a cached table and not yet ended."""
        return self._writing

    def get(self, key: Hashable, read: Callable[[], Any], keep: Callable[[Any], bool] = lambda value: True) -> Any:
        """The cached value of ``key``, or ``read()`` (kept if ``keep`` says so and nothing was written meanwhile)."""
        with self._lock:
            if key in self._values:
                return self._values[key]
            version = self._version
        value = read()
        with self._lock:
            if version == self._version and not self._writing and keep(value):
                self._values[key] = value
        return value

    def write_begins(self) -> None:
        """Before a write to a cached table, inside its transaction."""
        with self._lock:
            self._writing = True
            self._version += 1
            self._values.clear()

    def drop(self, kind: str) -> None:
        """Forget the values of one kind (another instance wrote them); a read already under way is not kept."""
        with self._lock:
            self._version += 1
            for key in [k for k in self._values if isinstance(k, tuple) and k[0] == kind]:
                del self._values[key]

    def write_ends(self) -> None:
        """After that transaction commits or rolls back."""
        with self._lock:
            self._writing = False
            self._version += 1
            self._values.clear()
