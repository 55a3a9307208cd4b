"""The Deployment API's body conventions and envelopes, written once for every domain.

Request bodies ignore unknown fields, as EMQX does. Response objects are models dumped by alias
(`Out.dump`). The envelopes: v5 pages `{"data", "meta"}`; v4 answers carry `"code": 0` beside `data` or
`meta` + `data`. Each domain's own request and response models live in its package's `schemas.py`.
"""

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from mqttcloud.control.deployment_api.errors import V4_SUCCESS


class In(BaseModel):
    """A request body: unknown fields are ignored, fields may be given by name or alias."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


InT = TypeVar("InT", bound=In)


def one_or_many(model: type[InT], body: object) -> list[InT]:
    """An object or array body (v4 batch forms), validated item by item. Raises: RequestValidationError."""
    try:
        return [model.model_validate(i) for i in (body if isinstance(body, list) else [body])]
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


class Out(BaseModel):
    """A response object."""

    model_config = ConfigDict(populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def meta(page: int, limit: int, count: int, *, hasnext: bool | None = None) -> dict[str, Any]:
    """v5 paging metadata (`hasnext` computed from the count unless the broker says)."""
    return {
        "page": page,
        "limit": limit,
        "hasnext": page * limit < count if hasnext is None else hasnext,
        "count": count,
    }


def v5_page(items: Iterable[Out | Mapping[str, Any]], page_meta: Mapping[str, Any]) -> JSONResponse:
    return JSONResponse({"data": [_dumped(i) for i in items], "meta": dict(page_meta)})


def v4_page(
    items: Iterable[Out | Mapping[str, Any]],
    page: int,
    limit: int,
    count: int,
    *,
    hasnext: bool | None = None,
) -> JSONResponse:
    page_meta: dict[str, Any] = {"page": page, "limit": limit, "count": count}
    if hasnext is not None:
        page_meta["hasnext"] = hasnext
    return JSONResponse({"meta": page_meta, "data": [_dumped(i) for i in items], "code": V4_SUCCESS})


def v4_data(data: object) -> JSONResponse:
    """`{"data": ..., "code": 0}`; `data` may be a model, a mapping or a list of them."""
    if isinstance(data, list):
        data = [_dumped(i) for i in data]
    elif isinstance(data, Out):
        data = data.dump()
    return JSONResponse({"data": data, "code": V4_SUCCESS})


def v4_ok() -> JSONResponse:
    return JSONResponse({"code": V4_SUCCESS})


def _dumped(item: Out | Mapping[str, Any]) -> Mapping[str, Any]:
    return item.dump() if isinstance(item, Out) else item
