"""The admin channel's fast paths: client listing on raw fields, dicts built without pydantic, chunked
encoding, pipelined requests.

The first tests are pure (the sans-I/O `Broker` through the unit pair harness): they pin the fast
listing to the reference semantics (build every `ClientInfo`, filter, page) so the two cannot drift.
The last ones run the real broker process.
"""

import asyncio
import base64
import json
import socket
from typing import Any

import pytest
from tests.integration.broker import mqtt_wire as w
from tests.integration.broker.harness import TENANT, TOKEN, BrokerProcess
from tests.unit.broker.pair import Harness

from mqttcloud import contracts
from mqttcloud.broker import queries
from mqttcloud.protocol.packets import Disconnect, Subscribe, Subscription
from mqttcloud.protocol.properties import Properties
from mqttcloud.runtime import admin

ConnState = contracts.ConnState


def _reference(h: Harness, f: contracts.ClientFilter, page: int, limit: int) -> dict[str, Any]:
    """The slow, obviously right listing: a ClientInfo per session, then filter, then page."""
    infos = [queries._info(h.broker, s) for s in h.broker.sessions.values()]

    def keep(i: contracts.ClientInfo) -> bool:
        state = ConnState.CONNECTED if i.connected else ConnState.DISCONNECTED
        return all(
            (
                f.clientid is None or f.clientid == i.clientid,
                f.username is None or f.username == i.username,
                f.ip_address is None or f.ip_address == i.ip_address,
                f.conn_state is None or f.conn_state == state,
                f.clean_start is None or f.clean_start == i.clean_start,
                f.proto_name is None or f.proto_name == i.proto_name,
                f.proto_ver is None or f.proto_ver == i.proto_ver,
                f.like_clientid is None or f.like_clientid in i.clientid,
                f.like_username is None or (i.username is not None and f.like_username in i.username),
                f.like_ip_address is None or f.like_ip_address in i.ip_address,
                f.gte_created_at is None or i.created_at >= f.gte_created_at,
                f.lte_created_at is None or i.created_at <= f.lte_created_at,
                f.gte_connected_at is None or i.connected_at >= f.gte_connected_at,
                f.lte_connected_at is None or i.connected_at <= f.lte_connected_at,
            )
        )

    kept = [i for i in infos if keep(i)]
    start = (page - 1) * limit
    return contracts.ClientList(
        data=kept[start : start + limit],
        count=len(kept),
        page=page,
        limit=limit,
        hasnext=start + limit < len(kept),
    ).model_dump(mode="json", by_alias=True)


@pytest.fixture
def mixed() -> Harness:
    """Connected v3.1.1 and v5 clients, with and without user names, created at different times, and
    one disconnected persistent session."""
    h = Harness()
    for i in range(12):
        h.now += 1
        h.connect(
            f"dev-{i}",
            version=5 if i % 3 else 4,
            username=None if i % 4 == 0 else f"user-{i % 2}",
            clean_start=i % 5 != 0,
        )
    h.now += 1
    h.connect("other", username="alice")
    h.now += 1
    gone, _ = h.connect("gone", clean_start=False, properties=Properties(session_expiry_interval=600))
    gone.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="a/#"),)))
    h.now += 1
    gone.send(Disconnect())
    return h


FILTERS = [
    contracts.ClientFilter(),
    contracts.ClientFilter(clientid="dev-3"),
    contracts.ClientFilter(clientid="nobody"),
    contracts.ClientFilter(clientid="gone", conn_state=ConnState.CONNECTED),
    contracts.ClientFilter(username="user-1"),
    contracts.ClientFilter(ip_address="127.0.0.1"),
    contracts.ClientFilter(ip_address="10.0.0.1"),
    contracts.ClientFilter(conn_state=ConnState.CONNECTED),
    contracts.ClientFilter(conn_state=ConnState.DISCONNECTED),
    contracts.ClientFilter(conn_state=ConnState.IDLE),
    contracts.ClientFilter(clean_start=False),
    contracts.ClientFilter(proto_name="MQTT", proto_ver=4),
    contracts.ClientFilter(proto_name="MQTT-SN"),
    contracts.ClientFilter(like_clientid="dev-1"),
    contracts.ClientFilter(like_username="user"),
    contracts.ClientFilter(like_ip_address="127.0"),
    contracts.ClientFilter(gte_created_at=1_000_004.0, lte_created_at=1_000_009.0),
    contracts.ClientFilter(gte_connected_at=1_000_010.0),
    contracts.ClientFilter(lte_connected_at=1_000_003.0, like_clientid="dev"),
]


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: json.dumps(f.model_dump(exclude_none=True)))
@pytest.mark.parametrize(("page", "limit"), [(1, 100), (1, 4), (2, 4), (4, 4), (9, 3)])
def test_fast_listing_equals_reference(
    mixed: Harness, f: contracts.ClientFilter, page: int, limit: int
) -> None:
    expected = _reference(mixed, f, page, limit)
    assert queries.client_page(mixed.broker, f, page, limit) == expected
    assert mixed.broker.client_infos(f, page, limit).model_dump(mode="json", by_alias=True) == expected


def test_client_dict_validates_as_client_info_and_dumps_back(mixed: Harness) -> None:
    for session in mixed.broker.sessions.values():
        raw = queries.client_dict(mixed.broker, session)
        info = contracts.ClientInfo.model_validate(raw)
        assert info.model_dump(mode="json", by_alias=True) == raw
    gone = contracts.ClientInfo.model_validate(
        queries.client_dict(mixed.broker, mixed.broker.sessions["gone"])
    )
    assert gone.connected is False
    assert gone.disconnected_at == mixed.now
    assert gone.subscriptions_cnt == 1


def test_encode_result_chunks_long_lists_into_the_same_json() -> None:
    small = {"data": [{"a": 1}], "count": 1}
    assert json.loads(asyncio.run(admin._encode_result(3, small))) == {
        "id": 3,
        "ok": True,
        "result": small,
        "error": None,
    }
    long = {
        "data": [{"i": i, "s": f"x{i}"} for i in range(admin.CHUNK * 2 + 7)],
        "count": 9,
        "hasnext": False,
    }
    line = asyncio.run(admin._encode_result(4, long))
    assert b"\n" not in line
    parsed = contracts.AdminResponse.model_validate_json(line)
    assert parsed.id == 4
    assert parsed.ok is True
    assert parsed.result == long
    only_data = {"data": [{"i": i} for i in range(admin.CHUNK + 1)]}
    assert json.loads(asyncio.run(admin._encode_result(5, only_data)))["result"] == only_data


# ------------------------------------------------------------------------------ real broker process


def _read_answers(reader: Any, count: int) -> dict[int, dict[str, Any]]:
    answers: dict[int, dict[str, Any]] = {}
    for _ in range(count):
        line = reader.readline()
        assert line, "admin connection closed early"
        answer = json.loads(line)
        answers[answer["id"]] = answer
    return answers


def test_pipelined_requests_are_all_answered_by_id(broker: BrokerProcess) -> None:
    """Many requests of different ops sent in one write: every id gets its own correct answer."""
    assert broker.ready is not None
    with (
        w.connected(broker.port(), "pipe-sub") as sub,
        socket.create_connection(("127.0.0.1", broker.ready.admin.port), timeout=10) as sock,
    ):
        sub.send(w.subscribe(1, "pipe/t"))
        assert sub.recv_packet()[0] == 0x90  # SUBACK
        payload = base64.b64encode(b"hello").decode()
        requests: list[dict[str, Any]] = []
        for i in range(1, 121):
            if i % 3 == 0:
                requests.append({"id": i, "token": TOKEN, "op": "ping", "args": {}})
            elif i % 3 == 1:
                args: dict[str, Any] = {"tenant": TENANT, "topic": "pipe/t", "payload_b64": payload}
                requests.append({"id": i, "token": TOKEN, "op": "publish", "args": args})
            else:
                args = {"tenant": TENANT, "filter": {"clientid": "pipe-sub"}}
                requests.append({"id": i, "token": TOKEN, "op": "list_clients", "args": args})
        requests.append(
            {"id": 500, "token": TOKEN, "op": "get_client", "args": {"tenant": TENANT, "clientid": "no"}}
        )
        sock.sendall(b"".join(json.dumps(r).encode() + b"\n" for r in requests))
        answers = _read_answers(sock.makefile("rb"), len(requests))
        assert sorted(answers) == sorted(r["id"] for r in requests)
        for request in requests[:-1]:
            answer = answers[request["id"]]
            assert answer["ok"] is True, answer
            if request["op"] == "publish":
                assert answer["result"]["matched"] == 1
            elif request["op"] == "list_clients":
                assert [c["clientid"] for c in answer["result"]["data"]] == ["pipe-sub"]
            else:
                assert answer["result"]["broker_id"] == "test-broker"
        assert answers[500]["error"]["code"] == "CLIENTID_NOT_FOUND"
        delivered = w.publish("pipe/t", b"hello")
        assert [sub.recv_packet() for _ in range(40)] == [delivered] * 40


def test_large_page_is_answered_whole_and_ping_still_answers(broker: BrokerProcess) -> None:
    """A page longer than CHUNK (built and encoded in chunks) parses as one response, and a ping sent
    right behind it is answered too."""
    assert broker.ready is not None
    count = admin.CHUNK + 40
    sockets: list[w.Client] = []
    try:
        sockets.extend(w.connected(broker.port(), f"many-{i}") for i in range(count))
        with socket.create_connection(("127.0.0.1", broker.ready.admin.port), timeout=20) as sock:
            listing = {
                "id": 1,
                "token": TOKEN,
                "op": "list_clients",
                "args": {"tenant": TENANT, "limit": 10000},
            }
            ping = {"id": 2, "token": TOKEN, "op": "ping", "args": {}}
            sock.sendall(json.dumps(listing).encode() + b"\n" + json.dumps(ping).encode() + b"\n")
            answers = _read_answers(sock.makefile("rb"), 2)
        result = answers[1]["result"]
        assert result["count"] == count
        assert result["hasnext"] is False
        assert sorted(c["clientid"] for c in result["data"]) == sorted(f"many-{i}" for i in range(count))
        assert answers[2]["ok"] is True
    finally:
        for client in sockets:
            client.close()


def test_connected_identities_are_what_the_listing_reports(mixed: Harness) -> None:
    connected = contracts.ClientFilter(conn_state=ConnState.CONNECTED)
    listing = _reference(mixed, connected, 1, 10000)["data"]
    expected = [(c["clientid"], c["username"], c["ip_address"]) for c in listing]
    assert queries.connected_identities(mixed.broker) == expected
    assert "gone" not in {clientid for clientid, _, _ in expected}
    assert len(expected) == 13
