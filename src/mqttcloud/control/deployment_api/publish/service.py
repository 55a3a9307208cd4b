"""Publishing through the Deployment API: the one place a message's fields are checked and handed to
the running broker (v5 `/publish`, v4 `/mqtt/publish`, the console and the v5 publish fast path).

Rule: `message_args` owns every check on a message (payload encoding, size, MQTT 5 properties) and
raises `BadRequest` naming the field; `publish` sends it through the broker's admin channel.
"""

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import pydantic

from mqttcloud.contracts import PublishArgs, PublishResult, TenantId
from mqttcloud.control.broker_client import BrokerClient
from mqttcloud.control.deployment_api import live
from mqttcloud.control.deployment_api.nodes import Nodes
from mqttcloud.control.errors import BadRequest

MAX_PAYLOAD_BYTES = 1024 * 1024  # spec §1.10: maximum message size 1 MB (Serverless and Dedicated default)


def message_args(
    tenant: TenantId,
    *,
    topic: str,
    payload: str,
    encoding: str,
    qos: int,
    retain: bool,
    clientid: str | None = None,
    properties: Mapping[str, Any] | None = None,
) -> PublishArgs:
    """Build the admin `publish` request. Raises: BadRequest (bad encoding, base64 or property)."""
    if encoding == "base64":
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("payload is not valid base64", code="BAD_REQUEST", field="payload") from None
    elif encoding == "plain":
        raw = payload.encode()
    else:
        raise BadRequest(
            "payload_encoding must be plain or base64", code="BAD_REQUEST", field="payload_encoding"
        )
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise BadRequest(
            f"payload is larger than {MAX_PAYLOAD_BYTES} bytes", code="PACKET_TOO_LARGE", field="payload"
        )
    props = dict(properties or {})
    user_properties = props.get("user_properties") or {}
    if not isinstance(user_properties, Mapping):
        raise BadRequest(
            "properties.user_properties must be an object", code="BAD_REQUEST", field="properties"
        )
    try:
        return _args(
            tenant,
            topic=topic,
            raw=raw,
            qos=qos,
            retain=retain,
            clientid=clientid,
            props=props,
            user_properties=user_properties,
        )
    except pydantic.ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise BadRequest(
            f"properties.{where}: {exc.errors()[0]['msg']}", code="BAD_REQUEST", field="properties"
        ) from None


def _args(
    tenant: TenantId,
    *,
    topic: str,
    raw: bytes,
    qos: int,
    retain: bool,
    clientid: str | None,
    props: Mapping[str, Any],
    user_properties: Mapping[Any, Any],
) -> PublishArgs:
    """Raises: pydantic.ValidationError (a property of the wrong type or range)."""
    correlation = props.get("correlation_data")
    return PublishArgs(
        tenant=tenant,
        topic=topic,
        payload_b64=base64.b64encode(raw).decode(),
        qos=qos,
        retain=retain,
        clientid=clientid,
        payload_format_indicator=props.get("payload_format_indicator"),
        message_expiry_interval=props.get("message_expiry_interval"),
        response_topic=props.get("response_topic"),
        correlation_data_b64=None
        if correlation is None
        else base64.b64encode(str(correlation).encode()).decode(),
        content_type=props.get("content_type"),
        user_properties=[(str(k), str(v)) for k, v in user_properties.items()],
    )


async def publish(broker: BrokerClient | Nodes, args: PublishArgs) -> PublishResult:
    """Hand the message to the broker. Raises: ServiceUnavailable, BadRequest (`BAD_TOPIC`, ...)."""
    return await live.call(broker.publish(args))
