"""BrokerServer: the whole data-plane process state: tenants, durable log, listeners, admin channel.

Start: open and replay the durable log, build the tenants (each restored from its records), bind the
listeners and the admin port, then write the `ReadyFile` atomically (tmp + rename). `apply_spec` is
serialized and reconciles tenants, TLS and listeners with a new `BrokerSpec`. Shutdown goes in stages
(uvicorn `Server.shutdown`): stop accepting, let the core send DISCONNECT 0x8B to v5 clients and close
everyone, wait for the connections to go (with a deadline), abort the rest, flush the log.

Rules this module must not break:
- The ReadyFile is written only after every listener and the admin port are bound, and it names the
  actual ports.
- Tenants are created and restored before any listener accepts a connection.
"""

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mqttcloud import contracts
from mqttcloud.compiled import running_core
from mqttcloud.runtime.admin import AdminServer
from mqttcloud.runtime.hub import Hub
from mqttcloud.runtime.listeners import Listeners, shares_ports
from mqttcloud.runtime.loop_lag import LoopLagProbe
from mqttcloud.runtime.store import Entry, Store
from mqttcloud.runtime.tenants import TenantRegistry, TenantRuntime

if TYPE_CHECKING:
    from mqttcloud.runtime.cluster.link import ClusterLink

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 3.0  # seconds for clients to receive DISCONNECT and for transports to close


def write_ready_file(path: str, ready: contracts.ReadyFile) -> None:
    """Write atomically: readers see the old file or the complete new one, never a partial one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(ready.model_dump_json())
    os.replace(tmp, target)


def remove_ready_file(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        Path(path).unlink()


class BrokerServer:
    """One broker process."""

    def __init__(self, spec: contracts.BrokerSpec) -> None:
        self.spec = spec
        self.generation = 0
        self.started_at = time.time()
        self.admin_token = spec.admin.token
        self.hub = Hub()
        self.registry = TenantRegistry()
        self.store = Store.open(Path(spec.data_dir) / "store")
        self.listeners = Listeners(self.hub, self.registry, reuse_port=shares_ports(spec))
        self.admin = AdminServer(self)
        self.cluster: ClusterLink | None = None
        if spec.cluster is not None:
            from mqttcloud.runtime.cluster import link  # noqa: PLC0415  (nats-py only for clusters)

            self.cluster = link.ClusterLink(spec.cluster, spec.node_name, self.registry)
        self.auth_executor = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="auth")
        self._apply_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self.loop_lag: LoopLagProbe | None = None  # with `spec.loop_lag_probe` (`ping` reports it)

    @staticmethod
    def now() -> float:
        return time.time()

    # ------------------------------------------------------------------------------------- start

    async def start(self) -> None:
        replayed: dict[str, list[bytes]] = {}
        for key, payload in self.store.replayed:
            replayed.setdefault(key, []).append(payload)
        self.store.replayed = []
        for tenant_spec in self.spec.tenants:
            tenant = self._new_tenant(tenant_spec)
            count = tenant.restore(replayed.pop(tenant_spec.tenant_id, []))
            if count:
                log.info("tenant %s: restored %d durability records", tenant.tenant_id, count)
        for orphan in replayed:
            log.warning("durable log has records for unknown tenant %s; they are dropped", orphan)
        self.registry.rebuild_sni()
        self.store.snapshot_source = self._snapshot
        if self.cluster is not None:  # routes and the cluster's retained messages before any client
            await self.cluster.start()
        await self.listeners.apply(self.spec.listeners, self.spec.tls)
        await self.admin.start(self.spec.admin.host, self.spec.admin.port)
        for tenant in self.registry.by_id.values():
            tenant.arm_timer()
        if self.spec.loop_lag_probe:
            self.loop_lag = LoopLagProbe(asyncio.get_running_loop())
            self.loop_lag.start()
        self._write_ready()

    def _new_tenant(self, spec: contracts.TenantSpec) -> TenantRuntime:
        tenant = TenantRuntime(
            spec,
            hub=self.hub,
            store=self.store,
            node_name=self.spec.node_name,
            sys_interval=self.spec.sys_interval,
            auth_executor=self.auth_executor,
            event_history=self.spec.event_history,
            trace_dir=Path(self.spec.data_dir) / "trace" / spec.tenant_id,
        )
        self.registry.by_id[spec.tenant_id] = tenant
        if self.cluster is not None:
            self.cluster.attach(tenant)
        return tenant

    def _snapshot(self) -> Iterator[Entry]:
        for tenant in self.registry.by_id.values():
            yield from tenant.snapshot_entries()

    def _write_ready(self) -> None:
        ready = contracts.ReadyFile(
            pid=os.getpid(),
            broker_id=self.spec.broker_id,
            admin=contracts.ListenerAddress(
                name="admin", kind=contracts.ListenerKind.TCP, host=self.spec.admin.host, port=self.admin.port
            ),
            listeners=self.listeners.addresses(),
            spec_generation=self.generation,
            core=running_core(),
        )
        write_ready_file(self.spec.ready_file, ready)

    # -------------------------------------------------------------------------------- admin ops

    def ping(self) -> contracts.PingResult:
        return contracts.PingResult(
            pid=os.getpid(),
            broker_id=self.spec.broker_id,
            uptime=time.time() - self.started_at,
            spec_generation=self.generation,
            tenants=list(self.registry.by_id),
            **self._loop_stalls(),
        )

    def _loop_stalls(self) -> dict[str, float]:
        """The longest event-loop stall since the previous ping, and its CPU part, in ms (loop_lag.py)."""
        if self.loop_lag is None:
            return {}
        wall, cpu = self.loop_lag.take()
        return {"loop_stall_ms": round(wall * 1000, 3), "loop_stall_cpu_ms": round(cpu * 1000, 3)}

    async def apply_spec(
        self, spec: contracts.BrokerSpec, generation: int
    ) -> list[contracts.ListenerAddress]:
        """Reconcile tenants, TLS and listeners with `spec` (see `contracts.ApplySpecArgs`)."""
        async with self._apply_lock:
            wanted = {t.tenant_id: t for t in spec.tenants}
            removed = False
            for tenant_id, tenant in list(self.registry.by_id.items()):
                if tenant_id not in wanted:
                    log.info("tenant %s removed", tenant_id)
                    tenant.shutdown()
                    tenant.cancel_timer()
                    tenant.stop_rules()
                    await tenant.close_retired()
                    if tenant.traces is not None:
                        tenant.traces.close()
                    del self.registry.by_id[tenant_id]
                    removed = True
            if removed:
                # Rewrite the log without the removed tenants' records, so a tenant re-added later
                # starts empty and the data of a deleted deployment does not linger on disk.
                self.store.compact_now()
            for tenant_id, tenant_spec in wanted.items():
                existing = self.registry.by_id.get(tenant_id)
                if existing is None:
                    log.info("tenant %s added", tenant_id)
                    self._new_tenant(tenant_spec).arm_timer()
                else:
                    existing.update(tenant_spec)
                    await existing.close_retired()
            self.registry.rebuild_sni()
            listeners = await self.listeners.apply(spec.listeners, spec.tls)
            self.spec = spec
            self.admin_token = spec.admin.token
            self.generation = generation
            self._write_ready()
            return listeners

    # -------------------------------------------------------------------------------------- run

    def request_stop(self) -> None:
        self._stopping.set()

    async def serve(self) -> None:
        """Run until `request_stop()` (SIGTERM/SIGINT), then shut down in stages."""
        await self._stopping.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        log.info("shutting down: stop accepting, disconnect clients, flush the log")
        self.listeners.stop_accepting()
        if self.loop_lag is not None:
            self.loop_lag.stop()
        for tenant in self.registry.by_id.values():
            try:
                tenant.shutdown()
            except Exception:
                log.exception("tenant %s: shutdown failed", tenant.tenant_id)
            tenant.cancel_timer()
            tenant.stop_rules()
        self.hub.flush()
        if self.hub.connections:
            self.hub.empty.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SHUTDOWN_GRACE):
                    await self.hub.empty.wait()
        for conn in list(self.hub.connections.values()):
            conn.abort()
        await self.listeners.close_all()
        for tenant in self.registry.by_id.values():
            await tenant.close_retired()
            if tenant.traces is not None:
                tenant.traces.close()
        await self.admin.close()
        if self.cluster is not None:
            await self.cluster.close()
        await self.store.close()
        self.auth_executor.shutdown(wait=False, cancel_futures=True)
        remove_ready_file(self.spec.ready_file)
