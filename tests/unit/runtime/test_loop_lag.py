"""The event-loop stall probe (`runtime/loop_lag.py`) on a real asyncio loop."""

import asyncio
import time

from mqttcloud.runtime.loop_lag import LoopLagProbe


async def test_a_blocking_callback_is_the_windows_longest_stall_and_take_starts_a_new_window() -> None:
    probe = LoopLagProbe(asyncio.get_running_loop(), interval=0.005)
    probe.start()
    try:
        await asyncio.sleep(0.03)
        assert probe.take()[0] < 0.1  # an idle loop runs its timers about on time
        # The loop is held but uses no CPU: the tick due meanwhile runs ~0.12 s late.
        time.sleep(0.12)  # noqa: ASYNC251  (the point: hold the loop)
        await asyncio.sleep(0.02)
        late, cpu = probe.take()
        assert 0.11 <= late < 0.5
        assert cpu < 0.05
        spin_until = time.thread_time() + 0.12  # held by its own work: 0.12 s of CPU
        while time.thread_time() < spin_until:
            pass
        await asyncio.sleep(0.02)
        late, cpu = probe.take()
        assert 0.11 <= late < 5.0  # the box's other load may keep the spinning thread off a CPU
        assert 0.1 <= cpu <= late + 0.01
        await asyncio.sleep(0.03)
        assert probe.take()[0] < 0.1
    finally:
        probe.stop()


async def test_stop_cancels_the_timer() -> None:
    probe = LoopLagProbe(asyncio.get_running_loop(), interval=0.005)
    probe.start()
    probe.stop()
    time.sleep(0.05)  # noqa: ASYNC251  (the point: hold the loop)
    await asyncio.sleep(0.02)
    assert probe.take() == (0.0, 0.0)
