"""Broker: one tenant's sessions, subscriptions, retained messages and routing (sans-I/O).

SKELETON: public signatures for the runtime (P4); bodies land in the following commits.
"""

from collections.abc import Iterable

from mqttcloud import contracts
from mqttcloud.broker.actions import Action, ChannelId
from mqttcloud.broker.channel import Channel
from mqttcloud.broker.durability import Record
from mqttcloud.broker.hooks import Authorizer, ConnectDecision, PeerInfo


class Broker:
    """All MQTT state of one tenant. The runtime holds one per tenant and drives it with `now` values.

    Time: `now` is Unix epoch seconds (`time.time()`), so persisted expiry survives restart.

    Runtime loop, per connection: `ch = broker.open_channel(id, peer, now)`; frame bytes with
    `limits.max_packet_size`, decode with `ch.protocol_version`, call `ch.handle(packet, now)`; on
    `MalformedPacket`/`ProtocolError` call `ch.fail(error, now)`; when the peer goes away call
    `broker.channel_closed(id, now)`; arm a timer at `ch.next_deadline()` and call `ch.tick(now)`.
    Per broker: arm a timer at `broker.next_deadline()` and call `broker.tick(now)`.
    """

    def __init__(
        self,
        spec: contracts.TenantSpec,
        *,
        node_name: str,
        now: float,
        authorizer: Authorizer | None = None,
        sys_interval: float = 0.0,
    ) -> None:
        raise NotImplementedError

    def update_spec(self, spec: contracts.TenantSpec, now: float) -> list[Action]:
        """Apply new limits / enabled flag; a disabled tenant disconnects everyone (v5: 0x8B)."""
        raise NotImplementedError

    def set_authorizer(self, authorizer: Authorizer) -> None:
        raise NotImplementedError

    def open_channel(self, channel_id: ChannelId, peer: PeerInfo, now: float) -> Channel:
        """A transport was accepted; the channel waits for CONNECT until `connect_timeout`."""
        raise NotImplementedError

    def channel(self, channel_id: ChannelId) -> Channel | None:
        raise NotImplementedError

    def connect_decided(self, channel_id: ChannelId, decision: ConnectDecision, now: float) -> list[Action]:
        """The answer to an `Authenticate` action: CONNACK, session takeover/resume, queued deliveries."""
        raise NotImplementedError

    def channel_closed(self, channel_id: ChannelId, now: float) -> list[Action]:
        """The transport closed without the core asking (peer close, I/O error): will, session expiry."""
        raise NotImplementedError

    def next_deadline(self) -> float | None:
        """Earliest broker-level deadline: will delay, session expiry, $SYS publish."""
        raise NotImplementedError

    def tick(self, now: float) -> list[Action]:
        raise NotImplementedError

    def shutdown(self, now: float) -> list[Action]:
        """DISCONNECT 0x8B to v5 clients, close everyone; sessions stay (they are persisted)."""
        raise NotImplementedError

    def restore(self, records: Iterable[Record], now: float) -> None:
        """Rebuild retained messages and persistent sessions from the durable log, in order."""
        raise NotImplementedError

    def snapshot(self) -> list[Record]:
        """The records that recreate the current durable state (for log compaction)."""
        raise NotImplementedError

    # --- admin queries --------------------------------------------------------------------------

    def client_infos(self, filter: contracts.ClientFilter, page: int, limit: int) -> contracts.ClientList:
        raise NotImplementedError

    def client_info(self, clientid: str) -> contracts.ClientInfo | None:
        raise NotImplementedError

    def subscriptions(
        self, filter: contracts.SubscriptionFilter, page: int, limit: int
    ) -> contracts.SubscriptionList:
        raise NotImplementedError

    def client_subscriptions(self, clientid: str) -> list[contracts.SubscriptionInfo] | None:
        raise NotImplementedError

    def subscribe_on_behalf(
        self, args: contracts.SubscribeArgs, now: float
    ) -> tuple[contracts.SubscriptionInfo | None, list[Action]]:
        """None when the client has no session. Raises ValueError for an invalid filter."""
        raise NotImplementedError

    def unsubscribe_on_behalf(self, args: contracts.UnsubscribeArgs, now: float) -> tuple[bool, list[Action]]:
        raise NotImplementedError

    def kick(self, clientid: str, now: float) -> tuple[bool, list[Action]]:
        """DISCONNECT 0x98 (v5) and close; the session is discarded, as EMQX's kickout does."""
        raise NotImplementedError

    def publish_api(self, args: contracts.PublishArgs, now: float) -> tuple[str, int, list[Action]]:
        """(message id hex32, matched subscriptions, actions). Raises ValueError for a bad topic."""
        raise NotImplementedError

    def stats(self) -> contracts.TenantStats:
        raise NotImplementedError

    def metrics(self) -> contracts.TenantMetrics:
        raise NotImplementedError
