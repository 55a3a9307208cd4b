"""Monitoring readings: rates from counters, counter resets, gaps, tiers and the step of a range."""

import pytest

from mqttcloud.control.monitoring.series import (
    DAY,
    WEEK,
    Reading,
    Tier,
    bucket,
    point,
    step_for,
    tiers,
)


def reading(at: float, received: int, *, connections: int = 1) -> Reading:
    return Reading.from_broker(
        at,
        {"live_connections.count": connections, "sessions.count": connections + 1},
        {"messages.received": received, "bytes.received": received * 10},
    )


def test_broker_names_become_point_names_and_missing_ones_read_zero() -> None:
    r = reading(10.0, 5, connections=3)
    assert r.gauges == {"connections": 3, "sessions": 4, "subscriptions": 0, "retained": 0}
    assert r.counters["received"] == 5
    assert r.counters["bytes_received"] == 50
    assert r.counters["sent"] == 0


def test_first_reading_has_gauges_and_no_rates() -> None:
    p = point("d1", None, reading(10.0, 5), max_gap=25.0)
    assert p.gauges["connections"] == 1.0
    assert p.rates is None


def test_rate_is_the_increase_over_the_time_between_readings() -> None:
    p = point("d1", reading(10.0, 5), reading(20.0, 45), max_gap=25.0)
    assert p.rates is not None
    assert p.rates["received"] == 4.0
    assert p.rates["bytes_received"] == 40.0
    assert p.rates["sent"] == 0.0


def test_counter_reset_counts_from_zero_and_is_never_negative() -> None:
    """A broker restart starts its counters again: the new value is the increase since the restart."""
    p = point("d1", reading(10.0, 1000), reading(20.0, 30), max_gap=25.0)
    assert p.rates is not None
    assert p.rates["received"] == 3.0
    assert all(rate >= 0 for rate in p.rates.values())


def test_readings_across_a_gap_give_no_rate() -> None:
    assert point("d1", reading(10.0, 5), reading(40.0, 50), max_gap=25.0).rates is None


def test_a_reading_not_after_the_previous_one_gives_no_rate() -> None:
    assert point("d1", reading(10.0, 5), reading(10.0, 50), max_gap=25.0).rates is None


def test_tiers_keep_a_day_a_week_and_ninety_days() -> None:
    assert tiers(10) == (Tier(10, DAY), Tier(60, WEEK), Tier(600, 90 * DAY))


def test_a_one_minute_interval_merges_with_the_minute_tier() -> None:
    assert tiers(60) == (Tier(60, WEEK), Tier(600, 90 * DAY))


@pytest.mark.parametrize(
    ("at", "step", "start"),
    [(0.0, 10, 0), (9.99, 10, 0), (10.0, 10, 10), (119.0, 60, 60), (1234.5, 600, 1200)],
)
def test_bucket_is_the_start_of_the_period(at: float, step: int, start: int) -> None:
    assert bucket(at, step) == start


@pytest.mark.parametrize(
    ("span", "step"), [(3600, 10), (6 * 3600, 10), (DAY, 60), (WEEK, 60), (WEEK + 1, 600), (90 * DAY, 600)]
)
def test_a_range_shows_one_tier(span: int, step: int) -> None:
    assert step_for(span, 10) == step
