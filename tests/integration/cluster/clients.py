"""paho-mqtt clients for cluster tests: network loop in a thread, messages and disconnects recorded."""

import queue
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from tests.integration.paho_close import drop_callbacks


class Paho:
    def __init__(
        self, port: int, client_id: str, *, version: int = 5, clean: bool = True, expiry: int = 0,
        will: tuple[str, bytes, int] | None = None, will_delay: int = 0,
    ) -> None:  # fmt: skip
        """`clean`: clean start (v5) / clean session (v3.1.1); `expiry`: v5 Session Expiry Interval;
        `will_delay`: v5 Will Delay Interval."""
        protocol = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
        kw = {} if version == 5 else {"clean_session": clean}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **kw)  # type: ignore[arg-type]  # paho's overloads
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.disconnects: list[int] = []
        self.connected = threading.Event()
        self.gone = threading.Event()
        self.session_present: bool | None = None
        self.client.on_message = lambda _c, _u, m: self.messages.put(m)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        if will is not None:
            will_props = None
            if will_delay:
                will_props = Properties(PacketTypes.WILLMESSAGE)  # type: ignore[no-untyped-call]  # paho: no annotation
                will_props.WillDelayInterval = will_delay
            self.client.will_set(will[0], will[1], will[2], properties=will_props)
        if version == 5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho: no annotation
            if expiry:
                props.SessionExpiryInterval = expiry
            self.client.connect("127.0.0.1", port, keepalive=30, clean_start=clean, properties=props)
        else:
            self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        assert self.connected.wait(10), f"{client_id}: no CONNACK"

    def _on_connect(
        self, _c: mqtt.Client, _u: object, flags: ConnectFlags, _rc: ReasonCode, _p: object
    ) -> None:
        self.session_present = flags.session_present
        self.connected.set()

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: Properties | None
    ) -> None:
        self.disconnects.append(rc.value)
        self.gone.set()

    def subscribe(self, topic_filter: str, qos: int = 0) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_a: done.set()
        self.client.subscribe(topic_filter, qos)
        assert done.wait(10), "no SUBACK"

    def publish(self, topic: str, payload: bytes = b"x", qos: int = 0, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos, retain)
        if qos:
            info.wait_for_publish(10)

    def take(self, timeout: float = 5.0) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout)

    def drain(self, settle: float = 1.0) -> list[mqtt.MQTTMessage]:
        """Everything received until nothing arrives for `settle` seconds."""
        got: list[mqtt.MQTTMessage] = []
        while True:
            try:
                got.append(self.messages.get(timeout=settle))
            except queue.Empty:
                return got

    def close(self, *, with_will: bool = False) -> None:
        """DISCONNECT (0x04 with `with_will`: the server is to publish the will) and stop the loop."""
        if with_will:
            self.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=4))
        else:
            self.client.disconnect()
        self.client.loop_stop()
        drop_callbacks(self.client)


def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_routed(pub: Paho, subs: list[Paho], topic: str, timeout: float = 10.0) -> None:
    """Publish probes on `topic` until every subscriber got one (routes have spread), then drain all."""
    deadline = time.monotonic() + timeout
    waiting = list(subs)
    while waiting and time.monotonic() < deadline:
        pub.publish(topic, b"probe")
        time.sleep(0.1)
        waiting = [s for s in waiting if s.messages.empty()]
    if waiting:
        raise AssertionError(f"no route for {topic}")
    for s in subs:
        s.drain(0.5)
