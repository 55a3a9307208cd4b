"""The durable log: replay, group commit ordering, torn tails, compaction."""

import asyncio
from pathlib import Path

from mqttcloud.runtime.store import LOG_PREFIX, Store, decode_entries, encode_entry


def append_torn(directory: Path) -> None:
    path = next(directory.glob(f"{LOG_PREFIX}*"))
    with path.open("ab") as f:
        f.write(encode_entry("t", b"torn")[:-2])


def list_names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_entries_roundtrip_and_stop_at_torn_tail() -> None:
    data = encode_entry("t1", b"abc") + encode_entry("t2", b"") + encode_entry("t1", b"x" * 1000)
    entries, valid = decode_entries(data)
    assert entries == [("t1", b"abc"), ("t2", b""), ("t1", b"x" * 1000)]
    assert valid == len(data)
    for cut in range(1, len(data)):
        got, end = decode_entries(data[:cut])
        assert got == entries[: len(got)]
        assert end <= cut


def test_corrupt_entry_ends_replay() -> None:
    first = encode_entry("t", b"one")
    second = bytearray(encode_entry("t", b"two"))
    second[-1] ^= 0xFF
    entries, valid = decode_entries(first + bytes(second) + encode_entry("t", b"three"))
    assert entries == [("t", b"one")]
    assert valid == len(first)


async def test_appends_are_replayed_after_reopen(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    for i in range(100):
        store.append("tenant", f"r{i}".encode())
    await store.flush()
    assert store.durable_seq == 100
    await store.close()
    again = Store.open(tmp_path)
    assert again.replayed == [("tenant", f"r{i}".encode()) for i in range(100)]
    again.close_sync()


async def test_one_tick_of_appends_is_one_batch(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    for i in range(50):
        store.append("t", bytes([i]))
    await store.flush()
    assert store.batches == 1
    await store.close()


async def test_callbacks_wait_for_their_entries(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    order: list[str] = []
    seq = store.append("t", b"a")
    store.when_durable(lambda: order.append("a"), seq)
    assert order == []
    await store.flush()
    assert order == ["a"]
    store.when_durable(lambda: order.append("now"))  # nothing pending: runs at once
    assert order == ["a", "now"]
    await store.close()


async def test_entries_appended_during_a_write_go_in_the_next_batch(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    released: list[int] = []
    s1 = store.append("t", b"1")
    store.when_durable(lambda: released.append(1), s1)
    await asyncio.sleep(0)  # the first batch starts
    s2 = store.append("t", b"2")
    store.when_durable(lambda: released.append(2), s2)
    await store.flush()
    assert released == [1, 2]
    assert store.durable_seq == s2
    await store.close()


async def test_torn_tail_is_truncated_on_open(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.append("t", b"kept")
    await store.close()
    append_torn(tmp_path)
    again = Store.open(tmp_path)
    assert again.replayed == [("t", b"kept")]
    again.append("t", b"after")
    await again.close()
    third = Store.open(tmp_path)
    assert third.replayed == [("t", b"kept"), ("t", b"after")]
    third.close_sync()


async def test_compaction_replaces_log_with_snapshot(tmp_path: Path) -> None:
    store = Store.open(tmp_path, compact_ratio=2.0, compact_min_bytes=1000)
    state: dict[str, bytes] = {}
    store.snapshot_source = lambda: [("t", v) for v in state.values()]
    for i in range(200):
        state["k"] = f"v{i}".encode()
        store.append("t", state["k"])
        await asyncio.sleep(0)
    await store.flush()
    await store.close()
    assert store.generation > 0
    assert list_names(tmp_path) == [f"{LOG_PREFIX}{store.generation:08d}"]
    again = Store.open(tmp_path)
    # The snapshot holds the state at compaction time; entries appended after it follow in order.
    assert again.replayed[-1] == ("t", b"v199")
    assert len(again.replayed) < 200
    again.close_sync()


def test_unfinished_compaction_is_ignored(tmp_path: Path) -> None:
    (tmp_path / f"{LOG_PREFIX}00000000").write_bytes(encode_entry("t", b"real"))
    (tmp_path / f"{LOG_PREFIX}00000001.tmp").write_bytes(encode_entry("t", b"partial"))
    store = Store.open(tmp_path)
    assert store.replayed == [("t", b"real")]
    assert not (tmp_path / f"{LOG_PREFIX}00000001.tmp").exists()
    store.close_sync()
