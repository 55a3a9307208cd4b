"""Log formats and the request context that log lines carry, shared by `serve` and brokers.

`setup(level, fmt)` installs one stderr handler: `text` (the human format, plus ` request_id=<id>` and
` actor=<who>` when known) or `json` (one object per line: time, level, logger, message, and `request_id`
and `actor` when known; `exc_info` as text). `serve --log-format` and `mqttcloud broker --log-format`
choose it (or `MQTTCLOUD_LOG_FORMAT`), and the supervisor starts brokers with the platform's choice.

The context is two context variables: `request_id` (the API request being served, set for each HTTP
request by `control/request_ids.py`) and `actor` (who made it, e.g. `deployment_key:<app id>`, set where
the auth layer names the actor, `control/audit/actor.py`). The control plane's admin client sends both
with every admin request it makes while serving a request, and a broker binds them for the op's task
(`runtime/admin.py`), so the broker's log lines for the work an API call caused carry that call's id.

Rule: an actor is an id, never a secret; both values come from the caller and are logged as given
(JSON-escaped), never interpreted.
"""

import contextvars
import json
import logging
import time
from typing import Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("mqttcloud_request_id", default=None)
actor: contextvars.ContextVar[str | None] = contextvars.ContextVar("mqttcloud_actor", default=None)


def parse_format(value: str) -> LogFormat:
    """`text` or `json` (any case).

    Raises:
        ValueError: naming the value and the formats there are.
    """
    lowered = value.strip().lower()
    for fmt in LOG_FORMATS:
        if lowered == fmt:
            return fmt
    raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {value!r}")


def bind(request: str | None, who: str | None) -> None:
    """Set the context of the current task (and of the tasks it starts)."""
    request_id.set(request)
    actor.set(who)


def unbound() -> contextvars.Context:
    """A copy of the current context without request id or actor: for a long-lived task that a request
    happens to start (a broker's supervisor worker), so its later lines are not charged to that request."""
    context = contextvars.copy_context()
    context.run(bind, None, None)
    return context


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (RFC 3339, UTC, ms), level, logger, message[, request_id, actor,
    exc_info]."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        body: dict[str, object] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            body["request_id"] = rid
        who = actor.get()
        if who is not None:
            body["actor"] = who
        if record.exc_info:
            body["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


class _TextWithRequest(logging.Formatter):
    """The text format, with ` request_id=<id>` and ` actor=<who>` appended when known."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = request_id.get()
        if rid is not None:
            line = f"{line} request_id={rid}"
        who = actor.get()
        return line if who is None else f"{line} actor={who}"


def setup(level: int | str = logging.INFO, fmt: LogFormat = "text") -> None:
    """Configure the root logger: one stderr handler in `fmt`, replacing any handler set before."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else _TextWithRequest(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
