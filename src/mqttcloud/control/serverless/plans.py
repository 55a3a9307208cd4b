"""The Serverless plan's quotas, configurable by the operator over the spec §1.10 defaults.

`MQTTCLOUD_SERVERLESS_LIMITS="max_subscriptions_per_client=20,max_publish_rate=50"` (read by
`control/config.py`, parsed here) overrides fields of `contracts.Limits` for every Serverless tenant;
`spec_builder.SERVERLESS_LIMITS` holds the defaults (10 subscriptions per client, 1 MB messages,
10 msg/s per client, 2,000 retained messages, ...). `max_connections` and `max_tenant_rate` come from
each deployment (`connections`, `tps`) and cannot be overridden here.

Rule: a bad override is a `ConfigError` at start-up (`parse_limit_overrides`), never at spec build time.
"""

from collections.abc import Mapping

import pydantic

from mqttcloud.contracts import Limits
from mqttcloud.control.errors import ConfigError

PER_DEPLOYMENT = frozenset({"max_connections", "max_tenant_rate"})  # from the deployment row


def parse_limit_overrides(value: str) -> dict[str, str]:
    """Parse "field=value,field2=value2" and check every field and value against `Limits`.

    Raises:
        ConfigError: malformed item, unknown or per-deployment field, or a value of the wrong type.
    """
    result: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        name, sep, raw = item.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or not name or not raw:
            raise ConfigError(f"Serverless limit must look like field=value, not {item!r}")
        if name in PER_DEPLOYMENT:
            raise ConfigError(f"{name} comes from each deployment (connections / tps), not from the plan")
        if name not in Limits.model_fields:
            known = ", ".join(sorted(set(Limits.model_fields) - PER_DEPLOYMENT))
            raise ConfigError(f"unknown Serverless limit {name!r}; known: {known}")
        result[name] = raw
    apply_overrides(Limits(), result)  # type and range check now, at start-up
    return result


def apply_overrides(base: Limits, overrides: Mapping[str, str]) -> Limits:
    """`base` with the overridden fields, validated by `Limits` itself.

    Raises:
        ConfigError: a value does not fit its field (only possible when `overrides` bypassed parsing).
    """
    if not overrides:
        return base
    try:
        limits = Limits.model_validate({**base.model_dump(), **overrides})
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(f"bad Serverless limit {error['loc']}: {error['msg']}") from None
    for name in overrides:
        if getattr(limits, name) < 0:
            raise ConfigError(f"Serverless limit {name} must not be negative")
    return limits
