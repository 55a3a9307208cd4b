"""Log formats and the request context that log lines carry, shared by `serve` and brokers.

`setup(level, fmt)` installs one stderr handler: `text` (the human format, plus ` request_id=<id>` when
known) or `json` (one object per line: time, level, logger, message, and `request_id` when known;
`exc_info` as text). The context is two context variables: `request_id` (the API request being
served) and `actor` (who made it, e.g. `deployment_key:<app id>`, set where the auth layer names the
actor, `control/audit/actor.py`). The control plane's admin client sends both with every admin request
it makes while serving a request, and a broker binds them for the op's task (`runtime/admin.py`), so
the broker's log lines for the work an API call caused carry that call's id.

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


def bind(request: str | None, who: str | None) -> None:
    """Set the context of the current task (and of the tasks it starts)."""
    request_id.set(request)
    actor.set(who)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (RFC 3339, UTC, ms), level, logger, message[, request_id, exc]."""

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
        if record.exc_info:
            body["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


class _TextWithRequest(logging.Formatter):
    """The text format, with ` request_id=<id>` appended when one is known."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = request_id.get()
        return line if rid is None else f"{line} request_id={rid}"


def setup(level: int | str = logging.INFO, fmt: LogFormat = "text") -> None:
    """Configure the root logger: one stderr handler in `fmt`, replacing any handler set before."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else _TextWithRequest(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
