"""A deployment's running nodes as one broker: the Deployment API's live operations across nodes.

`Nodes` offers the admin operations the use cases call (`<domain>/service.py` through `Live.broker()`),
with the signatures of `BrokerClient`, and answers for the whole deployment, as EMQX's cluster-wide
queries do (`emqx_mgmt_api:cluster_query`):

- lists (clients, subscriptions) are the nodes' lists one after the other, node 1 first, paged over the
  whole: `count` is the sum, a page takes what it needs from each node (at most two node pages per node),
  and each item's `node` is the node that holds it (the broker fills it in);
- stats and metrics (and rule counters) are summed, or read node by node (`by_node`);
- a client's operations (get, kick, its subscriptions, subscribe and unsubscribe on its behalf) go to the
  node that holds the client: kick is sent to every node (a client taken over between nodes is kicked
  wherever it is), the others first find the node with `get_client`;
- publish goes to one node (the cluster forwards it to the others' subscribers).

With one node every call goes straight to its client. Broker errors propagate unchanged (`live.call`
turns them into API errors); a node that stops answering fails the call (503), as one node does.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mqttcloud.contracts import (
    ActionCounters,
    CaptureBatch,
    ClientFilter,
    ClientInfo,
    ClientList,
    PublishArgs,
    PublishResult,
    RuleCounters,
    RuleMetricsResult,
    SubscriptionFilter,
    SubscriptionInfo,
    SubscriptionList,
    TenantId,
    TenantMetrics,
    TenantStats,
)
from mqttcloud.control.broker_client import BrokerClient, BrokerError

T = TypeVar("T")
N = TypeVar("N")
Page = dict[str, Any]  # a list op's JSON result: {"data": [...], "count", "page", "limit", "hasnext"}


@dataclass(frozen=True, slots=True)
class Node:
    name: str  # BrokerSpec.node_name, e.g. "emqx@w41b11c0.2"
    client: BrokerClient


@dataclass(frozen=True, slots=True)
class Slice:
    """Which items of one node a global page takes: [start, stop) of that node's list."""

    node: int
    start: int
    stop: int


def plan_page(counts: Sequence[int], page: int, limit: int) -> list[Slice]:
    """The node slices that make global page `page` of `limit` items (nodes' lists concatenated)."""
    first, last = (page - 1) * limit, page * limit
    slices: list[Slice] = []
    offset = 0
    for node, count in enumerate(counts):
        start, stop = max(first, offset), min(last, offset + count)
        if start < stop:
            slices.append(Slice(node, start - offset, stop - offset))
        offset += count
    return slices


async def merged_page(
    nodes: Sequence[N], fetch: Callable[[N, int, int], Awaitable[Page]], page: int, limit: int
) -> Page:
    """One page of the nodes' concatenated lists, with the summed `count` (`fetch(node, page, limit)`
    reads one node's page).

    Every node's first page comes back with its count, in parallel; the items a page needs past a
    node's first page are read with at most two more node pages of the same `limit` (an item range
    shorter than `limit` spans at most two aligned pages).
    """
    firsts = await asyncio.gather(*(fetch(node, 1, limit) for node in nodes))
    counts = [int(first["count"]) for first in firsts]
    data: list[Any] = []
    for piece in plan_page(counts, page, limit):
        node = nodes[piece.node]
        pages: dict[int, list[Any]] = {1: list(firsts[piece.node]["data"])}
        wanted = range(piece.start // limit + 1, (piece.stop - 1) // limit + 2)
        missing = [number for number in wanted if number not in pages]
        for number, result in zip(
            missing, await asyncio.gather(*(fetch(node, n, limit) for n in missing)), strict=True
        ):
            pages[number] = list(result["data"])
        for index in range(piece.start, piece.stop):
            items = pages[index // limit + 1]
            if index % limit < len(items):  # the node's list shrank meanwhile: take what is there
                data.append(items[index % limit])
    total = sum(counts)
    return {"data": data, "count": total, "page": page, "limit": limit, "hasnext": page * limit < total}


def summed(values: Sequence[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for one in values:
        for name, value in one.items():
            total[name] = total.get(name, 0) + value
    return total


def _sum_rule(counters: Sequence[RuleCounters]) -> RuleCounters:
    dumped = [c.model_dump(by_alias=True) for c in counters]
    return RuleCounters.model_validate(summed(dumped))


def _sum_action(counters: Sequence[ActionCounters]) -> ActionCounters:
    numbers = [{k: v for k, v in c.model_dump().items() if isinstance(v, int)} for c in counters]
    worst = next((c for c in counters if c.status != "connected"), counters[0])
    return ActionCounters(**summed(numbers), status=worst.status, status_reason=worst.status_reason)


class Nodes:
    """The running nodes of one deployment (at least one), node 1 first."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        if not nodes:
            raise ValueError("a deployment answers through at least one running node")
        self.nodes = list(nodes)
        self.clients = [node.client for node in self.nodes]
        self.first = self.clients[0]

    @property
    def is_single(self) -> bool:
        return len(self.clients) == 1

    async def _each(self, call: Callable[[BrokerClient], Awaitable[T]]) -> list[T]:
        return list(await asyncio.gather(*(call(client) for client in self.clients)))

    async def _holder(self, tenant: TenantId, clientid: str) -> BrokerClient:
        """The node where the client is. Raises: BrokerError CLIENTID_NOT_FOUND (on no node)."""
        if self.is_single:
            return self.first

        async def has(client: BrokerClient) -> bool:
            try:
                await client.get_client(tenant, clientid)
            except BrokerError as exc:
                if exc.code != "CLIENTID_NOT_FOUND":
                    raise
                return False
            return True

        for client, found in zip(self.clients, await self._each(has), strict=True):
            if found:
                return client
        raise BrokerError("CLIENTID_NOT_FOUND", f"client {clientid} not found")

    # ---- lists --------------------------------------------------------------------------------------

    async def list_clients_raw(
        self, tenant: TenantId, filter: ClientFilter | None = None, page: int = 1, limit: int = 100
    ) -> Page:
        if self.is_single:
            return await self.first.list_clients_raw(tenant, filter, page, limit)

        async def fetch(client: BrokerClient, number: int, size: int) -> Page:
            return await client.list_clients_raw(tenant, filter, number, size)

        return await merged_page(self.clients, fetch, page, limit)

    async def list_clients(
        self, tenant: TenantId, filter: ClientFilter | None = None, page: int = 1, limit: int = 100
    ) -> ClientList:
        if self.is_single:
            return await self.first.list_clients(tenant, filter, page, limit)
        return ClientList.model_validate(await self.list_clients_raw(tenant, filter, page, limit))

    async def list_subscriptions(
        self, tenant: TenantId, filter: SubscriptionFilter | None = None, page: int = 1, limit: int = 100
    ) -> SubscriptionList:
        if self.is_single:
            return await self.first.list_subscriptions(tenant, filter, page, limit)

        async def fetch(client: BrokerClient, number: int, size: int) -> Page:
            result = await client.list_subscriptions(tenant, filter, number, size)
            return result.model_dump(by_alias=True)

        return SubscriptionList.model_validate(await merged_page(self.clients, fetch, page, limit))

    # ---- one client ---------------------------------------------------------------------------------

    async def get_client(self, tenant: TenantId, clientid: str) -> ClientInfo:
        return await (await self._holder(tenant, clientid)).get_client(tenant, clientid)

    async def kick(self, tenant: TenantId, clientid: str) -> None:
        """Kick the client on every node that has it. Raises: BrokerError CLIENTID_NOT_FOUND (none)."""
        if self.is_single:
            return await self.first.kick(tenant, clientid)

        async def kick_one(client: BrokerClient) -> bool:
            try:
                await client.kick(tenant, clientid)
            except BrokerError as exc:
                if exc.code != "CLIENTID_NOT_FOUND":
                    raise
                return False
            return True

        if not any(await self._each(kick_one)):
            raise BrokerError("CLIENTID_NOT_FOUND", f"client {clientid} not found")
        return None

    async def client_subscriptions(self, tenant: TenantId, clientid: str) -> SubscriptionList:
        return await (await self._holder(tenant, clientid)).client_subscriptions(tenant, clientid)

    async def subscribe(
        self,
        tenant: TenantId,
        clientid: str,
        topic: str,
        *,
        qos: int = 0,
        nl: int = 0,
        rap: int = 0,
        rh: int = 0,
    ) -> SubscriptionInfo:
        holder = await self._holder(tenant, clientid)
        return await holder.subscribe(tenant, clientid, topic, qos=qos, nl=nl, rap=rap, rh=rh)

    async def unsubscribe(self, tenant: TenantId, clientid: str, topic: str) -> None:
        await (await self._holder(tenant, clientid)).unsubscribe(tenant, clientid, topic)

    # ---- the deployment as a whole -------------------------------------------------------------------

    async def publish(self, args: PublishArgs) -> PublishResult:
        return await self.first.publish(args)

    async def stats(self, tenant: TenantId) -> TenantStats:
        if self.is_single:
            return await self.first.stats(tenant)
        results = await self._each(lambda client: client.stats(tenant))
        return TenantStats(values=summed([r.values for r in results]))

    async def metrics(self, tenant: TenantId) -> TenantMetrics:
        if self.is_single:
            return await self.first.metrics(tenant)
        results = await self._each(lambda client: client.metrics(tenant))
        return TenantMetrics(
            values=summed([r.values for r in results]),
            disconnect_reasons=summed([r.disconnect_reasons for r in results]),
        )

    async def rule_metrics(self, tenant: TenantId) -> RuleMetricsResult:
        if self.is_single:
            return await self.first.rule_metrics(tenant)
        results = await self._each(lambda client: client.rule_metrics(tenant))
        rules = {name for r in results for name in r.rules}
        actions = {name for r in results for name in r.actions}
        return RuleMetricsResult(
            rules={n: _sum_rule([r.rules[n] for r in results if n in r.rules]) for n in sorted(rules)},
            actions={
                n: _sum_action([r.actions[n] for r in results if n in r.actions]) for n in sorted(actions)
            },
        )

    async def by_node(self, call: Callable[[BrokerClient], Awaitable[T]]) -> list[tuple[str, T]]:
        """`call` on every node at once: (node name, its answer), node 1 first."""
        return list(zip((node.name for node in self.nodes), await self._each(call), strict=True))

    async def capture(
        self, tenant: TenantId, *, consumer: str, filters: list[str], wait: float, max_messages: int = 100
    ) -> CaptureBatch:
        """Node 1's capture (the shadow relay's): messages routed on that node."""
        return await self.first.capture(
            tenant, consumer=consumer, filters=filters, wait=wait, max_messages=max_messages
        )
