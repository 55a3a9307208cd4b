"""Request and response shapes of `/api/v5/trace`, in EMQX's field names.

`start_at`/`end_at` accept what EMQX accepts: RFC 3339 strings or epoch seconds; answers give RFC 3339.
`formatter` and `payload_limit` are accepted and ignored (one format, a 1 KB payload limit).
"""

from typing import Literal

from pydantic import Field

from mqttcloud.contracts import TraceType
from mqttcloud.control.deployment_api.schemas import In


class TraceIn(In):
    name: str = Field(min_length=1, max_length=256)
    type: TraceType
    clientid: str | None = Field(default=None, max_length=65535)
    topic: str | None = Field(default=None, max_length=65535)
    ip_address: str | None = Field(default=None, max_length=64)
    start_at: str | int | float | None = None
    end_at: str | int | float | None = None
    payload_encode: Literal["text", "hex", "hidden"] = "text"


TraceStatus = Literal["running", "stopped", "waiting"]
