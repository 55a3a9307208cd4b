"""Turn a request body into the audit log's summary: field names and harmless values, never a secret.

Rule: a value is kept only when it is a short scalar under a name that does not look secret; any name
matching `SECRET_NAMES` (password, secret, token, key PEMs, certificates...) becomes "[redacted]", a long
string becomes "[N chars]", a nested object or list is summarised by size. Multipart bodies (uploads) keep
field names only. Unparseable bodies are summarised by their size.
"""

import json
import re
from urllib.parse import parse_qsl

SECRET_NAMES = re.compile(
    r"pass|secret|token|private|pem|cert|key_|_key|^key$|credential|salt|hash|signature|csrf|authorization",
    re.IGNORECASE,
)
# Names that end in "key"/"id" but are identifiers, shown as they are.
_PUBLIC_NAMES = frozenset({"app_id", "api_key", "apikey", "key_id", "clientid", "client_id", "username"})
MAX_VALUE = 64  # longer strings are summarised by length
MAX_FIELDS = 32
REDACTED = "[redacted]"
# Response fields that name what a request created; their values are ids, copied into the target.
CREATED_ID_FIELDS = (
    "id",
    "deploymentID",
    "deployment_id",
    "projectID",
    "project_id",
    "app_id",
    "user_id",
    "key",
)


def _is_secret_name(name: str) -> bool:
    return name.lower() not in _PUBLIC_NAMES and SECRET_NAMES.search(name) is not None


def _value(name: str, value: object) -> object:
    if _is_secret_name(name):
        return REDACTED
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_VALUE else f"[{len(value)} chars]"
    if isinstance(value, list):
        return f"[{len(value)} items]"
    if isinstance(value, dict):
        return f"[object of {len(value)} fields]"
    return "[value]"


def _fields(pairs: list[tuple[str, object]]) -> dict[str, object]:
    summary: dict[str, object] = {}
    for name, value in pairs[:MAX_FIELDS]:
        summary[name] = _value(name, value)
    if len(pairs) > MAX_FIELDS:
        summary["..."] = f"{len(pairs) - MAX_FIELDS} more fields"
    return summary


def summarize(content_type: str, body: bytes, *, truncated: bool) -> str:
    """The JSON summary stored for a request with this body (`truncated`: only its start was kept)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    summary: dict[str, object]
    if not body:
        summary = {}
    elif truncated:
        summary = {"body": f"[more than {len(body)} bytes]"}
    elif kind == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", errors="replace")
        summary = _fields([(k, v) for k, v in parse_qsl(text, keep_blank_values=True) if k != "csrf_token"])
    elif kind.startswith("multipart/"):
        names = sorted(set(re.findall(rb'name="([^"]{1,64})"', body[:65536])))
        summary = {"fields": [n.decode("utf-8", errors="replace") for n in names if n != b"csrf_token"]}
    else:  # JSON, whether or not the client said so (spec §1.4)
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            parsed = None
        if isinstance(parsed, dict):
            summary = _fields(list(parsed.items()))
        elif isinstance(parsed, list):
            summary = {"items": len(parsed)}
        else:
            summary = {"body": f"[{len(body)} bytes]"}
    return json.dumps(summary, ensure_ascii=False, separators=(",", ":"))


def created_ids(body: bytes) -> list[tuple[str, str]]:
    """(field, value) of the id fields of a JSON response object (what a POST created), else []."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(parsed, dict):
        return []
    found: list[tuple[str, str]] = []
    for name in CREATED_ID_FIELDS:
        value = parsed.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and len(str(value)) <= MAX_VALUE:
            found.append((name, str(value)))
    return found


def error_code(body: bytes) -> str | None:
    """The `code` of an error body (`{"code": ..., "message": ...}`), if it is one."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    code = parsed.get("code") if isinstance(parsed, dict) else None
    return str(code)[:64] if isinstance(code, str | int) and not isinstance(code, bool) else None
