"""The console's chart history: sampling interval, one-hour window, rates, counter resets."""

from mqttcloud.control.console.metrics_history import MetricsHistory, Sample


def test_first_point_has_no_rate_and_later_points_do() -> None:
    history = MetricsHistory(window=3600, min_interval=5)
    assert history.record("d1", Sample(at=100.0, connections=2, received=10, sent=20))
    assert history.record("d1", Sample(at=110.0, connections=3, received=60, sent=40))
    first, second = history.points("d1", now=110.0)
    assert (first.connections, first.received_rate, first.sent_rate) == (2, None, None)
    assert (second.connections, second.received_rate, second.sent_rate) == (3, 5.0, 2.0)


def test_samples_closer_than_the_interval_are_dropped() -> None:
    history = MetricsHistory(window=3600, min_interval=5)
    assert history.record("d1", Sample(at=100.0, connections=1, received=0, sent=0))
    assert not history.is_due("d1", 104.9)
    assert not history.record("d1", Sample(at=104.9, connections=9, received=9, sent=9))
    assert [p.connections for p in history.points("d1", now=105.0)] == [1]


def test_points_older_than_the_window_are_left_out_but_give_the_first_rate() -> None:
    history = MetricsHistory(window=60, min_interval=5)
    history.record("d1", Sample(at=0.0, connections=1, received=0, sent=0))
    history.record("d1", Sample(at=50.0, connections=1, received=100, sent=0))
    points = history.points("d1", now=100.0)
    assert [p.at for p in points] == [50.0]
    assert points[0].received_rate == 2.0


def test_old_samples_are_discarded_when_recording() -> None:
    history = MetricsHistory(window=60, min_interval=5)
    for at in range(0, 200, 10):
        history.record("d1", Sample(at=float(at), connections=0, received=at, sent=0))
    assert min(p.at for p in history.points("d1", now=190.0)) >= 130.0
    assert len(history._samples["d1"]) <= 8


def test_counter_reset_gives_no_negative_rate() -> None:
    history = MetricsHistory(window=3600, min_interval=5)
    history.record("d1", Sample(at=0.0, connections=1, received=500, sent=500))
    history.record("d1", Sample(at=10.0, connections=1, received=20, sent=10))
    history.record("d1", Sample(at=20.0, connections=1, received=40, sent=10))
    rates = [p.received_rate for p in history.points("d1", now=20.0)]
    assert rates == [None, None, 2.0]


def test_deployments_are_kept_apart_and_forgotten() -> None:
    history = MetricsHistory()
    history.record("a", Sample(at=0.0, connections=1, received=0, sent=0))
    history.record("b", Sample(at=0.0, connections=7, received=0, sent=0))
    assert [p.connections for p in history.points("b", now=1.0)] == [7]
    history.forget("b")
    assert history.points("b", now=1.0) == []
    assert history.is_due("b", 1.0)
