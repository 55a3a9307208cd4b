"""`mqttcloud.protocol` and `mqttcloud.rulesql` are sans-I/O and stdlib only (STYLE.md §1-2)."""

import ast
import sys
from pathlib import Path

import pytest

import mqttcloud.protocol
import mqttcloud.rulesql

PACKAGE = Path(mqttcloud.protocol.__file__).parent
RULESQL = Path(mqttcloud.rulesql.__file__).parent
FORBIDDEN = {"asyncio", "socket", "ssl", "selectors", "threading"}
# rule SQL also reads no clock (time is an argument) and touches no files or processes
RULESQL_FORBIDDEN = FORBIDDEN | {"time", "os", "subprocess", "pathlib", "io", "shutil"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_protocol_imports_only_stdlib_and_itself() -> None:
    offenders = {}
    for path in sorted(PACKAGE.glob("*.py")):
        for name in _imports(path):
            top = name.split(".")[0]
            own = name.startswith("mqttcloud.protocol")
            if not own and (top not in sys.stdlib_module_names or top in FORBIDDEN):
                offenders[path.name] = name
    assert offenders == {}


def test_protocol_has_no_async_code() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef | ast.Await)], path.name


def test_public_names_are_exported() -> None:
    for name in mqttcloud.protocol.__all__:
        assert hasattr(mqttcloud.protocol, name), name


@pytest.mark.parametrize("path", sorted(RULESQL.rglob("*.py")), ids=lambda p: p.name)
def test_rulesql_imports_only_stdlib_and_itself(path: Path) -> None:
    offenders = set()
    for name in _imports(path):
        top = name.split(".")[0]
        own = name.startswith("mqttcloud.rulesql")
        if not own and (top not in sys.stdlib_module_names or top in RULESQL_FORBIDDEN):
            offenders.add(name)
    assert offenders == set()


@pytest.mark.parametrize("path", sorted(RULESQL.rglob("*.py")), ids=lambda p: p.name)
def test_rulesql_has_no_async_code(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef | ast.Await)]
