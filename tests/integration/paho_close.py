"""Closing a paho client so that paho closes its sockets, never the cycle collector.

paho keeps its wake-up socket pair open after `loop_stop` and closes it in `Client.__del__`. A test
wrapper whose callbacks (bound methods, lambdas over `self`) the client holds makes a client ->
callback -> wrapper -> client cycle, left to the cycle collector, which may finalize the sockets
before the client: an unclosed-socket ResourceWarning, an error under `filterwarnings = error`.
Dropping the callbacks on close breaks the cycle: the client goes with its last reference.
"""

import paho.mqtt.client as mqtt


def drop_callbacks(client: mqtt.Client) -> None:
    """Forget every callback a wrapper may have set (after `loop_stop`: none can run any more)."""
    client.on_connect = client.on_disconnect = client.on_message = None
    client.on_subscribe = client.on_unsubscribe = client.on_publish = client.on_log = None


def close(client: mqtt.Client) -> None:
    """DISCONNECT, stop the network loop, drop the callbacks."""
    client.disconnect()
    client.loop_stop()
    drop_callbacks(client)
