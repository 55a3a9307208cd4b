"""Metrics and stats' use cases: the running broker's counters and gauges, under EMQX 5 names (v5) and
EMQX 4 names (v4, spec §2.3.8), and as Prometheus text; summed over the deployment's nodes or node by
node (EMQX's `aggregate`), and the nodes themselves (`GET /nodes`).

Live data only, from the broker's admin channel (`Live.broker`); a stopped deployment answers 503.
"""

import asyncio
from collections.abc import Mapping

from mqttcloud import __version__
from mqttcloud.control.deployment_api import live
from mqttcloud.control.deployment_api.target import Live


async def metrics(target: Live) -> dict[str, int]:
    """The broker's counters, EMQX 5 names."""
    return dict((await live.call(target.broker().metrics(target.tenant))).values)


async def stats(target: Live) -> dict[str, int]:
    """The broker's gauges (`connections.count`, ...), EMQX 5 names."""
    return dict((await live.call(target.broker().stats(target.tenant))).values)


async def stats_by_node(target: Live) -> list[tuple[str, dict[str, int]]]:
    """Each running node's gauges (EMQX 5 names), node 1 first: `GET /stats` without `aggregate`."""
    tenant = target.tenant
    answers = await live.call(target.broker().by_node(lambda client: client.stats(tenant)))
    return [(node, dict(result.values)) for node, result in answers]


async def metrics_by_node(target: Live) -> list[tuple[str, dict[str, int]]]:
    """Each running node's counters (EMQX 5 names), node 1 first."""
    tenant = target.tenant
    answers = await live.call(target.broker().by_node(lambda client: client.metrics(tenant)))
    return [(node, dict(result.values)) for node, result in answers]


async def nodes(target: Live) -> list[dict[str, object]]:
    """EMQX 5 `GET /nodes`: every running node of the deployment, its uptime (ms) and connections."""
    tenant = target.tenant
    broker = target.broker()
    pings, gauges = await live.call(
        asyncio.gather(
            broker.by_node(lambda client: client.ping()),
            broker.by_node(lambda client: client.stats(tenant)),
        )
    )
    return [
        {
            "node": node,
            "node_status": "running",
            "role": "core",
            "version": __version__,
            "uptime": round(ping.uptime * 1000),
            "connections": stats.values.get("connections.count", 0),
            "live_connections": stats.values.get("live_connections.count", 0),
        }
        for (node, ping), (_node, stats) in zip(pings, gauges, strict=True)
    ]


async def prometheus_text(target: Live) -> str:
    """Prometheus text format: stats as gauges, metrics as counters, names `emqx_<name with _>`, and
    `emqx_client_disconnected_reason` by EMQX's label `reason`."""
    stats_values = await stats(target)
    counters = await live.call(target.broker().metrics(target.tenant))
    lines: list[str] = []
    for kind, values in (("gauge", stats_values), ("counter", counters.values)):
        for name in sorted(values):
            metric = "emqx_" + name.replace(".", "_").replace("-", "_")
            lines += [f"# TYPE {metric} {kind}", f'{metric}{{node="{target.node}"}} {values[name]}']
    lines.append("# TYPE emqx_client_disconnected_reason counter")
    for reason, count in sorted(counters.disconnect_reasons.items()):
        label = reason.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'emqx_client_disconnected_reason{{node="{target.node}",reason="{label}"}} {count}')
    return "\n".join(lines) + "\n"


V4_ALIASES = {
    "client.check_acl": "client.authorize",
    "client.acl.allow": "authorization.allow",
    "client.acl.deny": "authorization.deny",
    "client.auth.success": "authentication.success",
    "client.auth.failure": "authentication.failure",
    "session.takeovered": "session.takenover",
    "messages.dropped.expired": "delivery.dropped.expired",
}
# Documented counters of features this platform does not have (the rule engine, delayed publish,
# anonymous and "ignore" auth results): always 0 here, reported so scripts that read them keep working.
ALWAYS_ZERO = (
    "actions.failure",
    "actions.success",
    "actions.error",
    "actions.retry",
    "actions.exception",
    "actions.taken",
    "rules.matched",
    "messages.delayed",
    "client.auth.anonymous",
    "client.auth.ignore",
    "client.acl.ignore",
)


def v4_metrics(values: Mapping[str, int]) -> dict[str, int]:
    """The broker's counters plus their EMQX 4 names (and the always-zero documented ones)."""
    result = dict(values)
    for v4_name, name in V4_ALIASES.items():
        result.setdefault(v4_name, values.get(name, 0))
    for name in ALWAYS_ZERO:
        result.setdefault(name, 0)
    return result
