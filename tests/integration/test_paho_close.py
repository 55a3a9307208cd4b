"""`paho_close`: a closed wrapper's paho client is freed with its last reference, not by the cycle GC."""

import gc
import weakref

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from tests.integration.paho_close import drop_callbacks


class Wrapper:
    def __init__(self) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="w", protocol=mqtt.MQTTv5)
        self.client.on_connect = self._on_connect
        self.seen: list[mqtt.MQTTMessage] = []
        self.client.on_message = lambda _c, _u, message: self.seen.append(message)

    def _on_connect(self, *_args: object) -> None:
        pass


def test_dropping_the_callbacks_frees_the_client_at_once() -> None:
    gc.disable()
    try:
        kept = Wrapper()
        kept_ref = weakref.ref(kept.client)
        del kept
        client = kept_ref()
        assert client is not None  # the cycle: only the collector would free it
        drop_callbacks(client)  # (not left to it here)
        del client
        assert kept_ref() is None
        dropped = Wrapper()
        drop_callbacks(dropped.client)
        dropped_ref = weakref.ref(dropped.client)
        del dropped
        assert dropped_ref() is None  # freed at once; paho's __del__ closed its socket pair
    finally:
        gc.enable()
