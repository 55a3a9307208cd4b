"""The Serverless lifecycle policy, pure: when a stop or a deletion is due and which warning holds."""

import datetime as dt

import pytest

from mqttcloud.control.config import Settings
from mqttcloud.control.errors import ConfigError
from mqttcloud.control.serverless.lifecycle_policy import (
    IDLE_STOPPED,
    Activity,
    LifecycleSettings,
    Step,
    alarms,
    due,
    format_duration,
    parse_duration,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
DEFAULT = LifecycleSettings()


def running(idle_days: float) -> tuple[Activity, dt.datetime]:
    return Activity("d1", True, T0, None), T0 + idle_days * DAY


def stopped_for(days: float) -> tuple[Activity, dt.datetime]:
    return Activity("d1", False, T0 - 30 * DAY, T0), T0 + days * DAY


def names(activity: Activity, now: dt.datetime, settings: LifecycleSettings = DEFAULT) -> list[str]:
    return [c.name for c in alarms(settings, activity, now)]


def test_an_idle_deployment_is_stopped_after_30_days_not_before() -> None:
    assert due(DEFAULT, *running(29.99)) is None
    assert due(DEFAULT, *running(30)) is Step.STOP


def test_warnings_7_days_then_1_day_before_the_stop() -> None:
    assert names(*running(22.9)) == []
    assert names(*running(23)) == ["serverless_stop_in_7d"]
    assert names(*running(28.9)) == ["serverless_stop_in_7d"]
    assert names(*running(29.5)) == ["serverless_stop_in_1d"]
    (warning,) = alarms(DEFAULT, *running(29.5))
    assert warning.deployment_id == "d1"
    assert "2026-01-31 00:00:00 UTC" in warning.message


def test_a_deployment_stopped_by_the_policy_is_deleted_30_days_later() -> None:
    assert due(DEFAULT, *stopped_for(29.99)) is None
    assert due(DEFAULT, *stopped_for(30)) is Step.DELETE
    assert names(*stopped_for(1)) == [IDLE_STOPPED]
    assert names(*stopped_for(25)) == [IDLE_STOPPED, "serverless_delete_in_7d"]
    assert names(*stopped_for(29.2)) == [IDLE_STOPPED, "serverless_delete_in_1d"]


def test_a_deployment_its_owner_stopped_is_left_alone() -> None:
    owner_stopped = Activity("d1", False, T0, None)
    assert due(DEFAULT, owner_stopped, T0 + 400 * DAY) is None
    assert alarms(DEFAULT, owner_stopped, T0 + 400 * DAY) == []


def test_off_does_nothing() -> None:
    off = LifecycleSettings(stop_after=None)
    assert due(off, *running(1000)) is None
    assert due(off, *stopped_for(1000)) is None
    assert alarms(off, *running(29.5)) == []


def test_settings_from_the_environment() -> None:
    env = {
        "MQTTCLOUD_SERVERLESS_STOP_AFTER": "90s",
        "MQTTCLOUD_SERVERLESS_DELETE_AFTER": "2h",
        "MQTTCLOUD_SERVERLESS_WARN_BEFORE": "30s, 1m,30s",
    }
    lifecycle = Settings.from_env(env).serverless_lifecycle
    assert lifecycle.stop_after == dt.timedelta(seconds=90)
    assert lifecycle.delete_after == dt.timedelta(hours=2)
    assert lifecycle.warn_before == (dt.timedelta(minutes=1), dt.timedelta(seconds=30))
    assert Settings.from_env({}).serverless_lifecycle == DEFAULT
    off = Settings.from_env(
        {"MQTTCLOUD_SERVERLESS_STOP_AFTER": "off", "MQTTCLOUD_SERVERLESS_WARN_BEFORE": "off"}
    )
    assert off.serverless_lifecycle.stop_after is None
    assert off.serverless_lifecycle.warn_before == ()


@pytest.mark.parametrize("value", ["soon", "-1d", "0", "7w", "off"])
def test_a_bad_duration_names_its_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="MQTTCLOUD_SERVERLESS_DELETE_AFTER"):
        Settings.from_env({"MQTTCLOUD_SERVERLESS_DELETE_AFTER": value})


def test_durations_read_back_in_their_largest_unit() -> None:
    assert parse_duration("X", "30") == 30 * DAY
    assert [format_duration(d) for d in (7 * DAY, dt.timedelta(hours=36), dt.timedelta(seconds=90))] == [
        "7d",
        "36h",
        "90s",
    ]
