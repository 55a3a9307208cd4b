"""Bulk import of authentication users: the file formats, read into rows.

Formats (as EMQX exports them): a CSV file with a header row (`user_id,password[,is_superuser]`, or
`user_id,password_hash,salt[,is_superuser]` for SHA-256 hashes with the salt as prefix), or a JSON array
of objects with the same fields. `import_rows` creates them through `authn.service.create_each`: every
rule of the domain applies per row, and a refused row is reported without stopping the others.
"""

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mqttcloud.control.deployment_api.authn import service as authn
from mqttcloud.control.deployment_api.target import Target

MAX_IMPORT_BYTES = 4 * 1024 * 1024
MAX_IMPORT_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One row of an import file, numbered from 1 (the header of a CSV file is not a row)."""

    number: int
    user_id: str
    password: str | None
    password_hash: str | None
    salt: str
    is_superuser: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "user_id": self.user_id,
            "password": self.password,
            "password_hash": self.password_hash,
            "salt": self.salt,
            "is_superuser": self.is_superuser,
        }


@dataclass(frozen=True, slots=True)
class ImportResult:
    number: int
    user_id: str
    ok: bool
    message: str


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not CSV/JSON, too large, no user_id column...)."""


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in {"true", "1", "yes"})


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text != "" else None


def row_from(number: int, item: Mapping[str, object]) -> ImportRow:
    return ImportRow(
        number=number,
        user_id=str(item.get("user_id") or item.get("username") or item.get("clientid") or "").strip(),
        password=_text(item.get("password")),
        password_hash=_text(item.get("password_hash")),
        salt=str(item.get("salt") or ""),
        is_superuser=_truthy(item.get("is_superuser")),
    )


def parse_import(data: bytes, filename: str) -> list[ImportRow]:
    """Rows of a CSV (header row: user_id,password[,is_superuser] or user_id,password_hash,salt[,...]) or
    JSON (array of objects with the same fields) file.

    Raises:
        ImportFileError: the file is too large, not UTF-8, malformed, or has no user_id column.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError("the file is not UTF-8 text") from None
    stripped = text.lstrip()
    if filename.lower().endswith(".json") or stripped.startswith(("[", "{")):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"not valid JSON: {exc.msg} (line {exc.lineno})") from None
        if not isinstance(loaded, list) or not all(isinstance(item, dict) for item in loaded):
            raise ImportFileError("a JSON import must be an array of objects")
        rows = [row_from(number, item) for number, item in enumerate(loaded, start=1)]
    else:
        reader = csv.DictReader(io.StringIO(text))
        names = {name.strip() for name in reader.fieldnames or []}
        if not names & {"user_id", "username", "clientid"}:
            raise ImportFileError("the CSV header must name a user_id column")
        try:
            rows = [
                row_from(number, {k.strip(): v for k, v in item.items() if k is not None})
                for number, item in enumerate(reader, start=1)
            ]
        except csv.Error as exc:
            raise ImportFileError(f"not valid CSV: {exc}") from None
    if len(rows) > MAX_IMPORT_ROWS:
        raise ImportFileError(f"at most {MAX_IMPORT_ROWS} rows per import")
    return rows


async def import_rows(target: Target, kind: authn.Kind, rows: Sequence[ImportRow]) -> list[ImportResult]:
    """Create each row; the result of each, by row number."""
    users = [
        authn.NewUser(
            user_id=row.user_id,
            password=row.password,
            password_hash=None if row.password is not None else row.password_hash,
            salt=row.salt,
            is_superuser=row.is_superuser,
        )
        for row in rows
    ]
    results = await authn.create_each(target, kind=kind, users=users)
    return [
        ImportResult(row.number, row.user_id, ok=result.ok, message=result.message)
        for row, result in zip(rows, results, strict=True)
    ]
