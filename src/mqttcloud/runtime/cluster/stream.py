"""Reading the cluster's offline stream: the frames a tenant's offline sessions were sent, after a checkpoint.

`SessionRegistry` (sessions.py) writes the stream and keeps each session's checkpoint; this module only
reads it, with a throw-away pull consumer per read (no acks, gone after `inactive_threshold`), in
batches of REPLAY_BATCH, and returns the frames with their stream sequences in stream order.
"""

import contextlib

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.js import api

#: Messages fetched per pull while replaying the offline stream.
REPLAY_BATCH = 256


async def read_offline(
    nc: NatsClient, stream: str, subject: str, checkpoint: int
) -> tuple[list[tuple[int, bytes]], int]:
    """Every frame stored on `subject` after `checkpoint` with its sequence, and the last one read."""
    js = nc.jetstream()
    config = api.ConsumerConfig(
        deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=checkpoint + 1,
        ack_policy=api.AckPolicy.NONE, inactive_threshold=30.0,
    )  # fmt: skip
    sub = await js.pull_subscribe(subject, stream=stream, config=config)
    frames: list[tuple[int, bytes]] = []
    last = checkpoint
    try:
        pending = (await sub.consumer_info()).num_pending or 0
        while len(frames) < pending:
            for m in await sub.fetch(min(REPLAY_BATCH, pending - len(frames)), timeout=5.0):
                seq = m.metadata.sequence.stream
                frames.append((seq, m.data))
                last = max(last, seq)
    finally:
        with contextlib.suppress(nats.errors.Error):
            await sub.unsubscribe()
    return frames, last
