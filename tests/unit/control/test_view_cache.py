"""The hot-path view cache: TTL, cleared by any commit, and no stale store after a concurrent commit."""

from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.db import Database
from mqttcloud.control.deployments.cache import CachedView, ViewCache

VIEW = CachedView(project_id="default", body=b"{}")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_ttl() -> None:
    clock = Clock()
    cache = ViewCache(ttl=1.0, clock=clock)
    cache.put("a", VIEW, generation=cache.generation)
    assert cache.get("a") is VIEW
    clock.now = 1.0
    assert cache.get("a") is None


def test_view_loaded_before_a_commit_is_not_stored_after_it() -> None:
    cache = ViewCache()
    generation = cache.generation  # a reader starts loading
    cache.clear()  # a writer commits meanwhile
    cache.put("a", VIEW, generation=generation)
    assert cache.get("a") is None


def test_any_commit_on_the_database_clears_the_cache(database: Database) -> None:
    cache = ViewCache(ttl=60)
    cache.watch_commits(database)
    cache.put("a", VIEW, generation=cache.generation)
    with database.session() as session:
        accounts.ensure_root(session, password="root-password")
    assert cache.get("a") is None
