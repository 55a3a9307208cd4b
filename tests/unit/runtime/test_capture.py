"""Message capture for control-plane consumers (`runtime/capture.py`) and the core's tap hook, no sockets."""

import asyncio
import base64

import pytest

from mqttcloud import contracts
from mqttcloud.broker.core import Broker
from mqttcloud.broker.message import Message
from mqttcloud.protocol.errors import ProtocolError
from mqttcloud.runtime.capture import TenantTap

TENANT = contracts.TenantId("t1")


def args(filters: list[str], **kw: int) -> contracts.CaptureArgs:
    return contracts.CaptureArgs(tenant=TENANT, consumer="shadows", filters=filters, **kw)


def message(topic: str, payload: bytes = b"x") -> Message:
    return Message(b"\0" * 16, topic, payload, 1, False, "dev", 1_000.0)


async def test_only_matching_topics_are_queued_in_order() -> None:
    tap = TenantTap()
    capture = tap.capture(args(["shadow/+"]))
    for topic in ("shadow/a", "shadow/a/reply", "other", "shadow/b"):
        tap.offer(message(topic, topic.encode()))
    batch = capture.take(10)
    assert [m.topic for m in batch.messages] == ["shadow/a", "shadow/b"]
    assert base64.b64decode(batch.messages[1].payload_b64) == b"shadow/b"
    assert batch.messages[0].clientid == "dev"
    assert batch.dropped == 0
    assert capture.take(10).messages == []
    assert not capture.ready.is_set()


async def test_a_full_queue_drops_the_oldest_and_counts_it() -> None:
    tap = TenantTap()
    capture = tap.capture(args(["t/#"], max_queued=3))
    for i in range(5):
        tap.offer(message(f"t/{i}"))
    batch = capture.take(10)
    assert [m.topic for m in batch.messages] == ["t/2", "t/3", "t/4"]
    assert batch.dropped == 2
    assert capture.take(10).dropped == 0  # counted once
    bytes_bound = tap.capture(args(["t/#"], max_queued_bytes=10))
    for i in range(4):
        tap.offer(message(f"t/{i}", b"12345"))
    assert [m.topic for m in bytes_bound.take(10).messages] == ["t/2", "t/3"]


async def test_new_filters_keep_what_is_queued_and_apply_at_once() -> None:
    tap = TenantTap()
    tap.capture(args(["a/+"]))
    tap.offer(message("a/1"))
    tap.offer(message("b/1"))  # cached as "nobody wants it" under the old filters
    capture = tap.capture(args(["b/+"]))
    tap.offer(message("a/2"))
    tap.offer(message("b/1"))
    assert [m.topic for m in capture.take(10).messages] == ["a/1", "b/1"]


def test_an_invalid_filter_is_refused() -> None:
    with pytest.raises(ProtocolError):
        TenantTap().capture(args(["a/#/b"]))


async def test_a_waiting_consumer_wakes_on_the_first_message() -> None:
    tap = TenantTap()
    capture = tap.capture(args(["s/+"]))
    waiter = asyncio.create_task(capture.ready.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    tap.offer(message("s/1"))
    await asyncio.wait_for(waiter, 1)


def test_the_core_offers_every_routed_message_to_its_tap() -> None:
    """API publishes go through `routing.route` like client PUBLISHes, so the tap sees both."""
    spec = contracts.TenantSpec(tenant_id=TENANT, allow_anonymous=True)
    broker = Broker(spec, node_name="n1", now=1_000.0)
    tap = TenantTap()
    capture = tap.capture(args(["shadow/+"]))
    broker.tap = tap
    publish = contracts.PublishArgs(
        tenant=TENANT, topic="shadow/x", payload_b64=base64.b64encode(b"{}").decode()
    )
    broker.publish_api(publish, 1_000.0)  # no subscriber: still captured
    broker.tap = None
    broker.publish_api(publish, 1_001.0)
    batch = capture.take(10)
    assert [(m.topic, m.clientid) for m in batch.messages] == [("shadow/x", None)]
