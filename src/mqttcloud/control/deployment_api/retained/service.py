"""Retained messages' use cases: list them (a topic filter, paged), read one with its payload, delete.

Live data only, in the running broker's retained store, through the admin ops of `contracts.retained`.
Rule: every node of a deployment holds every retained message (a cluster copies them to each node), so
reads ask the first node and a delete (or clearing them all) goes to every node, as EMQX's retainer
does cluster-wide. Broker errors become API errors here: no message → 404 `NOT_FOUND`, a bad filter →
400 `BAD_REQUEST`.
"""

import asyncio

from mqttcloud.contracts import (
    RetainedArgs,
    RetainedDeleted,
    RetainedList,
    RetainedListArgs,
    RetainedMessage,
    TenantArgs,
)
from mqttcloud.control.broker_client import BrokerError
from mqttcloud.control.deployment_api import live
from mqttcloud.control.deployment_api.target import Live
from mqttcloud.control.errors import NotFound

NOT_FOUND_MESSAGE = "Viewed message doesn't exist"  # EMQX's words


async def page(target: Live, *, topic: str | None, page: int, limit: int) -> RetainedList:
    """Retained messages in topic order; `topic`, a filter, keeps those it matches. Raises: BadRequest."""
    args = RetainedListArgs(tenant=target.tenant, topic=topic, page=page, limit=limit)
    return await live.call(target.broker().first.call("list_retained", args, RetainedList))


async def get(target: Live, *, topic: str) -> RetainedMessage:
    """The retained message of `topic` (a filter: its first match) with its payload. Raises: NotFound,
    BadRequest."""
    args = RetainedArgs(tenant=target.tenant, topic=topic)
    broker = target.broker().first

    async def found() -> RetainedMessage:
        try:
            return await broker.call("get_retained", args, RetainedMessage)
        except BrokerError as exc:  # live.call knows the other codes
            if exc.code != "RETAINED_NOT_FOUND":
                raise
            raise NotFound(NOT_FOUND_MESSAGE, code="NOT_FOUND") from None

    return await live.call(found())


async def delete(target: Live, *, topic: str) -> int:
    """Delete the retained message of `topic` (every match of a filter) on every node; returns how many
    there were. Raises: NotFound (none), BadRequest."""
    args = RetainedArgs(tenant=target.tenant, topic=topic)
    nodes = target.broker().clients
    results = await live.call(
        asyncio.gather(*(node.call("delete_retained", args, RetainedDeleted) for node in nodes))
    )
    deleted = max(result.deleted for result in results)
    if not deleted:
        raise NotFound(NOT_FOUND_MESSAGE, code="NOT_FOUND")
    return deleted


async def clear(target: Live) -> int:
    """Delete every retained message on every node (EMQX's `DELETE /mqtt/retainer/messages`); returns how
    many there were (0 is no error). Raises: ServiceUnavailable."""
    nodes = target.broker().clients
    args = TenantArgs(tenant=target.tenant)
    results = await live.call(
        asyncio.gather(*(node.call("clear_retained", args, RetainedDeleted) for node in nodes))
    )
    return max(result.deleted for result in results)
