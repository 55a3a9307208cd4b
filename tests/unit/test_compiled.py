"""The compiled core's rules, without compiling: which sources it covers, when a build may be used
(only the exact source it was built from), what `MQTTCLOUD_CORE` decides, and how modules are found."""

import hashlib
import importlib.machinery
import json
import re
import sys
from pathlib import Path

import pytest

import mqttcloud.broker.core  # imported first: install() must then refuse to swap it
from mqttcloud import compiled

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def fake_build(directory: Path, *, python: str | None = None, wrong: str = "") -> Path:
    """A build directory whose manifest matches the real source (except module `wrong`), with empty
    stand-ins for the extension files: enough for `check`, never imported."""
    root = compiled.package_root()
    modules = {}
    for name, source in compiled.sources(root).items():
        rel = source.relative_to(root.parent)
        ext = rel.with_name(rel.name.removesuffix(".py") + SUFFIX)
        (directory / ext).parent.mkdir(parents=True, exist_ok=True)
        (directory / ext).write_bytes(b"")
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        modules[name] = {"file": str(ext), "sha256": "0" * 64 if name == wrong else digest}
    shared = f"abc__mypyc{SUFFIX}"
    (directory / shared).write_bytes(b"")
    manifest = {
        "python": python or sys.implementation.cache_tag,
        "modules": modules,
        "shared": {"abc__mypyc": shared},
    }
    (directory / compiled.MANIFEST).write_text(json.dumps(manifest))
    return directory


def test_the_core_is_protocol_broker_and_the_connection_path() -> None:
    names = compiled.sources(compiled.package_root())
    assert "mqttcloud.protocol" in names  # a package's __init__ by the package's name
    assert "mqttcloud.broker.handlers.connect" in names
    runtime = {"mqttcloud.runtime.connection", "mqttcloud.runtime.hub", "mqttcloud.runtime.tenants"}
    assert runtime <= set(names)
    assert "mqttcloud.runtime.listeners" not in names  # uvloop's Server.sockets is a list, typeshed: tuple
    assert not any(n.startswith(("mqttcloud.control", "mqttcloud.runtime.cluster")) for n in names)
    assert all(p.suffix == ".py" and p.is_file() for p in names.values())


def test_a_matching_build_lists_every_module_and_the_shared_library(tmp_path: Path) -> None:
    files, reason = compiled.check(fake_build(tmp_path), compiled.package_root())
    assert reason == ""
    assert files["mqttcloud.broker.core"] == tmp_path / "mqttcloud" / "broker" / f"core{SUFFIX}"
    assert files["abc__mypyc"] == tmp_path / f"abc__mypyc{SUFFIX}"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"wrong": "mqttcloud.broker.channel"}, r"mqttcloud/broker/channel\.py changed since"),
        ({"python": "cpython-399"}, "for another Python"),
    ],
)
def test_a_build_of_other_source_or_python_is_refused(
    tmp_path: Path, kwargs: dict[str, str], expected: str
) -> None:
    files, reason = compiled.check(fake_build(tmp_path, **kwargs), compiled.package_root())
    assert files == {}
    assert re.search(expected, reason), reason
    assert "mqttcloud compile" in reason


def test_no_build_or_a_missing_file_says_to_compile(tmp_path: Path) -> None:
    assert "run `mqttcloud compile`" in compiled.check(tmp_path / "none", compiled.package_root())[1]
    build = fake_build(tmp_path)
    (build / "mqttcloud" / "protocol" / f"decode{SUFFIX}").unlink()
    files, reason = compiled.check(build, compiled.package_root())
    assert files == {}
    assert f"decode{SUFFIX}" in reason


def test_mqttcloud_core_decides(tmp_path: Path) -> None:
    stale = str(fake_build(tmp_path / "stale", wrong="mqttcloud.protocol.decode"))
    fresh = str(fake_build(tmp_path / "fresh"))
    status, files = compiled.decide({"MQTTCLOUD_CORE_DIR": stale})
    assert (status.kind, files) == ("interpreted", {})
    assert "decode.py changed" in status.reason
    with pytest.raises(compiled.CoreError, match=r"MQTTCLOUD_CORE=compiled: .*decode\.py changed"):
        compiled.decide({"MQTTCLOUD_CORE_DIR": stale, "MQTTCLOUD_CORE": "compiled"})
    with pytest.raises(compiled.CoreError, match="expected one of auto, interpreted, compiled"):
        compiled.decide({"MQTTCLOUD_CORE": "fast"})
    status, files = compiled.decide({"MQTTCLOUD_CORE_DIR": fresh, "MQTTCLOUD_CORE": "interpreted"})
    assert (status.kind, files) == ("interpreted", {})
    status, files = compiled.decide({"MQTTCLOUD_CORE_DIR": fresh})
    assert status.kind == "mypyc"
    assert "mqttcloud.runtime.connection" in files


def test_install_never_swaps_a_module_already_imported(tmp_path: Path) -> None:
    fresh = str(fake_build(tmp_path))
    before = list(sys.meta_path)
    status = compiled.install({"MQTTCLOUD_CORE_DIR": fresh})
    assert status.kind == "interpreted"
    assert "was imported before" in status.reason
    with pytest.raises(compiled.CoreError, match="was imported before"):
        compiled.install({"MQTTCLOUD_CORE_DIR": fresh, "MQTTCLOUD_CORE": "compiled"})
    assert sys.meta_path == before
    assert compiled.running_core() == "interpreted"  # this process imported the source
    assert mqttcloud.broker.core.__file__.endswith(".py")


def test_the_finder_maps_modules_to_extensions_and_packages_to_the_source(tmp_path: Path) -> None:
    root = compiled.package_root()
    files, _ = compiled.check(fake_build(tmp_path), root)
    finder = compiled.CompiledFinder(files, root)
    spec = finder.find_spec("mqttcloud.broker", None)
    assert spec is not None
    assert isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)
    assert spec.origin == str(files["mqttcloud.broker"])
    assert spec.submodule_search_locations == [str(root / "broker")]
    module = finder.find_spec("mqttcloud.broker.core", None)
    assert module is not None
    assert module.submodule_search_locations is None
    assert finder.find_spec("mqttcloud.runtime.listeners", None) is None  # not compiled: the source
