"""BrokerClient against an in-test asyncio admin server speaking the contracts.py admin channel."""

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel

from mqttcloud.contracts import (
    ADMIN_OPS,
    AdminRequest,
    AdminResponse,
    AdminSpec,
    BrokerSpec,
    ClientFilter,
    ErrorBody,
    ListenerAddress,
    ListenerKind,
    PublishArgs,
    RetainedArgs,
    RetainedDeleted,
    RetainedList,
    RetainedListArgs,
    RetainedMessage,
    SubscriptionFilter,
    TenantArgs,
    TenantId,
    TopicMetricsArgs,
    TopicMetricsResult,
    TraceLogArgs,
    TraceLogResult,
)
from mqttcloud.control.broker_client import BrokerClient, BrokerError, BrokerUnavailable

TOKEN = "admin-secret"
T1 = TenantId("t1")

Handler = Callable[[AdminRequest], Awaitable[dict[str, Any] | ErrorBody | None]]


def client_info(clientid: str) -> dict[str, Any]:
    """A ClientInfo as the broker dumps it (by alias: EMQX's dotted counter names)."""
    names = (
        "subscriptions_cnt subscriptions_max inflight_cnt inflight_max mqueue_len mqueue_max "
        "mqueue_dropped awaiting_rel_cnt awaiting_rel_max recv_oct recv_cnt recv_pkt recv_msg "
        "recv_msg.qos0 recv_msg.qos1 recv_msg.qos2 recv_msg.dropped send_oct send_cnt send_pkt "
        "send_msg send_msg.qos0 send_msg.qos1 send_msg.qos2 send_msg.dropped send_msg.dropped.expired "
        "send_msg.dropped.queue_full send_msg.dropped.too_large"
    )
    counters = dict.fromkeys(names.split(" "), 0)
    counters["recv_msg.qos1"] = 7
    return {
        "clientid": clientid,
        "username": "u1",
        "node": "mqttcloud@127.0.0.1",
        "listener": "tcp:default",
        "ip_address": "127.0.0.1",
        "port": 50000,
        "proto_ver": 5,
        "connected": True,
        "connected_at": 1700000000.0,
        "created_at": 1700000000.0,
        "keepalive": 60,
        "clean_start": True,
        "expiry_interval": 0,
        "is_persistent": False,
        **counters,
    }


def subscription(topic: str) -> dict[str, Any]:
    return {"clientid": "c1", "topic": topic, "qos": 1, "node": "mqttcloud@127.0.0.1"}


def page(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": data, "count": len(data), "page": 1, "limit": 100, "hasnext": False}


# op → a valid result for it, so every typed method can be checked against the contract.
RETAINED = {
    "msgid": "0" * 31 + "B",
    "topic": "r/1",
    "qos": 1,
    "publish_at": 1.5,
    "from_clientid": "c1",
    "payload_size": 2,
}
RESULTS: dict[str, dict[str, Any]] = {
    "ping": {"pid": 42, "broker_id": "d1", "uptime": 1.5, "spec_generation": 3, "tenants": ["t1"]},
    "apply_spec": {
        "listeners": [{"name": "tcp:default", "kind": "tcp", "host": "127.0.0.1", "port": 1883}],
        "generation": 4,
    },
    "list_clients": page([client_info("c1")]),
    "get_client": client_info("c1"),
    "kick": {},
    "client_subscriptions": page([subscription("a/b")]),
    "subscribe": subscription("a/#"),
    "unsubscribe": {},
    "list_subscriptions": page([subscription("a/b"), subscription("c")]),
    "publish": {"id": "0" * 31 + "A", "matched": 2},
    "stats": {"values": {"connections.count": 1}},
    "metrics": {"values": {"messages.received": 9}},
    "capture": {
        "messages": [
            {
                "topic": "shadow/s1",
                "payload_b64": "e30=",
                "qos": 1,
                "retain": False,
                "clientid": "c1",
                "timestamp": 1.5,
            }
        ],
        "dropped": 0,
    },
    "rule_metrics": {
        "rules": {"r1": {"matched": 3, "passed": 2, "failed.no_result": 1, "failed": 1}},
        "actions": {"http:hook": {"matched": 2, "success": 1, "queuing": 1, "status": "connected"}},
    },
    "trace_log": {"size": 2, "mtime": 1.5, "data_b64": "aGk="},
    "events": {"events": [], "shed": 0, "recorded": 4},
    "list_retained": page([RETAINED]),
    "get_retained": {"message": RETAINED, "payload_b64": "aGk="},
    "delete_retained": {"deleted": 1},
    "topic_metrics": {"topics": [{"topic": "m/1", "counts": [1] + [0] * 8, "rates": [0.2] + [0.0] * 8}]},
    "reset_topic_metrics": {"topics": []},
    "clear_retained": {"deleted": 3},
}


@dataclass
class FakeAdmin:
    """An admin endpoint: checks the token, validates args against ADMIN_OPS, answers via `handler`."""

    handler: Handler | None = None
    requests: list[AdminRequest] = field(default_factory=list)
    connections: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        async with asyncio.TaskGroup() as tg:
            while line := await reader.readline():
                request = AdminRequest.model_validate_json(line)
                self.requests.append(request)
                if request.token != TOKEN:
                    error = ErrorBody(code="UNAUTHORIZED", message="bad token")
                    await self._send(writer, AdminResponse(id=request.id, ok=False, error=error))
                    break
                ADMIN_OPS[request.op][0].model_validate(request.args)
                tg.create_task(self._answer(writer, request))
        writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, request: AdminRequest) -> None:
        outcome = await self.handler(request) if self.handler else RESULTS[request.op]
        if outcome is None:  # the handler closed the connection or never answers
            return
        if isinstance(outcome, ErrorBody):
            response = AdminResponse(id=request.id, ok=False, error=outcome)
        else:
            response = AdminResponse(id=request.id, ok=True, result=outcome)
        await self._send(writer, response)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, response: AdminResponse) -> None:
        if not writer.is_closing():
            writer.write(response.model_dump_json().encode() + b"\n")
            await writer.drain()


@pytest.fixture
async def admin() -> AsyncIterator[FakeAdmin]:
    fake = FakeAdmin()
    server = await asyncio.start_server(fake.serve, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    async with server:
        yield fake
        for writer in fake.writers:
            writer.close()


@pytest.fixture
async def client(admin: FakeAdmin) -> AsyncIterator[BrokerClient]:
    broker_client = BrokerClient("127.0.0.1", admin.port, TOKEN, timeout=2.0)
    yield broker_client
    await broker_client.close()


def make_spec() -> BrokerSpec:
    return BrokerSpec(broker_id="d1", data_dir="/d", ready_file="/r", admin=AdminSpec(token=TOKEN))


async def test_ping_returns_the_typed_result(client: BrokerClient, admin: FakeAdmin) -> None:
    result = await client.ping()
    assert (result.pid, result.broker_id, result.spec_generation, result.tenants) == (42, "d1", 3, ["t1"])
    assert admin.requests[0].op == "ping"
    assert admin.requests[0].token == TOKEN


async def test_every_op_sends_its_contract_args_and_parses_its_result(
    client: BrokerClient, admin: FakeAdmin
) -> None:
    """One call per op in ADMIN_OPS; the fake server validates each request's args against the contract."""
    payload = base64.b64encode(b"hi").decode()
    results: dict[str, BaseModel | None] = {}
    results["ping"] = await client.ping()
    results["apply_spec"] = await client.apply_spec(make_spec(), 4)
    results["list_clients"] = await client.list_clients(T1, ClientFilter(like_clientid="c"), page=2, limit=5)
    results["get_client"] = await client.get_client(T1, "c1")
    await client.kick(T1, "c1")
    results["kick"] = None
    results["client_subscriptions"] = await client.client_subscriptions(T1, "c1")
    results["subscribe"] = await client.subscribe(T1, "c1", "a/#", qos=1)
    await client.unsubscribe(T1, "c1", "a/#")
    results["unsubscribe"] = None
    results["list_subscriptions"] = await client.list_subscriptions(T1, SubscriptionFilter(qos=1))
    publish = PublishArgs(tenant=T1, topic="a/b", payload_b64=payload, qos=1)
    results["publish"] = await client.publish(publish)
    results["stats"] = await client.stats(T1)
    results["metrics"] = await client.metrics(T1)
    results["capture"] = await client.capture(T1, consumer="shadows", filters=["shadow/+"], wait=0.0)
    results["rule_metrics"] = await client.rule_metrics(T1)
    trace_args = TraceLogArgs(tenant=T1, name="t1", limit=10)
    results["trace_log"] = await client.call("trace_log", trace_args, TraceLogResult)
    results["events"] = await client.events(T1, wait=0.0)
    retained = RetainedArgs(tenant=T1, topic="r/#")
    results["list_retained"] = await client.call("list_retained", RetainedListArgs(tenant=T1), RetainedList)
    results["get_retained"] = await client.call("get_retained", retained, RetainedMessage)
    results["delete_retained"] = await client.call("delete_retained", retained, RetainedDeleted)
    metered = TopicMetricsArgs(tenant=T1, topic="m/1")
    results["topic_metrics"] = await client.call("topic_metrics", metered, TopicMetricsResult)
    results["reset_topic_metrics"] = await client.call("reset_topic_metrics", metered, TopicMetricsResult)
    results["clear_retained"] = await client.call("clear_retained", TenantArgs(tenant=T1), RetainedDeleted)
    assert [r.op for r in admin.requests] == list(ADMIN_OPS)
    for op, result in results.items():
        expected_type = ADMIN_OPS[op][1]
        if result is None:  # kick / unsubscribe return nothing
            assert RESULTS[op] == {}
        else:
            assert isinstance(result, expected_type)
            assert result == expected_type.model_validate(RESULTS[op])
    by_op = {r.op: r.args for r in admin.requests}
    assert by_op["list_clients"]["filter"]["like_clientid"] == "c"
    assert (by_op["list_clients"]["page"], by_op["list_clients"]["limit"]) == (2, 5)
    assert by_op["apply_spec"]["generation"] == 4
    assert by_op["apply_spec"]["spec"]["broker_id"] == "d1"
    assert by_op["publish"]["payload_b64"] == payload


async def test_client_info_keeps_emqx_dotted_counters(client: BrokerClient) -> None:
    info = await client.get_client(T1, "c1")
    assert info.recv_msg_qos1 == 7
    assert info.model_dump(by_alias=True)["recv_msg.qos1"] == 7


async def test_apply_spec_result_lists_the_actual_listeners(client: BrokerClient) -> None:
    result = await client.apply_spec(make_spec(), 4)
    assert result.listeners == [
        ListenerAddress(name="tcp:default", kind=ListenerKind.TCP, host="127.0.0.1", port=1883)
    ]


async def test_broker_error_raises_broker_error_with_its_code(client: BrokerClient, admin: FakeAdmin) -> None:
    async def not_found(request: AdminRequest) -> ErrorBody:
        return ErrorBody(code="CLIENTID_NOT_FOUND", message="no such client")

    admin.handler = not_found
    with pytest.raises(BrokerError) as caught:
        await client.get_client(T1, "ghost")
    assert (caught.value.code, caught.value.message) == ("CLIENTID_NOT_FOUND", "no such client")


async def test_wrong_token_is_unauthorized_and_the_client_reconnects_after(admin: FakeAdmin) -> None:
    bad = BrokerClient("127.0.0.1", admin.port, "wrong", timeout=2.0)
    try:
        with pytest.raises(BrokerError) as caught:
            await bad.ping()
        assert caught.value.code == "UNAUTHORIZED"
        with pytest.raises(BrokerError):
            await bad.ping()
        assert admin.connections == 2  # the server closed the first connection
    finally:
        await bad.close()


async def test_unreachable_broker_raises_broker_unavailable() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    nobody = BrokerClient("127.0.0.1", port, TOKEN, timeout=2.0)
    with pytest.raises(BrokerUnavailable):
        await nobody.ping()
    await nobody.close()


async def test_silent_broker_times_out_as_unavailable(admin: FakeAdmin) -> None:
    async def never(request: AdminRequest) -> None:
        await asyncio.Event().wait()

    admin.handler = never
    impatient = BrokerClient("127.0.0.1", admin.port, TOKEN, timeout=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(BrokerUnavailable, match="did not answer"):
        await impatient.ping()
    assert loop.time() - started < 1.5
    await impatient.close()


async def test_concurrent_calls_share_one_connection_and_match_answers_by_id(
    client: BrokerClient, admin: FakeAdmin
) -> None:
    first_seen = asyncio.Event()

    async def slow_first(request: AdminRequest) -> dict[str, Any]:
        """The first stats call is answered after the second: ids, not order, pair them."""
        tenant = request.args.get("tenant")
        if tenant == "slow":
            first_seen.set()
            await asyncio.sleep(0.1)
        return {"values": {str(tenant): request.id}}

    admin.handler = slow_first

    async def fast_after_slow_started() -> Any:
        await first_seen.wait()
        return await client.stats(TenantId("fast"))

    slow, fast = await asyncio.gather(client.stats(TenantId("slow")), fast_after_slow_started())
    assert list(slow.values) == ["slow"]
    assert list(fast.values) == ["fast"]
    assert slow.values["slow"] != fast.values["fast"]
    assert admin.connections == 1


async def test_client_reconnects_after_the_broker_closed_the_connection(
    client: BrokerClient, admin: FakeAdmin
) -> None:
    await client.ping()
    for writer in admin.writers:
        writer.close()
    # The reader notices EOF; the next call opens a fresh connection instead of failing.
    deadline = asyncio.get_running_loop().time() + 2.0
    while True:
        try:
            await client.ping()
            break
        except BrokerUnavailable:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
    assert admin.connections == 2


async def test_connection_lost_after_sending_fails_the_call_and_does_not_replay_it(
    client: BrokerClient, admin: FakeAdmin
) -> None:
    async def hang_up(request: AdminRequest) -> None:
        for writer in admin.writers:
            writer.close()

    admin.handler = hang_up
    with pytest.raises(BrokerUnavailable):
        await client.kick(T1, "c1")
    assert [r.op for r in admin.requests] == ["kick"]


async def test_malformed_result_is_a_broker_error(client: BrokerClient, admin: FakeAdmin) -> None:
    async def wrong_shape(request: AdminRequest) -> dict[str, Any]:
        return {"pid": "not a number"}

    admin.handler = wrong_shape
    with pytest.raises(BrokerError) as caught:
        await client.ping()
    assert caught.value.code == "INTERNAL_ERROR"


async def test_garbage_line_fails_pending_calls(admin: FakeAdmin) -> None:
    async def garbage(request: AdminRequest) -> None:
        admin.writers[-1].write(b"this is not json\n")

    admin.handler = garbage
    broker_client = BrokerClient("127.0.0.1", admin.port, TOKEN, timeout=2.0)
    with pytest.raises(BrokerUnavailable, match="malformed"):
        await broker_client.ping()
    await broker_client.close()


async def test_closed_client_refuses_calls_and_fails_pending_ones(
    client: BrokerClient, admin: FakeAdmin
) -> None:
    received = asyncio.Event()

    async def never(request: AdminRequest) -> None:
        received.set()
        await asyncio.Event().wait()

    admin.handler = never
    pending = asyncio.ensure_future(client.ping())
    await received.wait()
    await client.close()
    with pytest.raises(BrokerUnavailable):
        await pending
    with pytest.raises(BrokerUnavailable, match="closed"):
        await client.ping()


async def test_requests_are_one_json_line_each(admin: FakeAdmin) -> None:
    """The wire format: one AdminRequest per line, with increasing ids."""
    lines: list[bytes] = []
    server = await asyncio.start_server(lambda r, w: _record_lines(r, w, lines), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        raw = BrokerClient("127.0.0.1", port, TOKEN, timeout=2.0)
        await raw.ping()
        await raw.stats(T1)
        await raw.close()
    decoded = [json.loads(line) for line in lines]
    assert [d["op"] for d in decoded] == ["ping", "stats"]
    assert decoded[0]["id"] < decoded[1]["id"]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)


async def _record_lines(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, lines: list[bytes]
) -> None:
    while line := await reader.readline():
        lines.append(line)
        request = json.loads(line)
        response = AdminResponse(id=request["id"], ok=True, result=RESULTS[request["op"]])
        writer.write(response.model_dump_json().encode() + b"\n")
        await writer.drain()
    writer.close()


async def test_calls_made_in_one_loop_iteration_go_out_in_one_write(
    client: BrokerClient, admin: FakeAdmin
) -> None:
    """Request lines queued together are coalesced: one socket write (one syscall) for all of them."""
    await client.ping()  # connect first: the next calls all start in the same iteration
    conn = client._conn
    assert conn is not None
    writes: list[bytes] = []
    write = conn.writer.write

    def counting(data: bytes | bytearray | memoryview) -> None:
        writes.append(bytes(data))
        write(data)

    conn.writer.write = counting  # type: ignore[method-assign]
    results = await asyncio.gather(*(client.stats(TenantId(f"t{i}")) for i in range(20)))
    assert len(results) == 20
    assert len(writes) == 1
    assert writes[0].count(b"\n") == 20
    assert [json.loads(line)["args"]["tenant"] for line in writes[0].splitlines()] == [
        f"t{i}" for i in range(20)
    ]
    await client.ping()
    assert len(writes) == 2


async def test_list_clients_raw_returns_the_page_json_unvalidated(
    client: BrokerClient, admin: FakeAdmin
) -> None:
    raw = await client.list_clients_raw(T1, ClientFilter(username="u1"), page=2, limit=5)
    assert raw == page([client_info("c1")])
    assert raw["data"][0]["recv_msg.qos1"] == 7  # aliases kept: the caller re-serializes as is
    assert admin.requests[-1].args["filter"]["username"] == "u1"
    assert (admin.requests[-1].args["page"], admin.requests[-1].args["limit"]) == (2, 5)

    async def not_a_page(_request: AdminRequest) -> dict[str, Any]:
        return {"rows": []}

    admin.handler = not_a_page
    with pytest.raises(BrokerError, match="malformed list_clients"):
        await client.list_clients_raw(T1)
