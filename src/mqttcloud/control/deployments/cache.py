"""A short-lived cache of rendered deployment objects for the hot `GET /deployments/{id}` path.

Rule: the cache never serves something older than the last commit made by this process: every commit
on a session of the platform's `Database` clears it (`watch_commits`), and entries expire after `ttl`
seconds anyway, which bounds what a write from another process (none exist for deployments today)
could leave stale.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event

from mqttcloud.control.db import Database


@dataclass(frozen=True, slots=True)
class CachedView:
    project_id: str
    body: bytes  # the deployment object as JSON, ready to send


class ViewCache:
    def __init__(
        self, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000
    ):
        self.ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, CachedView]] = {}
        self.generation = 0  # bumped by every clear: a view loaded before a commit is not stored after it

    def get(self, deployment_id: str) -> CachedView | None:
        entry = self._entries.get(deployment_id)
        if entry is None:
            return None
        expires, view = entry
        if expires <= self._clock():
            self._entries.pop(deployment_id, None)
            return None
        return view

    def put(self, deployment_id: str, view: CachedView, *, generation: int) -> None:
        """Store a view loaded while `generation` was current (read it before loading)."""
        if generation != self.generation:
            return
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[deployment_id] = (self._clock() + self.ttl, view)

    def clear(self, *_args: Any) -> None:
        self.generation += 1
        self._entries.clear()

    def watch_commits(self, database: Database) -> None:
        """Clear the cache after every commit made through `database`'s sessions."""
        event.listen(database.session_factory, "after_commit", self.clear)
