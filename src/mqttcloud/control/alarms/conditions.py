"""What is alarming now: pure checks over facts the checker gathered, and the diff with active alarms.

Each check returns `Condition`s keyed by (deployment id or None, name); `diff(active, observed)` says
which to raise and which to clear. Nothing here reads the database, a broker or the clock.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

AlarmKey = tuple[str | None, str]  # (deployment id, or None for the platform; alarm name)

CERTIFICATE_EXPIRING = "certificate_expiring"
CERTIFICATE_EXPIRED = "certificate_expired"
DEPLOYMENT_FAILED = "deployment_failed"
DEPLOYMENT_RESTARTING = "deployment_restarting"
BROKER_MEMORY = "high_broker_memory"
DATABASE_UNREACHABLE = "database_unreachable"
NATS_UNREACHABLE = "nats_unreachable"
QUOTAS = ("connections", "users", "acl_entries", "retained_messages")


def quota_alarm(quota: str) -> str:
    return f"quota_{quota}"


@dataclass(frozen=True, slots=True)
class Condition:
    deployment_id: str | None
    name: str
    message: str
    details: Mapping[str, object] = field(default_factory=dict)

    @property
    def key(self) -> AlarmKey:
        return self.deployment_id, self.name


def certificate(
    deployment_id: str, expire_at: dt.datetime, now: dt.datetime, warn_days: int
) -> Condition | None:
    """Expired, or expiring within `warn_days` days; None when neither."""
    details = {"expire_at": expire_at.isoformat()}
    if expire_at <= now:
        return Condition(
            deployment_id,
            CERTIFICATE_EXPIRED,
            f"TLS certificate expired at {expire_at:%Y-%m-%d %H:%M} UTC",
            details,
        )
    if expire_at - now <= dt.timedelta(days=warn_days):
        days = (expire_at - now).days
        return Condition(
            deployment_id, CERTIFICATE_EXPIRING, f"TLS certificate expires in {days} days", details
        )
    return None


def quota(deployment_id: str, name: str, used: int, limit: int, percent: float) -> Condition | None:
    """`used` above `percent`% of `limit` (a limit of 0 is unlimited)."""
    if limit <= 0 or used * 100 <= limit * percent:
        return None
    return Condition(
        deployment_id,
        quota_alarm(name),
        f"{name.replace('_', ' ')} at {used} of {limit} ({used * 100 // limit}%)",
        {"used": used, "limit": limit},
    )


def restart_loop(deployment_id: str, restarts: int, window: float, threshold: int) -> Condition | None:
    if restarts < threshold:
        return None
    return Condition(
        deployment_id,
        DEPLOYMENT_RESTARTING,
        f"broker restarted {restarts} times in {window:.0f} s",
        {"restarts": restarts, "window_seconds": window},
    )


def memory(deployment_id: str, rss_bytes: int, limit_mb: int) -> Condition | None:
    if rss_bytes <= limit_mb * 1024 * 1024:
        return None
    return Condition(
        deployment_id,
        BROKER_MEMORY,
        f"broker uses {rss_bytes // (1024 * 1024)} MB of memory (threshold {limit_mb} MB)",
        {"rss_bytes": rss_bytes, "threshold_mb": limit_mb},
    )


def nats(url: str, error: str | None) -> Condition | None:
    """NATS did not accept a client or answer a PING (`error` says why); None when it did."""
    if error is None:
        return None
    shown = _without_credentials(url)
    return Condition(
        None,
        NATS_UNREACHABLE,
        f"NATS at {shown} does not answer: {error}",
        {"url": shown, "error": error[:500]},
    )


def _without_credentials(url: str) -> str:
    """`nats://user:secret@host:4222` -> `nats://***@host:4222`: an alarm is shown and POSTed."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def diff(active: Iterable[AlarmKey], observed: Iterable[Condition]) -> tuple[list[Condition], list[AlarmKey]]:
    """(conditions to raise: observed, not active; keys to clear: active, no longer observed)."""
    active_keys = set(active)
    seen = {c.key: c for c in observed}
    return [c for k, c in seen.items() if k not in active_keys], sorted(
        (k for k in active_keys if k not in seen), key=lambda k: (k[0] or "", k[1])
    )
