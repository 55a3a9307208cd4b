"""How a connected client looks in each API shape, and the client filters of both (spec §2.2.1, §2.3.3).

Listings convert the admin channel's JSON (a `ClientInfo` dumped by alias) straight into the answer's
dicts: a page of 10,000 clients never builds a pydantic model per client.
"""

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import QueryParams

from mqttcloud.contracts import ClientFilter, ClientInfo, ConnState
from mqttcloud.control.deployment_api.common import bool_param, int_param, iso, param, time_param, v4_time
from mqttcloud.control.errors import BadRequest

_V5_EXTRAS: Mapping[str, Any] = {
    "zone": "default",
    "mailbox_len": 0,
    "heap_size": 0,
    "reductions": 0,
    "enable_authn": True,
    "recv_msg.dropped.await_pubrel_timeout": 0,
}


def v5(info: ClientInfo) -> dict[str, Any]:
    """A client as EMQX 5 / Serverless shows it (spec §2.2.1 example)."""
    return v5_raw(info.model_dump(by_alias=True))


def v5_raw(raw: Mapping[str, Any]) -> dict[str, Any]:
    """`v5` from a `ClientInfo` already dumped by alias (the admin channel's JSON), so a listing
    never builds a pydantic model per client."""
    data = dict(raw)
    data.update(_V5_EXTRAS)
    data["tenant_id_from"] = "peersni" if raw["peersni"] else None
    data["connected_at"] = iso(raw["connected_at"])
    data["created_at"] = iso(raw["created_at"])
    if raw["connected"]:
        data.pop("disconnected_at", None)
    else:
        data["disconnected_at"] = iso(raw["disconnected_at"])
    return data


_V4_RENAMES = {
    "inflight_cnt": "inflight",
    "inflight_max": "max_inflight",
    "mqueue_max": "max_mqueue",
    "awaiting_rel_cnt": "awaiting_rel",
    "awaiting_rel_max": "max_awaiting_rel",
    "subscriptions_max": "max_subscriptions",
}
_V4_FIELDS = (
    *("clientid", "username", "node", "proto_name", "proto_ver", "ip_address", "port", "is_bridge"),
    *("connected", "keepalive", "clean_start", "expiry_interval", "subscriptions_cnt", "mqueue_len"),
    *("mqueue_dropped", "recv_oct", "recv_cnt", "recv_pkt", "recv_msg", "send_oct", "send_cnt"),
    *("send_pkt", "send_msg"),
)


def v4(info: ClientInfo) -> dict[str, Any]:
    """A client as EMQX 4 shows it (spec §2.3.3): v4 names, `YYYY-MM-DD HH:MM:SS` times."""
    return v4_raw(info.model_dump(by_alias=True))


def v4_raw(raw: Mapping[str, Any]) -> dict[str, Any]:
    """`v4` from a `ClientInfo` already dumped by alias (the admin channel's JSON)."""
    data: dict[str, Any] = {name: raw[name] for name in _V4_FIELDS}
    for new, old in _V4_RENAMES.items():
        data[old] = raw[new]
    data["connected_at"] = v4_time(raw["connected_at"])
    data["created_at"] = v4_time(raw["created_at"])
    if not raw["connected"]:
        data["disconnected_at"] = v4_time(raw["disconnected_at"])
    data.update(zone="external", mountpoint="undefined", mailbox_len=0, heap_size=0, reductions=0)
    return data


def filters(query: QueryParams) -> ClientFilter | None:
    """The §2.2.1 / §2.3.3 client filters; None when nothing can match (a zone other than ours)."""
    conn_state = param(query, "conn_state")
    if conn_state is not None and conn_state not in {s.value for s in ConnState}:
        raise BadRequest(
            "conn_state must be connected, idle or disconnected", code="BAD_REQUEST", field="conn_state"
        )
    chosen = ClientFilter(
        clientid=query.get("clientid") or None,
        username=query.get("username") or None,
        ip_address=param(query, "ip_address") or None,
        conn_state=ConnState(conn_state) if conn_state else None,
        clean_start=bool_param(query, "clean_start"),
        proto_name=param(query, "proto_name") or None,
        proto_ver=int_param(query, "proto_ver", low=0, high=255),
        like_clientid=param(query, "like_clientid") or None,
        like_username=param(query, "like_username") or None,
        like_ip_address=param(query, "like_ip_address") or None,
        gte_created_at=time_param(query, "gte_created_at"),
        lte_created_at=time_param(query, "lte_created_at"),
        gte_connected_at=time_param(query, "gte_connected_at"),
        lte_connected_at=time_param(query, "lte_connected_at"),
    )
    # Every client is in the one zone ("default" in EMQX 5, "external" in EMQX 4).
    return chosen if param(query, "zone") in {None, "", "default", "external"} else None
