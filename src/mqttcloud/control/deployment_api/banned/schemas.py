"""Request and response models of the banned list (both API shapes)."""

from pydantic import Field

from mqttcloud.control.deployment_api.schemas import In, Out

Moment = int | float | str | None  # Unix seconds or milliseconds, or RFC 3339 (`common.parse_time`)


class BanIn(In):
    """v5 and v4 `POST /banned` (v4 reads the same fields; `who`, `as`, `reason` required there)."""

    as_: str = Field(alias="as")
    who: str = Field(min_length=1)
    by: str = "user"
    reason: str = ""
    at: Moment = None
    until: Moment = None


class V4BanIn(BanIn):
    reason: str


class BanOut(Out):
    """v5: times as RFC 3339, `until` "infinity" for a ban without end."""

    as_: str = Field(alias="as")
    who: str
    by: str
    reason: str
    at: str | None
    until: str | None


class V4BanOut(Out):
    """v4: times as Unix seconds."""

    who: str
    as_: str = Field(alias="as")
    reason: str
    by: str
    at: int
    until: int | None
