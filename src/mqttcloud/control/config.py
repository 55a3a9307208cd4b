"""Settings of the control plane: the only place environment variables are read.

Rule: no other module calls `os.environ`; everything else receives a `Settings`. Command-line options win
over environment variables, which win over the defaults (`Settings.from_env(**overrides)`).

Environment variables:
    MQTTCLOUD_DATA_DIR             data folder (default ./mqttcloud-data)
    MQTTCLOUD_DATABASE_URL         SQLAlchemy URL; default sqlite:///<data-dir>/mqttcloud.db
    MQTTCLOUD_ROOT_PASSWORD        root password used when the root account is first created
    MQTTCLOUD_HOST / _PORT         where `mqttcloud serve` listens (default 127.0.0.1:8443)
    MQTTCLOUD_PUBLIC_HOST          host name shown in deployment endpoints (default: the broker host)
    MQTTCLOUD_BROKER_HOST          interface the broker listeners bind (default 127.0.0.1)
    MQTTCLOUD_BROKER_PORTS         broker port range "LOW-HIGH" (default 21000-21999)
    MQTTCLOUD_RATE_LIMIT_PROFILE   "default", "emqx" or "off"
    MQTTCLOUD_RATE_LIMITS          per-rule overrides, "rule=COUNT/SECONDS,..." (see control/ratelimit.py)
    MQTTCLOUD_SERVERLESS_DOMAIN    parent domain of Serverless host names (default serverless.localhost)
    MQTTCLOUD_SERVERLESS_LIMITS    Serverless plan quotas over the §1.10 defaults, "field=value,..."
                                   (fields of contracts.Limits; see control/serverless/plans.py)
    MQTTCLOUD_TRUSTED_PROXIES      proxies whose X-Forwarded-For is believed, "IP or CIDR,..." (default
                                   none: the TCP peer is the client; see console/security.py)
    MQTTCLOUD_AUDIT_LOG            "on" (default) or "off": record writes in the audit log (control/audit/)
    MQTTCLOUD_AUDIT_RETENTION_DAYS days audit log entries are kept (default 90)
    MQTTCLOUD_NATS_URL             nats://HOST:PORT of the NATS server (or cluster) that joins the nodes of
                                   multi-node deployments; unset: `serve` runs a local nats-server when
                                   a deployment has more than one node (control/supervisor/nats.py)
    MQTTCLOUD_NATS_PORT            client port of that local nats-server on 127.0.0.1 (default 4222)
    MQTTCLOUD_NATS_SERVER          the nats-server program, a name on PATH or a path (default nats-server)
    MQTTCLOUD_EVENT_HISTORY        "on" (default) or "off": record client events (control/events/)
    MQTTCLOUD_EVENT_HISTORY_RETENTION_DAYS  days client events are kept (default 3)
    MQTTCLOUD_EVENT_HISTORY_MAX_EVENTS      client events kept per deployment, oldest go first (100000)
    MQTTCLOUD_ALARM_*              alarm webhook and thresholds (see control/alarms/settings.py)
    MQTTCLOUD_SERVERLESS_STOP_AFTER, _DELETE_AFTER, _WARN_BEFORE  the Serverless lifecycle: idle time
                                   before the stop (30d), stopped time before the deletion (30d), leads
                                   of the warning alarms (7d,1d) (see control/serverless/lifecycle_policy.py)
    MQTTCLOUD_LOG_FORMAT           "text" (default) or "json": one JSON object per log line, for `serve` and
                                   the brokers it starts (mqttcloud/logs.py)
    MQTTCLOUD_MONITOR_INTERVAL     seconds between two samples of every running deployment's stats and
                                   metrics, 1-60 (default 10; see control/monitoring/)
"""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from mqttcloud import logs
from mqttcloud.control.alarms.settings import AlarmSettings
from mqttcloud.control.errors import ConfigError
from mqttcloud.control.serverless.lifecycle_policy import LifecycleSettings
from mqttcloud.control.serverless.plans import parse_limit_overrides

_ENV_PREFIX = "MQTTCLOUD_"
RATE_LIMIT_PROFILES = ("default", "emqx", "off")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the control plane needs to know about its environment."""

    data_dir: Path = Path("mqttcloud-data")
    database_url: str | None = None  # None: SQLite at <data_dir>/mqttcloud.db
    root_password: str | None = None
    host: str = "127.0.0.1"
    port: int = 8443
    use_tls: bool = True  # False with --http (behind a TLS-terminating proxy)
    public_host: str | None = None
    broker_host: str = "127.0.0.1"
    broker_port_low: int = 21000
    broker_port_high: int = 21999
    rate_limit_profile: str = "default"
    rate_limit_overrides: Mapping[str, str] = field(default_factory=dict)
    serverless_domain: str = "serverless.localhost"
    serverless_limits: Mapping[str, str] = field(default_factory=dict)  # plan quota overrides (P9)
    key_cache_seconds: float = 5.0  # how long a verified platform key is trusted without a DB read
    last_used_interval: float = 60.0  # at most one `last_used_at` write per key per interval
    start_brokers: bool = True  # False: keep desired state in the DB but spawn nothing (tests, db tools)
    secret_key: str | None = field(default=None, repr=False)  # None: <data_dir>/secret.key (at_rest.py)
    trusted_proxies: tuple[IPNetwork, ...] = ()  # whose X-Forwarded-For names the client (sign-in throttle)
    audit_log: bool = True  # record every write in the audit log
    audit_retention_days: int = 90
    nats_url: str | None = None  # None: a local nats-server, started when a deployment has nodes > 1
    nats_port: int = 4222  # the local nats-server's client port (127.0.0.1)
    nats_server: str = "nats-server"
    event_history: bool = True  # record client events (brokers buffer them, the platform stores them)
    event_history_retention_days: int = 3
    event_history_max_events: int = 100_000  # per deployment
    alarms: AlarmSettings = field(default_factory=AlarmSettings)  # MQTTCLOUD_ALARM_* (alarms/settings.py)
    serverless_lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
    monitor_interval: int = 10  # seconds between two monitoring samples (control/monitoring/sampler.py)
    log_format: logs.LogFormat = "text"  # serve's and its brokers' log lines (logs.py)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'mqttcloud.db').resolve()}"

    @property
    def advertised_host(self) -> str:
        """The host name clients are told to connect to."""
        if self.public_host:
            return self.public_host
        return "127.0.0.1" if self.broker_host in {"0.0.0.0", "::", ""} else self.broker_host  # noqa: S104

    @property
    def brokers_dir(self) -> Path:
        return self.data_dir / "brokers"

    @property
    def nats_dir(self) -> Path:
        """The local nats-server's JetStream store, log and pid file."""
        return self.data_dir / "nats"

    def with_overrides(self, **overrides: object) -> "Settings":
        """Return a copy with the given fields replaced; `None` values are ignored."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]  # dataclasses.replace takes **Any; field names are checked by replace itself

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Read `MQTTCLOUD_*` variables, then apply the non-None keyword overrides.

        Raises:
            ConfigError: a variable has a malformed value.
        """
        source = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = source.get(_ENV_PREFIX + name)
            return value if value not in {None, ""} else None

        values: dict[str, object] = {}
        values["alarms"] = AlarmSettings.from_env(get)
        values["serverless_lifecycle"] = LifecycleSettings.from_env(get)
        if (data_dir := get("DATA_DIR")) is not None:
            values["data_dir"] = Path(data_dir)
        for name, key in (
            ("DATABASE_URL", "database_url"),
            ("ROOT_PASSWORD", "root_password"),
            ("HOST", "host"),
            ("PUBLIC_HOST", "public_host"),
            ("BROKER_HOST", "broker_host"),
            ("SERVERLESS_DOMAIN", "serverless_domain"),
            ("SECRET_KEY", "secret_key"),
            ("NATS_URL", "nats_url"),
            ("NATS_SERVER", "nats_server"),
        ):
            if (value := get(name)) is not None:
                values[key] = value
        if (port := get("PORT")) is not None:
            values["port"] = _parse_int("MQTTCLOUD_PORT", port)
        if (nats_port := get("NATS_PORT")) is not None:
            values["nats_port"] = _parse_int("MQTTCLOUD_NATS_PORT", nats_port)
        if (ports := get("BROKER_PORTS")) is not None:
            values["broker_port_low"], values["broker_port_high"] = parse_port_range(ports)
        if (profile := get("RATE_LIMIT_PROFILE")) is not None:
            values["rate_limit_profile"] = profile
        if (limits := get("RATE_LIMITS")) is not None:
            values["rate_limit_overrides"] = parse_rate_limit_overrides(limits)
        if (plan := get("SERVERLESS_LIMITS")) is not None:
            values["serverless_limits"] = parse_limit_overrides(plan)
        if (proxies := get("TRUSTED_PROXIES")) is not None:
            values["trusted_proxies"] = parse_trusted_proxies(proxies)
        if (audit := get("AUDIT_LOG")) is not None:
            if audit.lower() not in {"on", "off"}:
                raise ConfigError(f"MQTTCLOUD_AUDIT_LOG must be on or off, not {audit!r}")
            values["audit_log"] = audit.lower() == "on"
        if (days := get("AUDIT_RETENTION_DAYS")) is not None:
            values["audit_retention_days"] = _parse_int("MQTTCLOUD_AUDIT_RETENTION_DAYS", days)
        if (log_format := get("LOG_FORMAT")) is not None:
            try:
                values["log_format"] = logs.parse_format(log_format)
            except ValueError as exc:
                raise ConfigError(f"MQTTCLOUD_LOG_FORMAT: {exc}") from None
        if (interval := get("MONITOR_INTERVAL")) is not None:
            values["monitor_interval"] = _parse_int("MQTTCLOUD_MONITOR_INTERVAL", interval)
        if (history := get("EVENT_HISTORY")) is not None:
            if history.lower() not in {"on", "off"}:
                raise ConfigError(f"MQTTCLOUD_EVENT_HISTORY must be on or off, not {history!r}")
            values["event_history"] = history.lower() == "on"
        for name, key in (
            ("EVENT_HISTORY_RETENTION_DAYS", "event_history_retention_days"),
            ("EVENT_HISTORY_MAX_EVENTS", "event_history_max_events"),
        ):
            if (number := get(name)) is not None:
                values[key] = _parse_int(_ENV_PREFIX + name, number)
        settings = cls(**values)  # type: ignore[arg-type]  # values are built per field above
        settings = settings.with_overrides(**overrides)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raises: ConfigError when two settings contradict each other."""
        if self.rate_limit_profile not in RATE_LIMIT_PROFILES:
            raise ConfigError(
                f"unknown rate-limit profile {self.rate_limit_profile!r}; "
                f"expected one of {', '.join(RATE_LIMIT_PROFILES)}"
            )
        if not 1 <= self.broker_port_low <= self.broker_port_high <= 65535:
            raise ConfigError(f"bad broker port range {self.broker_port_low}-{self.broker_port_high}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"bad port {self.port}")
        if not 1 <= self.nats_port <= 65535:
            raise ConfigError(f"MQTTCLOUD_NATS_PORT must be 1 to 65535, not {self.nats_port}")
        if self.nats_url is not None and not self.nats_url.startswith(("nats://", "tls://")):
            raise ConfigError(f"MQTTCLOUD_NATS_URL must look like nats://HOST:PORT, not {self.nats_url!r}")
        if self.audit_retention_days < 1:
            raise ConfigError(
                f"MQTTCLOUD_AUDIT_RETENTION_DAYS must be at least 1, not {self.audit_retention_days}"
            )
        if self.event_history_retention_days < 1:
            raise ConfigError(
                "MQTTCLOUD_EVENT_HISTORY_RETENTION_DAYS must be at least 1, "
                f"not {self.event_history_retention_days}"
            )
        if self.event_history_max_events < 1:
            raise ConfigError(
                f"MQTTCLOUD_EVENT_HISTORY_MAX_EVENTS must be at least 1, not {self.event_history_max_events}"
            )
        if not 1 <= self.monitor_interval <= 60:
            raise ConfigError(
                f"MQTTCLOUD_MONITOR_INTERVAL must be 1 to 60 seconds, not {self.monitor_interval}"
            )


def _parse_int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {value!r}") from None


def parse_port_range(value: str) -> tuple[int, int]:
    """Parse "LOW-HIGH" into two ints. Raises: ConfigError."""
    low, sep, high = value.partition("-")
    if not sep:
        raise ConfigError(f"port range must look like LOW-HIGH, not {value!r}")
    return _parse_int("port range", low.strip()), _parse_int("port range", high.strip())


def parse_rate_limit_overrides(value: str) -> dict[str, str]:
    """Parse "rule=COUNT/SECONDS,rule2=off" into {rule: spec}; the specs are checked by ratelimit.py."""
    result: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        rule, sep, spec = item.partition("=")
        if not sep or not rule.strip() or not spec.strip():
            raise ConfigError(f"rate-limit override must look like rule=COUNT/SECONDS, not {item!r}")
        result[rule.strip()] = spec.strip()
    return result


def parse_trusted_proxies(value: str) -> tuple[IPNetwork, ...]:
    """Parse "10.0.0.1, 192.168.0.0/16, ::1" into networks. Raises: ConfigError naming the bad entry."""
    networks: list[IPNetwork] = []
    for item in value.split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"MQTTCLOUD_TRUSTED_PROXIES: not an IP address or CIDR network: {item.strip()!r}"
                ) from None
    return tuple(networks)
