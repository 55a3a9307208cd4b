"""The states of one connection's channel. `Channel` (channel.py) owns the transitions; the handlers
read and set these values, so the enum has a module of its own that imports nothing of the broker."""

from enum import Enum


class ChannelState(Enum):
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    CONNECTED = "connected"
    CLOSED = "closed"
