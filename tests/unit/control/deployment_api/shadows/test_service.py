"""The shadow document rules: the PATCH merge (multi-level rule) and the document checks."""

import pytest

from mqttcloud.control.deployment_api.shadows.service import (
    MAX_DEPTH,
    NestedObjectInOneStep,
    check_document,
    merge,
)
from mqttcloud.control.errors import BadRequest, Invalid


def test_patch_adds_and_replaces_top_level_keys() -> None:
    data = {"color": "blue", "state": 1, "power": 0}
    assert merge(data, {"specs": 2}) == {"color": "blue", "state": 1, "power": 0, "specs": 2}
    assert merge(data, {"power": 5}) == {"color": "blue", "state": 1, "power": 5}
    assert data == {"color": "blue", "state": 1, "power": 0}  # unchanged


def test_patch_merges_existing_objects_at_every_level() -> None:
    """The docs' partial update: Key01 {a} + {b, c} keeps a."""
    data = {"Key01": {"a": 100, "deep": {"x": 1}}}
    patched = merge(data, {"Key01": {"b": 200, "c": 300, "deep": {"y": 2}}})
    assert patched == {"Key01": {"a": 100, "b": 200, "c": 300, "deep": {"x": 1, "y": 2}}}


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"Key01": {"a": 100}, "Key02": {"b": 200}}, "Key02"),  # the docs' first refused example
        ({"Key01": {"a": 100, "Key02": {"b": 200}}}, "Key01.Key02"),  # the docs' second one
        ({"Key01": {"a": {"x": 1}}}, "Key01.a"),  # a scalar replaced by an object with content
    ],
)
def test_patch_refuses_a_new_object_with_content_in_one_step(patch: dict[str, object], path: str) -> None:
    with pytest.raises(NestedObjectInOneStep) as caught:
        merge({"Key01": {"a": 100}}, patch)
    assert caught.value.status_code == 500
    assert caught.value.field == path
    assert path in caught.value.message


def test_patch_adds_a_new_object_level_by_level() -> None:
    step1 = merge({"Key01": {"a": 100}}, {"Key01": {"a": 100}, "Key02": {}})
    assert step1 == {"Key01": {"a": 100}, "Key02": {}}
    step2 = merge(step1, {"Key01": {"a": 100}, "Key02": {"b": 200}})
    assert step2 == {"Key01": {"a": 100}, "Key02": {"b": 200}}


def test_patch_lists_and_nulls_replace_values() -> None:
    assert merge({"a": [1, 2], "b": {"c": 1}}, {"a": [3], "b": None}) == {"a": [3], "b": None}


def test_document_must_be_an_object_within_size_and_depth() -> None:
    assert check_document({"k": "é"}, max_bytes=100) == '{"k":"é"}'
    with pytest.raises(BadRequest):
        check_document([1, 2], max_bytes=100)
    with pytest.raises(Invalid) as caught:
        check_document({"k": "x" * 100}, max_bytes=100)
    assert caught.value.code == "QUOTA_EXCEEDED"
    deep: dict[str, object] = {}
    node = deep
    for _ in range(MAX_DEPTH + 1):
        child: dict[str, object] = {}
        node["k"] = child
        node = child
    with pytest.raises(BadRequest, match="nests"):
        check_document(deep, max_bytes=10**6)
