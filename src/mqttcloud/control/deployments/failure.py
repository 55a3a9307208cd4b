"""Why a broker failed, in one line a person can act on: the supervisor's detail plus the broker's own.

The supervisor only sees how a broker ended ("3 crashes; last: exited with code 1"); the reason (a port
taken, a bad certificate, an exception) is what the broker wrote last to its `broker.log`. `reason()`
joins the two. Rule: only the log of the last spawn is read (the lines after its `--- ... spawn:` header),
so an old run's error is never shown as the cause of a new failure; the result is bounded in length.
"""

import contextlib
import re
from pathlib import Path

MAX_REASON = 500  # characters kept of a reason (the column is Text; the console shows it in one line)
_TAIL_BYTES = 16 * 1024  # how much of the end of the log is read
_SPAWN_HEADER = "--- "
# "2026-12-10 10:00:00,123 ERROR mqttcloud.runtime.main: cannot start: ..." (runtime/main.py's format)
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,.]+ (?P<level>[A-Z]+) [\w.]+: (?P<message>.*)$")
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*$")


def _last_run(log_path: Path) -> list[str]:
    """The lines the last spawned process wrote (empty when there is no log)."""
    with contextlib.suppress(OSError), log_path.open("rb") as log:
        size = log.seek(0, 2)
        log.seek(max(0, size - _TAIL_BYTES))
        lines = log.read().decode("utf-8", errors="replace").splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith(_SPAWN_HEADER)]
        if starts:
            return lines[starts[-1] + 1 :]
        return lines[1:] if size > _TAIL_BYTES else lines  # a line cut by the seek is dropped
    return []


def broker_error(log_path: Path) -> str:
    """The last error the broker's last run logged: an ERROR/CRITICAL line, else an uncaught exception's
    last line, else a line of its own (a usage error); "" when it wrote none."""
    lines = [line.rstrip() for line in _last_run(log_path) if line.strip()]
    for line in reversed(lines):
        match = _LOG_LINE.match(line)
        if match is not None and match["level"] in {"ERROR", "CRITICAL"}:
            return match["message"]
    for line in reversed(lines):
        if _EXCEPTION.match(line) or line.startswith("mqttcloud broker: "):
            return line
    return ""


def reason(detail: str, log_path: Path) -> str:
    """The supervisor's `detail`, followed by the broker's own last error when it logged one."""
    error = broker_error(log_path)
    text = f"{detail}: {error}" if error and error not in detail else detail
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
