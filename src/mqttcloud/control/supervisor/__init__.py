"""Broker supervision: run one broker process per desired `BrokerSpec` and keep it running.

The control plane owns the desired state (the database); it builds one `contracts.BrokerSpec` per broker
and hands the whole set to `Supervisor.set_desired`. The supervisor reconciles: it spawns brokers that are
new, stops brokers that are gone, pushes changed specs to running brokers with the `apply_spec` admin op
(a TLS swap or a user change never restarts the process), health-checks every broker by ping and restarts
crashed ones with exponential backoff, giving up ("failed") after too many crashes.

Usage, from the app lifespan:

    async with Supervisor(run_dir, on_status=..., on_applied=...) as sup:
        await sup.set_desired(specs_from_database)
        ...
        client = sup.client(broker_id)        # BrokerClient | None, for live data
        ready = sup.ready(broker_id)          # contracts.ReadyFile | None, the actual ports

Leaving the block (platform shutdown) stops every broker gracefully. The desired state stays in the
database, so the next `mqttcloud serve` brings the same brokers back.
"""

from mqttcloud.control.supervisor.loop import AppliedCallback, StatusCallback, Supervisor
from mqttcloud.control.supervisor.policy import BrokerStatus, RestartPolicy

__all__ = ["AppliedCallback", "BrokerStatus", "RestartPolicy", "StatusCallback", "Supervisor"]
