"""Channel: one connection's explicit state machine (sans-I/O).

SKELETON: public signatures for the runtime (P4); bodies land in the following commits.
"""

from enum import Enum

from mqttcloud.broker.actions import Action, ChannelId
from mqttcloud.broker.hooks import PeerInfo
from mqttcloud.protocol.errors import MQTTError


class ChannelState(Enum):
    CONNECTING = "connecting"  # waiting for CONNECT
    AUTHENTICATING = "authenticating"  # Authenticate emitted, waiting for connect_decided
    CONNECTED = "connected"
    CLOSED = "closed"


class Channel:
    channel_id: ChannelId
    peer: PeerInfo
    state: ChannelState

    @property
    def protocol_version(self) -> int:
        """4 (3.1.1) or 5 once CONNECT was handled; decode later packets with it."""
        raise NotImplementedError

    def handle(self, packet: object, now: float) -> list[Action]:
        """Apply one decoded inbound packet and return what the runtime must do."""
        raise NotImplementedError

    def fail(self, error: MQTTError, now: float) -> list[Action]:
        """Turn a decode/protocol error into the wire answer (CONNACK / DISCONNECT / close) + will."""
        raise NotImplementedError

    def next_deadline(self) -> float | None:
        """CONNECT timeout, keep-alive x1.5, or QoS 1/2 retry, whichever comes first."""
        raise NotImplementedError

    def tick(self, now: float) -> list[Action]:
        raise NotImplementedError

    def bytes_received(self, n: int) -> None:
        """The runtime read `n` bytes from this channel's transport (recv_oct)."""
        raise NotImplementedError

    def bytes_sent(self, n: int) -> None:
        raise NotImplementedError
