"""The platform's event collector takes a broker's client events in small replies (`take_batch`): against
the real broker process, a batch is several calls of at most `take` events, and nothing is lost."""

import contextlib
from collections.abc import Callable
from pathlib import Path

from tests.integration.broker import mqtt_wire as w
from tests.integration.broker.harness import TENANT, TOKEN, BrokerProcess, make_spec

from mqttcloud import contracts
from mqttcloud.control.broker_client import BrokerClient
from mqttcloud.control.events.collector import take_batch


async def test_a_batch_is_taken_in_replies_of_at_most_take_events(
    broker_factory: Callable[[contracts.BrokerSpec], BrokerProcess], tmp_path: Path
) -> None:
    broker = broker_factory(make_spec(tmp_path).model_copy(update={"event_history": 1000}))
    assert broker.ready is not None
    client = BrokerClient("127.0.0.1", broker.ready.admin.port, TOKEN)
    try:
        with contextlib.ExitStack() as stack:
            for n in range(30):  # 30 client.connected events
                stack.enter_context(w.connected(broker.port(), f"batch-{n:02d}"))
            first = await take_batch(client, TENANT, wait=1.0, take=10, max_batch=25)
            assert (len(first.events), first.replies, first.drained) == (25, 3, False)  # 10 + 10 + 5
            rest = await take_batch(client, TENANT, wait=1.0, take=10, max_batch=25)
            assert (len(rest.events), rest.replies, rest.drained) == (5, 1, True)
            ids = [event.clientid for event in (*first.events, *rest.events)]
            assert ids == [f"batch-{n:02d}" for n in range(30)]  # in order, none lost or repeated
            assert {event.event for event in (*first.events, *rest.events)} == {"client.connected"}
            assert first.shed == rest.shed == 0
    finally:
        await client.close()
