"""`mqttcloud broker`: load a BrokerSpec (file or flags), run the broker until SIGTERM/SIGINT, exit 0.

    mqttcloud broker --config FILE                       JSON or TOML, a `contracts.BrokerSpec`
    mqttcloud broker --listen tcp://127.0.0.1:1883 [--listen ws://127.0.0.1:8083/mqtt ...]
                     [--cert F --key F [--cafile F]] [--allow-anonymous] [--data-dir DIR]
                     [--admin-port N] [--admin-token T] [--ready-file F] [--log-level L]
                     [--log-format text|json]
                     [--cluster nats://HOST:PORT [--node-name NAME]]

Flags build a one-tenant spec (tenant "default"); URL schemes: tcp/mqtt, ws, tls/ssl/mqtts, wss. Port 0
binds an ephemeral port (read it back from the ready file). `--cafile` turns on two-way TLS.
`--cluster` joins the cluster named by `--broker-id` through that NATS server (`runtime/cluster`); the
listeners then bind with SO_REUSEPORT, so nodes of one machine can share ports. `--node-name` must be
unique in the cluster (default `mqttcloud-<random>@127.0.0.1`). `--log-format json` (default: the
environment's MQTTCLOUD_LOG_FORMAT, else text) writes one JSON object per log line (`mqttcloud/logs.py`).

Exit codes: 0 after a clean shutdown, 1 when the broker cannot start (bad spec, port in use), 2 on usage
errors.
"""

import argparse
import asyncio
import gc
import json
import logging
import os
import secrets
import signal
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pydantic

from mqttcloud import contracts, logs
from mqttcloud.compiled import CoreStatus

log = logging.getLogger(__name__)

LOG_FORMAT_ENV = "MQTTCLOUD_LOG_FORMAT"  # the default of --log-format

#: Allocations between young collections (CPython's default is 700). A connect allocates some 40
#: tracked objects that all live as long as the connection: at 700, connect storms ran a young
#: collection every ~17 connects and a full one each time the heap grew by a quarter.
GC_YOUNG_THRESHOLD = 20_000

_SCHEMES = {
    "tcp": contracts.ListenerKind.TCP,
    "mqtt": contracts.ListenerKind.TCP,
    "ws": contracts.ListenerKind.WS,
    "tls": contracts.ListenerKind.TLS,
    "ssl": contracts.ListenerKind.TLS,
    "mqtts": contracts.ListenerKind.TLS,
    "wss": contracts.ListenerKind.WSS,
}


class UsageError(Exception):
    pass


def load_spec_file(path: Path) -> contracts.BrokerSpec:
    """A BrokerSpec from JSON or TOML (chosen by suffix; other suffixes try JSON, then TOML).

    Raises:
        UsageError: a listener could never accept a client (see `check_listeners`).
    """
    text = path.read_text()
    if path.suffix == ".toml":
        return check_listeners(contracts.BrokerSpec.model_validate(tomllib.loads(text)))
    try:
        return check_listeners(contracts.BrokerSpec.model_validate(json.loads(text)))
    except json.JSONDecodeError:
        if path.suffix == ".json":
            raise
        return check_listeners(contracts.BrokerSpec.model_validate(tomllib.loads(text)))


def check_listeners(spec: contracts.BrokerSpec) -> contracts.BrokerSpec:
    """Refuse at start a listener that would refuse every client: a `fixed` one without a tenant of
    this spec.

    Raises:
        UsageError: naming the listener and what it lacks.
    """
    tenants = {tenant.tenant_id for tenant in spec.tenants}
    for listener in spec.listeners:
        if listener.tenant_selector is not contracts.TenantSelector.FIXED:
            continue
        if listener.tenant is None:
            raise UsageError(
                f'listener {listener.name!r}: tenant_selector = "fixed" needs a tenant '
                f"(one of: {', '.join(sorted(tenants)) or 'none defined'})"
            )
        if listener.tenant not in tenants:
            raise UsageError(
                f"listener {listener.name!r}: tenant {listener.tenant!r} is not among the spec's tenants "
                f"({', '.join(sorted(tenants)) or 'none defined'})"
            )
    return spec


def parse_listen(urls: Sequence[str], tenant: contracts.TenantId) -> list[contracts.ListenerSpec]:
    listeners: list[contracts.ListenerSpec] = []
    counts: dict[str, int] = {}
    for url in urls:
        parts = urlsplit(url)
        kind = _SCHEMES.get(parts.scheme)
        if kind is None or parts.hostname is None:
            raise UsageError(f"bad --listen URL {url!r} (want tcp|ws|mqtts|wss://HOST:PORT[/path])")
        try:
            port = parts.port
        except ValueError as exc:
            raise UsageError(f"bad port in {url!r}") from exc
        if port is None:
            port = {"tcp": 1883, "ws": 8083, "tls": 8883, "wss": 8084}[kind.value]
        n = counts.get(kind.value, 0)
        counts[kind.value] = n + 1
        name = f"{kind.value}:default" if n == 0 else f"{kind.value}:{n}"
        listeners.append(
            contracts.ListenerSpec(
                name=name,
                kind=kind,
                host=parts.hostname,
                port=port,
                ws_path=parts.path or "/mqtt",
                tenant=tenant,
            )
        )
    return listeners


def spec_from_flags(ns: argparse.Namespace) -> contracts.BrokerSpec:
    tenant = contracts.TenantId("default")
    data_dir = Path(ns.data_dir or "mqttcloud-broker-data").resolve()
    tls: contracts.TlsSpec | None = None
    if ns.cert or ns.key:
        if not (ns.cert and ns.key):
            raise UsageError("--cert and --key go together")
        tls = contracts.TlsSpec(
            cert_pem=Path(ns.cert).read_text(),
            key_pem=Path(ns.key).read_text(),
            mode=contracts.TlsMode.TWO_WAY if ns.cafile else contracts.TlsMode.ONE_WAY,
            ca_pem=Path(ns.cafile).read_text() if ns.cafile else None,
        )
    token = ns.admin_token or secrets.token_urlsafe(24)
    cluster: contracts.ClusterSpec | None = None
    if ns.cluster:
        if urlsplit(ns.cluster).scheme not in ("nats", "tls"):
            raise UsageError(f"bad --cluster URL {ns.cluster!r} (want nats://HOST:PORT)")
        cluster = contracts.ClusterSpec(nats_url=ns.cluster, name=ns.broker_id, node_timeout=ns.node_timeout)
    elif ns.node_name:
        raise UsageError("--node-name needs --cluster")
    node_name = ns.node_name or (f"mqttcloud-{secrets.token_hex(4)}@127.0.0.1" if cluster else None)
    return contracts.BrokerSpec(
        broker_id=ns.broker_id,
        **({"node_name": node_name} if node_name else {}),
        cluster=cluster,
        data_dir=str(data_dir),
        ready_file=str(Path(ns.ready_file).resolve()) if ns.ready_file else str(data_dir / "ready.json"),
        admin=contracts.AdminSpec(port=ns.admin_port, token=token),
        listeners=parse_listen(ns.listen or ["tcp://127.0.0.1:1883"], tenant),
        tls=tls,
        tenants=[contracts.TenantSpec(tenant_id=tenant, allow_anonymous=ns.allow_anonymous)],
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mqttcloud broker", description="Run one MQTT broker process.")
    p.add_argument("--config", help="BrokerSpec file (JSON or TOML); other flags are then ignored")
    p.add_argument(
        "--listen", action="append", help="listener URL, repeatable (tcp|ws|mqtts|wss://HOST:PORT)"
    )
    p.add_argument("--cert", help="server certificate chain (PEM) for mqtts/wss")
    p.add_argument("--key", help="server private key (PEM)")
    p.add_argument("--cafile", help="client CA (PEM): require client certificates (two-way TLS)")
    p.add_argument("--allow-anonymous", action="store_true", help="accept clients without credentials")
    p.add_argument("--data-dir", help="persistence directory (default ./mqttcloud-broker-data)")
    p.add_argument(
        "--admin-port", type=int, default=0, help="admin channel port on 127.0.0.1 (0 = ephemeral)"
    )
    p.add_argument("--admin-token", help="admin channel token (default: random)")
    p.add_argument("--ready-file", help="where to write the ReadyFile (default DATA_DIR/ready.json)")
    p.add_argument("--broker-id", default="default", help="broker id reported by ping")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    p.add_argument("--log-format", help="text or json (default: $MQTTCLOUD_LOG_FORMAT, else text)")
    p.add_argument("--cluster", help="join the cluster `--broker-id` through NATS (nats://HOST:PORT)")
    p.add_argument("--node-name", help="this node's name in the cluster (unique; default: random)")
    p.add_argument(
        "--node-timeout", type=float, default=10.0, help="seconds of silence before a node is dropped"
    )
    return p


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # noqa: PLC0415  (optional: absent on some platforms)
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def run(spec: contracts.BrokerSpec) -> int:
    """Start the broker for `spec`, serve until SIGTERM/SIGINT, shut down. Returns the exit code."""
    from mqttcloud.runtime.server import BrokerServer  # noqa: PLC0415  (keep `--help` light)

    try:
        server = BrokerServer(spec)
    except OSError as exc:
        log.error("cannot open the data directory %s: %s", spec.data_dir, exc)
        return 1
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.request_stop)
    try:
        await server.start()
    except (OSError, ValueError) as exc:
        log.error("cannot start: %s", exc)
        await server.shutdown()
        return 1
    _settle_heap()
    log.info("broker %s ready (pid file %s)", spec.broker_id, spec.ready_file)
    await server.serve()
    log.info("broker %s stopped", spec.broker_id)
    return 0


def _settle_heap() -> None:
    """Started: move what startup allocated (modules, schemas, restored sessions) out of the cyclic
    GC's way (`gc.freeze`), and collect young objects less often (`GC_YOUNG_THRESHOLD`)."""
    gc.collect()
    gc.freeze()
    _young, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def main(argv: Sequence[str], core: CoreStatus | None = None) -> int:
    """Run `mqttcloud broker`; `core` is what `compiled.install` chose before the core was imported."""
    parser = build_parser()
    ns = parser.parse_args(list(argv))
    try:
        fmt = logs.parse_format(ns.log_format or os.environ.get(LOG_FORMAT_ENV) or "text")
    except ValueError as exc:
        sys.stderr.write(f"mqttcloud broker: {exc}\n")
        return 2
    logs.setup(getattr(logging, str(ns.log_level).upper(), logging.INFO), fmt)
    if core is not None:
        log.info("broker core: %s (%s)", core.kind, core.reason)
    try:
        spec = load_spec_file(Path(ns.config)) if ns.config else spec_from_flags(ns)
    except (OSError, ValueError, pydantic.ValidationError, tomllib.TOMLDecodeError, UsageError) as exc:
        sys.stderr.write(f"mqttcloud broker: {exc}\n")
        return 2
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(run(spec))
