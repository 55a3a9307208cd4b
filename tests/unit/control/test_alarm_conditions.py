"""Pure alarm conditions: NATS reachability (no secret of the URL in the alarm) and the quota threshold."""

from mqttcloud.control.alarms import conditions


def test_nats_that_answers_raises_nothing() -> None:
    assert conditions.nats("nats://127.0.0.1:4222", None) is None


def test_nats_alarm_is_platform_wide_with_url_and_error() -> None:
    raised = conditions.nats("nats://127.0.0.1:4222", "[Errno 111] Connection refused")
    assert raised is not None
    assert raised.key == (None, conditions.NATS_UNREACHABLE)
    assert raised.details == {"url": "nats://127.0.0.1:4222", "error": "[Errno 111] Connection refused"}
    assert "nats://127.0.0.1:4222" in raised.message


def test_nats_alarm_hides_the_credentials_of_the_url() -> None:
    raised = conditions.nats("nats://router:s3cret@nats.internal:4222", "no answer within 2 s")
    assert raised is not None
    assert raised.details["url"] == "nats://***@nats.internal:4222"
    assert "s3cret" not in raised.message
    assert "router" not in raised.message


def test_quota_raises_only_above_the_percentage() -> None:
    assert conditions.quota("d1", "connections", 4, 5, 80.0) is None  # 80%: not above
    raised = conditions.quota("d1", "connections", 5, 5, 80.0)
    assert raised is not None
    assert raised.key == ("d1", "quota_connections")
    assert raised.details == {"used": 5, "limit": 5}
    assert conditions.quota("d1", "connections", 10**6, 0, 80.0) is None  # 0: unlimited
