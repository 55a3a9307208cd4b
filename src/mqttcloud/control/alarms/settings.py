"""Alarm thresholds and the webhook, read from `MQTTCLOUD_ALARM_*` by `config.Settings.from_env`.

MQTTCLOUD_ALARM_WEBHOOK          URL every raised and cleared alarm is POSTed to (JSON); unset: none
MQTTCLOUD_ALARM_INTERVAL         seconds between two checks (default 30)
MQTTCLOUD_ALARM_CERT_DAYS        a certificate expiring within this many days raises (default 30)
MQTTCLOUD_ALARM_BROKER_MEMORY_MB a broker process using more memory (RSS) raises (default 1024)
MQTTCLOUD_ALARM_QUOTA_PERCENT    a quota used above this percentage raises (default 80)
"""

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from mqttcloud.control.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmSettings:
    webhook: str | None = None
    interval: float = 30.0
    cert_days: int = 30
    broker_memory_mb: int = 1024
    quota_percent: float = 80.0
    restart_loop: int = 3  # restarts within `restart_window` seconds that make a restart loop
    restart_window: float = 300.0

    @classmethod
    def from_env(cls, get: Callable[[str], str | None]) -> "AlarmSettings":
        """Raises: ConfigError naming the variable."""
        values: dict[str, object] = {}
        if (url := get("ALARM_WEBHOOK")) is not None:
            if urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).netloc:
                raise ConfigError(f"MQTTCLOUD_ALARM_WEBHOOK must be an http(s) URL, not {url!r}")
            values["webhook"] = url
        for name, key, low in (
            ("ALARM_INTERVAL", "interval", 0.1),
            ("ALARM_CERT_DAYS", "cert_days", 0),
            ("ALARM_BROKER_MEMORY_MB", "broker_memory_mb", 1),
            ("ALARM_QUOTA_PERCENT", "quota_percent", 1),
        ):
            if (text := get(name)) is not None:
                try:
                    number = float(text)
                except ValueError:
                    raise ConfigError(f"MQTTCLOUD_{name} must be a number, not {text!r}") from None
                if number < low:
                    raise ConfigError(f"MQTTCLOUD_{name} must be at least {low}, not {text!r}")
                values[key] = number if key in {"interval", "quota_percent"} else int(number)
        return cls(**values)  # type: ignore[arg-type]  # keys are this class's fields, typed above
