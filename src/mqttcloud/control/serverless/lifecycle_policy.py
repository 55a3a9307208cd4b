"""The Serverless lifecycle policy (spec §4 item 20), pure: its settings, and what is due for one deployment.

A Serverless deployment with no client connected for `stop_after` is stopped by the system; one the
policy stopped is deleted `delete_after` later. Before each step the owner is warned by an alarm, once
per lead in `warn_before` (7 days, then 1 day before, by default), and while the policy keeps a
deployment stopped a `serverless_idle_stopped` alarm says so. Read from the environment by
`config.Settings.from_env`:

MQTTCLOUD_SERVERLESS_STOP_AFTER   idle time before the stop, e.g. "30d", "12h", "90s" (default 30d); "off"
                                  turns the whole policy off
MQTTCLOUD_SERVERLESS_DELETE_AFTER time a deployment stays stopped by the policy before its deletion (30d)
MQTTCLOUD_SERVERLESS_WARN_BEFORE  leads of the warning alarms before each step, "7d,1d" (default); "off": none

Rules: nothing here reads the clock, the database or a broker (`lifecycle.py` does); a deployment its
owner stopped is never the policy's to delete, and its idle clock does not run while it is stopped.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from mqttcloud.control.alarms.conditions import Condition
from mqttcloud.control.errors import ConfigError

IDLE_STOPPED = "serverless_idle_stopped"
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
DAY = dt.timedelta(days=1)


class Step(StrEnum):
    STOP = "stop"
    DELETE = "delete"


def stop_warning(lead: dt.timedelta) -> str:
    """The alarm name of the warning `lead` before the stop, e.g. `serverless_stop_in_7d`."""
    return f"serverless_stop_in_{format_duration(lead)}"


def delete_warning(lead: dt.timedelta) -> str:
    return f"serverless_delete_in_{format_duration(lead)}"


def format_duration(value: dt.timedelta) -> str:
    """The largest whole unit: 7 days is "7d", 36 hours "36h", 90 seconds "90s"."""
    seconds = round(value.total_seconds())
    for unit, size in _UNITS.items():
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds}s"


def parse_duration(name: str, text: str) -> dt.timedelta:
    """ "30d", "12h", "15m", "20s" or a bare number of days, positive. Raises: ConfigError naming `name`."""
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in _UNITS else "d"
    number = raw[:-1] if raw[-1:] in _UNITS else raw
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        raise ConfigError(f"{name} must be a duration such as 30d, 12h or 90s, not {text!r}") from None
    if not 0 < seconds < 3650 * 86400:
        raise ConfigError(f"{name} must be more than 0 and under 10 years, not {text!r}")
    return dt.timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class LifecycleSettings:
    stop_after: dt.timedelta | None = 30 * DAY  # None: the policy is off
    delete_after: dt.timedelta = 30 * DAY
    warn_before: tuple[dt.timedelta, ...] = (7 * DAY, DAY)  # longest first

    @classmethod
    def from_env(cls, get: Callable[[str], str | None]) -> "LifecycleSettings":
        """Raises: ConfigError naming the variable."""
        default = cls()
        stop_after, delete_after, warn_before = default.stop_after, default.delete_after, default.warn_before
        if (text := get("SERVERLESS_STOP_AFTER")) is not None:
            off = text.strip().lower() == "off"
            stop_after = None if off else parse_duration("MQTTCLOUD_SERVERLESS_STOP_AFTER", text)
        if (text := get("SERVERLESS_DELETE_AFTER")) is not None:
            delete_after = parse_duration("MQTTCLOUD_SERVERLESS_DELETE_AFTER", text)
        if (text := get("SERVERLESS_WARN_BEFORE")) is not None:
            leads = [] if text.strip().lower() == "off" else [i for i in text.split(",") if i.strip()]
            warn_before = tuple(
                sorted(
                    {parse_duration("MQTTCLOUD_SERVERLESS_WARN_BEFORE", item) for item in leads}, reverse=True
                )
            )
        return cls(stop_after=stop_after, delete_after=delete_after, warn_before=warn_before)


@dataclass(frozen=True, slots=True)
class Activity:
    """What the policy knows of one Serverless deployment."""

    deployment_id: str
    running: bool  # its desired state: the owner wants it to run
    last_active_at: dt.datetime  # the last time a client was seen connected (or it was created/started)
    stopped_at: dt.datetime | None  # when the policy stopped it; None: not stopped by the policy


def due(settings: LifecycleSettings, activity: Activity, now: dt.datetime) -> Step | None:
    """The step to take now, if any."""
    if settings.stop_after is None:
        return None
    if activity.running and activity.stopped_at is None:
        return Step.STOP if now - activity.last_active_at >= settings.stop_after else None
    if not activity.running and activity.stopped_at is not None:
        return Step.DELETE if now - activity.stopped_at >= settings.delete_after else None
    return None


def alarms(settings: LifecycleSettings, activity: Activity, now: dt.datetime) -> list[Condition]:
    """The lifecycle alarms that hold now: the nearest warning before the next step, and whether the
    policy keeps the deployment stopped."""
    if settings.stop_after is None:
        return []
    did = activity.deployment_id
    if activity.running and activity.stopped_at is None:
        stop_at = activity.last_active_at + settings.stop_after
        lead = _nearest_lead(settings.warn_before, stop_at - now)
        if lead is None:
            return []
        idle = now - activity.last_active_at
        return [
            Condition(
                did,
                stop_warning(lead),
                f"no client has connected for {format_duration(idle)}: the deployment will be stopped at "
                f"{stop_at:%Y-%m-%d %H:%M:%S} UTC unless a client connects",
                {"stop_at": stop_at.isoformat(), "last_active_at": activity.last_active_at.isoformat()},
            )
        ]
    if activity.running or activity.stopped_at is None:
        return []
    delete_at = activity.stopped_at + settings.delete_after
    found = [
        Condition(
            did,
            IDLE_STOPPED,
            f"stopped at {activity.stopped_at:%Y-%m-%d %H:%M:%S} UTC after "
            f"{format_duration(settings.stop_after)} with no client connected; it will be deleted at "
            f"{delete_at:%Y-%m-%d %H:%M:%S} UTC unless it is started again",
            {"stopped_at": activity.stopped_at.isoformat(), "delete_at": delete_at.isoformat()},
        )
    ]
    lead = _nearest_lead(settings.warn_before, delete_at - now)
    if lead is not None:
        found.append(
            Condition(
                did,
                delete_warning(lead),
                f"the deployment, stopped for lack of clients, will be deleted at "
                f"{delete_at:%Y-%m-%d %H:%M:%S} UTC unless it is started again",
                {"delete_at": delete_at.isoformat()},
            )
        )
    return found


def _nearest_lead(leads: tuple[dt.timedelta, ...], remaining: dt.timedelta) -> dt.timedelta | None:
    """The shortest lead not shorter than `remaining` (the warning that applies now), if any."""
    if remaining <= dt.timedelta(0):
        return None
    fitting = [lead for lead in leads if remaining <= lead]
    return min(fitting) if fitting else None
