"""Platform key verification: header parsing, the short cache, last-use writes at most once per interval."""

import base64

import pytest
from sqlalchemy.orm import Session
from tests.unit.control.conftest import ROOT_PASSWORD

from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.api_keys import service as api_keys
from mqttcloud.control.api_keys.models import ApiKey, Scope
from mqttcloud.control.api_keys.revisions import POLL_SECONDS
from mqttcloud.control.auth import KeyVerifier, Principal, parse_basic
from mqttcloud.control.db import Database
from mqttcloud.control.errors import Forbidden, Unauthorized


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def mint(database: Database, **kwargs: object) -> tuple[str, str]:
    with database.session() as session:
        root = accounts.ensure_root(session, password=ROOT_PASSWORD).account
        created = api_keys.create_key(session, actor=root, description="t", **kwargs)  # type: ignore[arg-type]  # test passes through keyword args
        return created.api_key.key, created.secret


def test_parse_basic_splits_at_first_colon() -> None:
    assert parse_basic(basic("key", "se:cret")) == ("key", "se:cret")
    assert parse_basic("basic " + base64.b64encode(b"k:s").decode()) == ("k", "s")


@pytest.mark.parametrize(
    "header", [None, "", "Basic", "Token abc", "Basic ###", basic("", "x"), basic("k", "")]
)
def test_parse_basic_refuses_malformed_headers(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        parse_basic(header)


async def test_verify_returns_principal_with_scopes(database: Database) -> None:
    key, secret = mint(database, scopes=["tls"], project_ids=["default"])
    principal = await KeyVerifier(database).verify(basic(key, secret))
    assert principal == Principal(key=key, scopes=frozenset({"tls"}), project_ids=frozenset({"default"}))
    with pytest.raises(Forbidden):
        principal.require_scope(Scope.DEPLOYMENTS)
    with pytest.raises(Forbidden):
        principal.require_project("other")


async def test_cached_key_costs_no_key_read_until_expiry(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    key, secret = mint(database)
    verifier = KeyVerifier(database, cache_seconds=5, clock=clock)
    await verifier.verify(basic(key, secret))
    reads: list[str] = []
    find = api_keys.find_by_key

    def counting_find(session: Session, *, key: str) -> ApiKey | None:
        reads.append(key)
        return find(session, key=key)

    monkeypatch.setattr(api_keys, "find_by_key", counting_find)
    for _ in range(3):
        clock.now += 1
        await verifier.verify(basic(key, secret))
    assert reads == []
    with pytest.raises(Unauthorized):
        await verifier.verify(basic(key, secret + "x"))  # the secret is checked on every request
    assert reads == [key]
    clock.now += 5
    await verifier.verify(basic(key, secret))
    assert reads == [key, key]


async def test_key_deleted_by_an_unwatched_session_is_refused_at_once(database: Database) -> None:
    """As `mqttcloud apikey delete` in another process: no event of ours sees it, the key revision does
    (polled here: this test's database is a connection held in a transaction; a SQLite file is read on
    every request, see test_revisions.py)."""
    clock = Clock()
    key, secret = mint(database)
    verifier = KeyVerifier(database, cache_seconds=3600, clock=clock)
    await verifier.verify(basic(key, secret))
    with database.session() as session:
        row = api_keys.find_by_key(session, key=key)
        assert row is not None
        session.delete(row)
        session.commit()
    clock.now += POLL_SECONDS * 2
    with pytest.raises(Unauthorized):
        await verifier.verify(basic(key, secret))
    assert verifier.verify_cached(basic(key, secret)) is None


async def test_last_use_write_does_not_make_cached_keys_stale(database: Database) -> None:
    """The key revision moves on deletes and edits of what a key may do, not on `last_used_at`."""
    key, secret = mint(database)
    verifier = KeyVerifier(database, cache_seconds=3600, last_used_interval=0)
    await verifier.verify(basic(key, secret))  # loads the key, then records its last use
    before = await verifier.revisions.read()
    await verifier.verify(basic(key, secret))  # records its last use again (interval 0)
    assert await verifier.revisions.read() == before


async def test_invalidate_drops_a_deleted_key_at_once(database: Database) -> None:
    key, secret = mint(database)
    verifier = KeyVerifier(database, cache_seconds=60)
    await verifier.verify(basic(key, secret))
    with database.session() as session:
        root = accounts.get_root(session)
        row = api_keys.find_by_key(session, key=key)
        assert row is not None
        api_keys.delete_key(session, actor=root, key_id=row.id)
    verifier.invalidate(key)
    with pytest.raises(Unauthorized):
        await verifier.verify(basic(key, secret))


async def test_last_used_is_written_at_most_once_per_interval(database: Database) -> None:
    clock = Clock()
    key, secret = mint(database)
    verifier = KeyVerifier(database, cache_seconds=1000, last_used_interval=60, clock=clock)

    def last_used() -> object:
        with database.session() as session:
            row = api_keys.find_by_key(session, key=key)
            assert isinstance(row, ApiKey)
            return row.last_used_at

    assert last_used() is None
    await verifier.verify(basic(key, secret))
    first = last_used()
    assert first is not None
    for _ in range(5):
        clock.now += 10
        await verifier.verify(basic(key, secret))
    assert last_used() == first
    clock.now += 10  # 60 s after the first write
    await verifier.verify(basic(key, secret))
    second = last_used()
    assert isinstance(second, type(first))
    assert second != first


async def test_unknown_key_is_unauthorized(database: Database) -> None:
    with pytest.raises(Unauthorized) as refused:
        await KeyVerifier(database).verify(basic("ffffffffffffffff", "secret"))
    assert refused.value.message == "Invalid API key or secret"


async def test_edited_or_deleted_key_is_forgotten_at_once_when_watched(database: Database) -> None:
    key, secret = mint(database)
    verifier = KeyVerifier(database, cache_seconds=3600)
    verifier.watch_changes()
    assert (await verifier.verify(basic(key, secret))).scopes == {"tls", "deployments", "projects"}
    with database.session() as session:
        root = accounts.get_root(session)
        row = api_keys.find_by_key(session, key=key)
        assert row is not None
        api_keys.update_key(session, actor=root, key_id=row.id, scopes=["tls"])
    assert (await verifier.verify(basic(key, secret))).scopes == {"tls"}
    with database.session() as session:
        row = api_keys.find_by_key(session, key=key)
        assert row is not None
        api_keys.delete_key(session, actor=accounts.get_root(session), key_id=row.id)
    with pytest.raises(Unauthorized):
        await verifier.verify(basic(key, secret))


async def test_failing_last_use_write_does_not_fail_the_request(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    key, secret = mint(database)

    def locked(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("UPDATE", {}, Exception("database is locked"))

    monkeypatch.setattr(api_keys, "record_last_used", locked)
    principal = await KeyVerifier(database).verify(basic(key, secret))
    assert principal.key == key


@pytest.mark.parametrize("wrong", ["unknown-key", "wrong-secret"])
async def test_unknown_key_and_wrong_secret_do_the_same_work(
    database: Database, monkeypatch: pytest.MonkeyPatch, wrong: str
) -> None:
    """Both refusals cost one database read and one digest comparison, even with the key cached."""
    key, secret = mint(database)
    verifier = KeyVerifier(database, cache_seconds=60)
    await verifier.verify(basic(key, secret))  # the key is cached now
    reads: list[str] = []
    find = api_keys.find_by_key

    def counting_find(session: Session, *, key: str) -> ApiKey | None:
        reads.append(key)
        return find(session, key=key)

    monkeypatch.setattr(api_keys, "find_by_key", counting_find)
    header = basic("0" * 16, secret) if wrong == "unknown-key" else basic(key, secret + "x")
    with pytest.raises(Unauthorized):
        await verifier.verify(header)
    assert len(reads) == 1
