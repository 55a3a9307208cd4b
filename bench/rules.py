"""Rule engine benchmark (issue #11): QoS 0 fan-in through rules, and webhook delivery.

    .venv/bin/python -m bench.rules [--seconds 5] [--hot 0.1] [--webhook 30000] [--only pgsql|engine]

The broker runs pinned to CPU 0 (`taskset -c 0`) from a BrokerSpec carrying the rules; this process
(load generator, HTTP target; uvloop) on CPU 1. Runs alternate so both sides of a comparison share
the same minutes of the machine's life:

- fan-in: 8 publishers -> 1 subscriber on `bench/#`, QoS 0, 100-byte JSON payloads `{"temp":NN,...}`,
  closed loop as in `bench/broker.py`; msgs/s delivered with no rules, then with 10 rules
  `SELECT payload.temp AS t, clientid FROM "bench/#" WHERE payload.temp > 30` each republishing to
  `alerts/<rule>/${clientid}` (no subscriber: the republish is routed and dropped). `--hot` is the
  share of messages hotter than 30 (each of those republishes 10 times); `--distinct` gives each rule
  its own SQL text (`..., <i> AS r`), so the engine cannot evaluate the ten as one. Also printed: the
  broker's CPU time per delivered message (best round), which other load on the box changes less
  than the rates; its ratio is the rate the rules would keep with the broker's core to itself.
- engine (`--only engine`, no sockets): the rule engine alone on a core `Broker`, `RuleEngine.offer`
  of one message through the 10 rules (same and distinct SQL, none passing WHERE); process CPU us per
  message, best of 7 runs, which load on the box barely moves.
- webhook: one rule `SELECT * FROM "hook/#"` with an HTTP action (pool_size 8, max_queue 10,000) to a
  minimal keep-alive HTTP/1.1 server in this process; N QoS 0 messages with at most 5,000 in flight
  (sent, not yet received by the server); requests/s over the whole run, and the action's counters
  (`success` must equal N: no loss).
- pgsql (`--only pgsql`, or with the rest when MQTTCLOUD_TEST_DATABASE_URL is set: the cluster of
  `scripts/postgres.sh`): one rule `SELECT * FROM "pg/#"` with a PostgreSQL action inserting
  `clientid, topic, payload.temp, timestamp` into a fresh database, batches of `--pg-batch`; N QoS 0
  messages at most 5,000 ahead of the inserted count; rows/s over the whole run, and the table's count.
"""

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import timeit
from functools import partial
from pathlib import Path
from typing import Any

import uvloop
from bench import procs
from bench.broker import (
    WINDOW,
    Broker,
    Flow,
    Pub,
    Sub,
    _connect,
    publish_qos0,
)

from mqttcloud import contracts
from mqttcloud.contracts.rules import PgsqlAction

TENANT = contracts.TenantId("t1")
TOKEN = "bench-token"
RULES = 10
HOOK_WINDOW = 5_000
PG_ENV = "MQTTCLOUD_TEST_DATABASE_URL"


def payload(temp: int) -> bytes:
    body = json.dumps({"temp": temp, "pad": ""}).encode()
    return body[:-2] + b"x" * (100 - len(body)) + b'"}'  # padded to exactly 100 bytes


def spec(workdir: Path, rules: list[contracts.RuleSpec]) -> contracts.BrokerSpec:
    return contracts.BrokerSpec(
        broker_id="bench",
        data_dir=str(workdir / "data"),
        ready_file=str(workdir / "ready.json"),
        admin=contracts.AdminSpec(token=TOKEN),
        listeners=[
            contracts.ListenerSpec(name="tcp:default", kind=contracts.ListenerKind.TCP, port=0, tenant=TENANT)
        ],
        tenants=[contracts.TenantSpec(tenant_id=TENANT, allow_anonymous=True, rules=rules)],
    )


def start(workdir: Path, rules: list[contracts.RuleSpec]) -> tuple[Broker, int]:
    """Our broker on CPU 0 from a spec; (broker, admin port)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "spec.json"
    path.write_text(spec(workdir, rules).model_dump_json())
    ready = workdir / "ready.json"
    cmd = [*procs.pin(0), sys.executable, "-m", "mqttcloud", "broker", "--config", str(path)]
    proc = procs.start([*cmd, "--log-level", "WARNING"], workdir / "broker.stderr", ready)
    info = json.loads(ready.read_text())
    return Broker("mqttcloud", int(info["listeners"][0]["port"]), proc, workdir), int(info["admin"]["port"])


async def admin(port: int, op: str, **args: object) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(json.dumps({"id": 1, "token": TOKEN, "op": op, "args": args}).encode() + b"\n")
    answer = json.loads(await reader.readline())
    writer.close()
    assert answer["ok"], answer
    result: dict[str, Any] = answer["result"]
    return result


# ----------------------------------------------------------------------------------------- fan-in


def fan_in_rules(distinct: bool) -> list[contracts.RuleSpec]:
    """10 rules; `distinct` gives each its own SQL text (no shared evaluation)."""
    return [
        contracts.RuleSpec(
            id=f"r{i}",
            sql=f'SELECT payload.temp AS t, clientid{f", {i} AS r" if distinct else ""} FROM "bench/#" '
            "WHERE payload.temp > 30",
            actions=[contracts.RepublishAction(topic=f"alerts/r{i}/${{clientid}}", payload='{"t":${t}}')],
        )
        for i in range(RULES)
    ]


async def fan_in(broker: Broker, seconds: float, hot: float, publishers: int = 8) -> tuple[float, float]:
    """(delivered msgs/s, broker CPU us per delivered message), closed loop, the messages of each
    publisher `hot` hotter than 30."""
    port = broker.port
    flow = Flow()
    sub = Sub("s0", "bench/#", flow.wake)
    await _connect(port, lambda: sub)
    await sub.ready
    pubs = [Pub(f"p{i}") for i in range(publishers)]
    for p in pubs:
        await _connect(port, lambda p=p: p)  # type: ignore[misc]  # bind the loop variable
    await asyncio.gather(*(p.ready for p in pubs))
    batch = 100
    hot_count = round(batch * hot)
    chunks = [
        b"".join(publish_qos0(f"bench/{i}", payload(35 if n < hot_count else 25)) for n in range(batch))
        for i in range(publishers)
    ]
    size = len(publish_qos0("bench/0", payload(25)))

    def delivered() -> int:
        return sub.count_bytes // size

    stop = False

    async def pump(i: int) -> None:
        pub = pubs[i]
        assert pub.transport is not None
        while not stop:
            if flow.sent - delivered() > WINDOW:
                flow.progress.clear()
                try:
                    await asyncio.wait_for(flow.progress.wait(), 1.0)
                except TimeoutError:
                    flow.lost += flow.sent - delivered()
                    flow.sent = delivered()
                continue
            await pub.can_write.wait()
            pub.transport.write(chunks[i])
            flow.sent += batch
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(pump(i)) for i in range(publishers)]
    await asyncio.sleep(0.5)
    start_count, started, cpu = delivered(), time.perf_counter(), broker.cpu_seconds()
    await asyncio.sleep(seconds)
    end_count, ended, cpu = delivered(), time.perf_counter(), broker.cpu_seconds() - cpu
    stop = True
    await asyncio.gather(*tasks)
    protos: list[Sub | Pub] = [sub, *pubs]
    for proto in protos:
        if proto.transport is not None:
            proto.transport.abort()
    return (end_count - start_count) / (ended - started), cpu / max(end_count - start_count, 1) * 1e6


# ---------------------------------------------------------------------------------------- webhook


class HookServer(asyncio.Protocol):
    """HTTP/1.1 keep-alive: counts complete requests (Content-Length bodies), answers 200 to each."""

    received = 0
    progress = asyncio.Event()

    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport) or hasattr(transport, "write")
        self.transport = transport  # type: ignore[assignment]  # uvloop transports don't subclass Transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        answers = 0
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            length = 0
            for line in bytes(buf[:end]).lower().split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line[15:])
            if len(buf) < end + 4 + length:
                break
            del buf[: end + 4 + length]
            answers += 1
        if answers and self.transport is not None:
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n" * answers)
            HookServer.received += answers
            HookServer.progress.set()


async def webhook(port: int, admin_port: int, hook_port: int, total: int) -> tuple[float, dict[str, Any]]:
    pub = Pub("hook-pub")
    await _connect(port, lambda: pub)
    await pub.ready
    assert pub.transport is not None
    packet = publish_qos0("hook/1", payload(25))
    start_count = HookServer.received
    sent = 0
    started = time.perf_counter()
    while HookServer.received - start_count < total:
        if sent < total and sent - (HookServer.received - start_count) < HOOK_WINDOW:
            n = min(100, total - sent)
            await pub.can_write.wait()
            pub.transport.write(packet * n)
            sent += n
            await asyncio.sleep(0)
            continue
        HookServer.progress.clear()
        try:
            await asyncio.wait_for(HookServer.progress.wait(), 10.0)
        except TimeoutError:
            break
    elapsed = time.perf_counter() - started
    pub.transport.abort()
    deadline = time.monotonic() + 10
    while True:  # the broker counts a success once it has read the answer
        counters = (await admin(admin_port, "rule_metrics", tenant=TENANT))["actions"]["http:hook"]
        if (
            counters["success"] + counters["failed"] + counters["dropped"] >= total
            or time.monotonic() > deadline
        ):
            return (HookServer.received - start_count) / elapsed, counters
        await asyncio.sleep(0.05)


# ------------------------------------------------------------------------------------------- main


def engine_costs(number: int = 20_000) -> dict[str, float]:
    """CPU us per message of `RuleEngine.offer` through the fan-in rules, same and distinct SQL."""
    from mqttcloud.broker.core import Broker as Core  # noqa: PLC0415  (only this part needs them)
    from mqttcloud.protocol.properties import NO_PROPERTIES  # noqa: PLC0415
    from mqttcloud.runtime.rules import RuleEngine  # noqa: PLC0415

    tenant = contracts.TenantSpec(tenant_id=TENANT, allow_anonymous=True)
    core = Core(tenant, node_name="bench@127.0.0.1", now=1.0)
    msg = core.make_message(
        "bench/1", payload(25), qos=0, retain=False, properties=NO_PROPERTIES, publisher="p1", now=1.0
    )
    costs: dict[str, float] = {}
    for name, distinct in (("same SQL", False), ("distinct SQL", True)):
        engine = RuleEngine(core, lambda _actions: None, now=lambda: 1.0)
        engine.apply(fan_in_rules(distinct))
        engine.offer(msg)  # the topic's matching rules, cached
        best = min(
            timeit.repeat(partial(engine.offer, msg), number=number, repeat=7, timer=time.process_time)
        )
        costs[name] = best / number * 1e6
    return costs


async def run(ns: argparse.Namespace, workdir: Path) -> None:
    if ns.only == "engine":
        for name, cost in engine_costs().items():
            print(f"engine: {RULES} rules, {name}, no message passes WHERE: {cost:.2f} us CPU per message")
    if ns.only in (None, "fan-in"):
        await fan_in_runs(ns, workdir)
    if ns.only in (None, "webhook"):
        await webhook_run(ns, workdir)
    if ns.only == "pgsql" or (ns.only is None and os.environ.get(PG_ENV)):
        await pgsql_run(ns, workdir)


async def fan_in_runs(ns: argparse.Namespace, workdir: Path) -> None:
    rounds: dict[str, list[float]] = {"no rules": [], f"{RULES} rules": []}
    costs: dict[str, list[float]] = {"no rules": [], f"{RULES} rules": []}
    for r in range(ns.rounds):
        for name, rules in (("no rules", []), (f"{RULES} rules", fan_in_rules(ns.distinct))):
            broker, _admin = start(workdir / f"fan{r}{len(rules)}", rules)
            try:
                rate, cost = await fan_in(broker, ns.seconds, ns.hot)
            finally:
                broker.stop()
            rounds[name].append(rate)
            costs[name].append(cost)
    base, base_cost = max(rounds["no rules"]), min(costs["no rules"])
    for name, rates in rounds.items():
        best, cost = max(rates), min(costs[name])
        shape = f"hot {ns.hot:.0%}{', distinct SQL' if ns.distinct else ''}"
        print(
            f"fan-in 8->1 QoS 0, {shape}, {name:>9}: best {best:>9,.0f} msgs/s "
            f"({best / base:.0%} of no rules); rounds {', '.join(f'{x:,.0f}' for x in rates)}; "
            f"broker CPU {cost:.1f} us/msg ({base_cost / cost:.0%} of no rules' rate at full CPU)"
        )


async def webhook_run(ns: argparse.Namespace, workdir: Path) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(HookServer, "127.0.0.1", 0)
    hook_port = server.sockets[0].getsockname()[1]
    action = contracts.HttpAction(name="http:hook", url=f"http://127.0.0.1:{hook_port}/in")
    rule = contracts.RuleSpec(id="hook", sql='SELECT * FROM "hook/#"', actions=[action])
    broker, admin_port = start(workdir / "hook", [rule])
    try:
        await asyncio.sleep(0.5)  # the action's first probe
        cpu = broker.cpu_seconds()
        rate, counters = await webhook(broker.port, admin_port, hook_port, ns.webhook)
        cpu = broker.cpu_seconds() - cpu
    finally:
        broker.stop()
        server.close()
    print(
        f"webhook: {ns.webhook:,} messages, {rate:,.0f} requests/s, "
        f"broker CPU {cpu / ns.webhook * 1e6:.0f} us per message; success {counters['success']:,}, "
        f"failed {counters['failed']}, dropped {counters['dropped']}, retried {counters['retried']}"
    )


# ------------------------------------------------------------------------------------------ pgsql


async def pgsql_run(ns: argparse.Namespace, workdir: Path) -> None:
    """One rule `SELECT * FROM "pg/#"` inserting into a fresh database; rows/s until all are in."""
    import psycopg  # noqa: PLC0415  (only this part needs it)
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from tests.conftest import create_postgres_database, drop_postgres_database  # noqa: PLC0415

    admin_url = os.environ[PG_ENV]
    url = create_postgres_database(admin_url, prefix="bench_rules")
    parsed = make_url(url)
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE t_mqtt (clientid text, topic text, temp numeric, ts bigint)")
        action = PgsqlAction(
            name="pgsql:bench",
            server=f"{parsed.host}:{parsed.port or 5432}",
            database=str(parsed.database),
            username=str(parsed.username),
            password=parsed.password or "",
            sql="INSERT INTO t_mqtt (clientid, topic, temp, ts) "
            "VALUES (${clientid}, ${topic}, ${payload.temp}, ${timestamp})",
            pool_size=ns.pg_pool,
            batch_size=ns.pg_batch,
            batch_time=0.01,
            max_queue=100_000,
        )
        rule = contracts.RuleSpec(id="pg", sql='SELECT * FROM "pg/#"', actions=[action])
        broker, admin_port = start(workdir / "pgsql", [rule])
        try:
            await asyncio.sleep(0.5)  # the pool connects
            cpu = broker.cpu_seconds()
            rate, counters = await pgsql_load(broker.port, admin_port, ns.pgsql)
            cpu = broker.cpu_seconds() - cpu
        finally:
            broker.stop()
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT count(*) FROM t_mqtt").fetchone()
        rows = int(row[0]) if row else 0
    finally:
        drop_postgres_database(admin_url, url)
    print(
        f"pgsql: {ns.pgsql:,} messages, batch {ns.pg_batch}, pool {ns.pg_pool}: {rate:,.0f} rows/s, "
        f"broker CPU {cpu / ns.pgsql * 1e6:.0f} us per message; rows {rows:,}, "
        f"success {counters['success']:,}, "
        f"failed {counters['failed']}, dropped {counters['dropped']}"
    )


async def pgsql_load(port: int, admin_port: int, total: int) -> tuple[float, dict[str, Any]]:
    """Publish `total` QoS 0 messages, at most HOOK_WINDOW ahead of the action's success count."""
    pub = Pub("pg-pub")
    await _connect(port, lambda: pub)
    await pub.ready
    assert pub.transport is not None
    packet = publish_qos0("pg/1", payload(25))
    sent = 0
    started = time.perf_counter()
    counters: dict[str, Any] = {"success": 0, "failed": 0, "dropped": 0}
    while True:
        done = counters["success"] + counters["failed"] + counters["dropped"]
        if done >= total:
            break
        if sent < total and sent - done < HOOK_WINDOW:
            n = min(500, total - sent)
            await pub.can_write.wait()
            pub.transport.write(packet * n)
            sent += n
            await asyncio.sleep(0)
            continue
        await asyncio.sleep(0.005)
        counters = (await admin(admin_port, "rule_metrics", tenant=TENANT))["actions"]["pgsql:bench"]
    elapsed = time.perf_counter() - started
    pub.transport.abort()
    return counters["success"] / elapsed, counters


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--hot", type=float, default=0.1, help="share of messages with temp > 30")
    parser.add_argument("--distinct", action="store_true", help="10 different SQL texts")
    parser.add_argument("--webhook", type=int, default=30_000, help="messages through the HTTP action")
    parser.add_argument("--only", choices=["fan-in", "webhook", "pgsql", "engine"], help="run one part")
    parser.add_argument(
        "--pgsql", type=int, default=100_000, help=f"rows through the PostgreSQL action ({PG_ENV})"
    )
    parser.add_argument("--pg-batch", type=int, default=100, help="the PostgreSQL action's batch_size")
    parser.add_argument("--pg-pool", type=int, default=4, help="the PostgreSQL action's pool_size")
    ns = parser.parse_args(argv)
    if len(os.sched_getaffinity(0)) > 1:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {1})  # the broker has CPU 0
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as tmp:
        uvloop.run(run(ns, Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
