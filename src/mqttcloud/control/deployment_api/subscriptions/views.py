"""How a subscription looks in each API shape, and the subscription filters (spec §2.2.2, §2.3.5)."""

from typing import Any

from starlette.datastructures import QueryParams

from mqttcloud.contracts import SubscriptionFilter, SubscriptionInfo
from mqttcloud.control.deployment_api.common import int_param, param


def v5(sub: SubscriptionInfo) -> dict[str, Any]:
    return {
        "topic": sub.topic,
        "qos": sub.qos,
        "node": sub.node,
        "clientid": sub.clientid,
        "nl": sub.nl,
        "rap": sub.rap,
        "rh": sub.rh,
    }


def v4(sub: SubscriptionInfo) -> dict[str, Any]:
    return {"topic": sub.topic, "qos": sub.qos, "node": sub.node, "clientid": sub.clientid}


def filters(query: QueryParams) -> SubscriptionFilter:
    """`clientid`, `qos`, `share`/`share_group`, `topic`, `_match_topic`/`match_topic`."""
    return SubscriptionFilter(
        clientid=query.get("clientid") or None,
        topic=query.get("topic") or None,
        qos=int_param(query, "qos", low=0, high=2),
        share_group=query.get("share") or query.get("share_group") or None,
        match_topic=param(query, "match_topic") or None,
    )
