"""Durable append-only log in the broker's data directory: group commit, compaction, replay after a crash.

The broker core describes what must survive a restart as durability records (`broker.durability`); the
runtime appends each one here as an entry `(tenant id, encoded record)`. On start the log is replayed in
order and each tenant's records are fed to its `Broker.restore`.

Group commit: entries appended during one loop tick are buffered; at the end of the tick one job writes
them with a single `write` + `fdatasync` on a dedicated writer thread, then advances `durable_seq` and
runs the `when_durable` callbacks (this is how a PUBACK/PUBREC waits for its message to be on disk).
While a write is in flight, new entries gather for the next one, so batches grow with load.

Compaction: when the log has grown past `compact_min_bytes` and `compact_ratio` times the size of the last
snapshot, the owner's snapshot function (every tenant's `Broker.snapshot()`) is called on the loop and
the writer thread writes it to `log.<n+1>.tmp`, fsyncs it, renames it to `log.<n+1>`, fsyncs the
directory and deletes `log.<n>`. Jobs run in order on one thread, so an entry appended before the
snapshot is in the old log (and in the snapshot), and one appended after it goes to the new log.

Entry format: `u32 length | u32 crc32 | u16 key length | key | payload`, big-endian; length and crc
cover everything after the crc.

Rules this module must not break:
- `durable_seq >= n` (and a callback passed to `when_durable`) only after every entry up to sequence
  number `n` is fsynced.
- Replay stops at the first torn or corrupt entry and truncates the log there (a `kill -9` mid-write
  loses at most the batch whose acknowledgements were still held back).
"""

import asyncio
import concurrent.futures
import logging
import os
import struct
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!II")
_KEYLEN = struct.Struct("!H")
LOG_PREFIX = "log."

Entry = tuple[str, bytes]
SnapshotSource = Callable[[], Iterable[Entry]]


def encode_entry(key: str, payload: bytes) -> bytes:
    k = key.encode("utf-8")
    body = _KEYLEN.pack(len(k)) + k + payload
    return _HEADER.pack(len(body), zlib.crc32(body)) + body


def decode_entries(data: bytes) -> tuple[list[Entry], int]:
    """Parse entries from the start of `data`; returns them and the offset where valid data ends."""
    out: list[Entry] = []
    pos = 0
    view = memoryview(data)
    n = len(data)
    while pos + _HEADER.size <= n:
        length, crc = _HEADER.unpack_from(view, pos)
        start = pos + _HEADER.size
        end = start + length
        if length < _KEYLEN.size or end > n:
            break
        body = view[start:end]
        if zlib.crc32(body) != crc:
            break
        (klen,) = _KEYLEN.unpack_from(body, 0)
        if _KEYLEN.size + klen > length:
            break
        key = bytes(body[_KEYLEN.size : _KEYLEN.size + klen]).decode("utf-8", "replace")
        out.append((key, bytes(body[_KEYLEN.size + klen :])))
        pos = end
    return out, pos


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Store:
    """An append-only, group-committed log of `(key, payload)` entries.

    `Store.open(directory)` replays (blocking; call before serving); `replayed` holds the entries found.
    Then use `append`/`when_durable`/`flush` from the event loop thread only.
    """

    def __init__(
        self,
        directory: Path,
        *,
        compact_ratio: float = 4.0,
        compact_min_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self.directory = directory
        self.compact_ratio = compact_ratio
        self.compact_min_bytes = compact_min_bytes
        self.replayed: list[Entry] = []
        self.snapshot_source: SnapshotSource | None = None
        self.appended_seq = 0  # sequence number of the last appended entry
        self.durable_seq = 0  # every entry up to this one is on disk
        self.batches = 0  # fsynced batches (tests and stats)
        self.failed: BaseException | None = None
        self._log_bytes = 0
        self._base_bytes = 0  # size of the log right after the last compaction (or replay)
        self._generation = 0
        self._fd = -1
        self._pending: list[bytes] = []
        self._waiters: list[tuple[int, Callable[[], None]]] = []
        self._kick_scheduled = False
        self._in_flight = False
        self._compaction: asyncio.Future[int] | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---------------------------------------------------------------------------------------------- open

    @classmethod
    def open(
        cls, directory: Path, *, compact_ratio: float = 4.0, compact_min_bytes: int = 16 << 20
    ) -> "Store":
        """Replay the newest log in `directory` (created if missing) and open it for appending."""
        store = cls(directory, compact_ratio=compact_ratio, compact_min_bytes=compact_min_bytes)
        store._replay()
        return store

    def _replay(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        logs: list[tuple[int, Path]] = []
        for entry in self.directory.iterdir():
            name = entry.name
            if name.startswith(LOG_PREFIX) and name.endswith(".tmp"):
                entry.unlink()  # an unfinished compaction; the previous log is still complete
            elif name.startswith(LOG_PREFIX) and name[len(LOG_PREFIX) :].isdigit():
                logs.append((int(name[len(LOG_PREFIX) :]), entry))
        logs.sort()
        if logs:
            self._generation, path = logs[-1]
            for _, older in logs[:-1]:
                older.unlink()  # a compaction finished but crashed before deleting its predecessor
            data = path.read_bytes()
            self.replayed, valid = decode_entries(data)
            if valid < len(data):
                log.warning("store: %s: dropped %d bytes of torn/corrupt tail", path, len(data) - valid)
                with open(path, "r+b") as f:
                    f.truncate(valid)
                    os.fsync(f.fileno())
            self._log_bytes = self._base_bytes = valid
        self._fd = os.open(self._path(self._generation), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _fsync_dir(self.directory)

    def _path(self, generation: int) -> Path:
        return self.directory / f"{LOG_PREFIX}{generation:08d}"

    # --------------------------------------------------------------------------------------------- write

    def append(self, key: str, payload: bytes) -> int:
        """Queue one entry for the next group commit; returns its sequence number."""
        self._pending.append(encode_entry(key, payload))
        self.appended_seq += 1
        self._schedule()
        return self.appended_seq

    def when_durable(self, callback: Callable[[], None], seq: int | None = None) -> None:
        """Run `callback` on the loop once every entry up to `seq` (default: all so far) is on disk."""
        target = self.appended_seq if seq is None else seq
        if target <= self.durable_seq:
            callback()
            return
        self._waiters.append((target, callback))

    async def flush(self) -> None:
        """Wait until every entry appended so far is on disk."""
        if self.appended_seq <= self.durable_seq:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def release() -> None:
            if not done.done():
                done.set_result(None)

        self.when_durable(release)
        await done

    def _schedule(self) -> None:
        if self._kick_scheduled or self._in_flight:
            return  # the running write re-kicks when it completes
        self._kick_scheduled = True
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._loop.call_soon(self._kick)

    def _kick(self) -> None:
        self._kick_scheduled = False
        if self._in_flight or not self._pending:
            return
        assert self._loop is not None
        batch = b"".join(self._pending)
        self._pending = []
        seq = self.appended_seq
        self._log_bytes += len(batch)
        self._in_flight = True
        fut = self._loop.run_in_executor(self._executor, self._write, batch)
        fut.add_done_callback(lambda f: self._written(f, seq))
        if self._should_compact():
            self._start_compaction()

    def _written(self, fut: "asyncio.Future[None]", seq: int) -> None:
        self._in_flight = False
        exc = fut.exception()
        if exc is not None:
            # Durability is unknown: keep the acknowledgements back (clients retry after reconnecting).
            self.failed = exc
            log.error("store: write failed; acknowledgements withheld", exc_info=exc)
        else:
            self.batches += 1
            self.durable_seq = seq
            ready = [cb for target, cb in self._waiters if target <= seq]
            if ready:
                self._waiters = [(t, cb) for t, cb in self._waiters if t > seq]
                for callback in ready:
                    try:
                        callback()
                    except Exception:
                        log.exception("store: durable callback failed")
        if self._pending:
            self._schedule()

    def _write(self, batch: bytes) -> None:
        _write_all(self._fd, batch)
        os.fdatasync(self._fd)

    # ----------------------------------------------------------------------------------------- compact

    def _should_compact(self) -> bool:
        return (
            self.snapshot_source is not None
            and self._compaction is None
            and self._log_bytes > self.compact_min_bytes
            and self._log_bytes > self.compact_ratio * max(self._base_bytes, 1)
        )

    def _start_compaction(self) -> None:
        assert self._loop is not None
        assert self.snapshot_source is not None
        snapshot = b"".join(encode_entry(k, p) for k, p in self.snapshot_source())
        fut = self._loop.run_in_executor(self._executor, self._compact, snapshot)
        self._compaction = fut
        fut.add_done_callback(self._compacted)

    def compact_now(self) -> None:
        """Start a compaction at the next opportunity (tests, admin)."""
        if self._compaction is None and self.snapshot_source is not None:
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._start_compaction()

    def _compact(self, snapshot: bytes) -> int:
        """Writer thread: replace the log by the snapshot; returns its size."""
        new_gen = self._generation + 1
        tmp = self.directory / f"{LOG_PREFIX}{new_gen:08d}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, snapshot)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, self._path(new_gen))
        _fsync_dir(self.directory)
        old_fd, old_gen = self._fd, self._generation
        self._fd = os.open(self._path(new_gen), os.O_WRONLY | os.O_APPEND)
        self._generation = new_gen
        os.close(old_fd)
        self._path(old_gen).unlink()
        return len(snapshot)

    def _compacted(self, fut: "asyncio.Future[int]") -> None:
        self._compaction = None
        exc = fut.exception()
        if exc is not None:
            log.error("store: compaction failed", exc_info=exc)
            return
        # Batches queued after the snapshot went to the new file as well; they count from here on.
        self._log_bytes = self._base_bytes = fut.result()
        log.info("store: compacted log to %d bytes", self._base_bytes)

    @property
    def generation(self) -> int:
        return self._generation

    async def close(self) -> None:
        """Flush, finish a running compaction, then release the file and the writer thread."""
        if self._loop is not None:
            await self.flush()
            if self._compaction is not None:
                await asyncio.wait([self._compaction])
        self._executor.shutdown(wait=True)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def close_sync(self) -> None:
        """Release the file without a loop (failed start, tests); entries not yet written are written."""
        self._executor.shutdown(wait=True)
        if self._pending and self._fd >= 0:
            _write_all(self._fd, b"".join(self._pending))
            os.fdatasync(self._fd)
            self._pending = []
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
