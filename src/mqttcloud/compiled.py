"""The broker core compiled with mypyc: building it (`mqttcloud compile`) and loading it in brokers.

`protocol/`, `broker/` and the runtime modules of a connection's path (MODULES) are strictly typed
Python that mypyc (part of mypy) compiles to C extensions from the same source. The build lives outside
the source tree, in one directory per venv and Python (`core_dir`), with a manifest of the SHA-256 of
every source it was built from. `install` puts the build in front of the source only when each of those
files is byte for byte the one it was built from: a broker whose source was edited since runs
interpreted and says why, it never runs stale code. `MQTTCLOUD_CORE` chooses: `auto` (the default),
`interpreted`, or `compiled` (refuse to start without a fresh build: what the test suite and production
want).
"""

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import mqttcloud

CORE_ENV = "MQTTCLOUD_CORE"
CORE_DIR_ENV = "MQTTCLOUD_CORE_DIR"
CHOICES = ("auto", "interpreted", "compiled")
#: What is compiled: whole packages, and single modules (paths under the `mqttcloud` package).
PACKAGES = ("protocol", "broker")
MODULES = (
    "runtime/connection.py",
    "runtime/hub.py",
    "runtime/tenants.py",
    "runtime/events.py",
)
MANIFEST = "manifest.json"
#: Any compiled module tells which core a process runs (`running_core`).
PROBE = "mqttcloud.broker.core"
_MYPY_INI = "[mypy]\nplugins = pydantic.mypy\n"


CoreKind = Literal["mypyc", "interpreted"]


class CoreError(Exception):
    """The compiled core cannot be built or used; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class CoreStatus:
    """Which core this process imports, and why when it is not the compiled one."""

    kind: CoreKind
    reason: str


def package_root() -> Path:
    """The directory of the `mqttcloud` package whose source is (or would be) compiled."""
    return Path(mqttcloud.__file__).resolve().parent


def core_dir(env: Mapping[str, str] = os.environ) -> Path:
    """Where this venv's build lives: `MQTTCLOUD_CORE_DIR`, else under the venv, per Python version."""
    override = env.get(CORE_DIR_ENV)
    if override:
        return Path(override)
    return Path(sys.prefix) / "share" / "mqttcloud" / f"core-{sys.implementation.cache_tag}"


def sources(root: Path) -> dict[str, Path]:
    """Module name → source file, for every module of the compiled core."""
    found: dict[str, Path] = {}
    files = [p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))]
    files += [root / m for m in MODULES]
    for path in files:
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(("mqttcloud", *parts))] = path
    return found


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check(directory: Path, root: Path) -> tuple[dict[str, Path], str]:
    """The build's module files (name → path) if it matches the source under `root`, and why not."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        return {}, f"no compiled core in {directory} (run `mqttcloud compile`)"
    except (OSError, ValueError) as exc:
        return {}, f"unreadable manifest in {directory}: {exc}"
    if not isinstance(manifest, dict) or manifest.get("python") != sys.implementation.cache_tag:
        return {}, f"the compiled core in {directory} is for another Python (run `mqttcloud compile`)"
    modules = manifest.get("modules")
    shared = manifest.get("shared")
    if not isinstance(modules, dict) or not isinstance(shared, dict):
        return {}, f"unreadable manifest in {directory}"
    wanted = sources(root)
    if set(modules) != set(wanted):
        return {}, "the compiled core has other modules than the source (run `mqttcloud compile`)"
    files: dict[str, Path] = {}
    for name, source in wanted.items():
        entry = modules[name]
        if not isinstance(entry, dict) or entry.get("sha256") != _digest(source):
            rel = source.relative_to(root.parent)
            return {}, f"{rel} changed since the core was compiled (run `mqttcloud compile`)"
        files[name] = directory / str(entry["file"])
    for name, file in shared.items():
        files[str(name)] = directory / str(file)
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        return {}, f"compiled files missing: {', '.join(missing[:3])} (run `mqttcloud compile`)"
    return files, ""


class CompiledFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled core's modules (and mypyc's shared library) before the source."""

    def __init__(self, files: Mapping[str, Path], root: Path) -> None:
        self._files = dict(files)
        self._root = root

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        file = self._files.get(fullname)
        if file is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(file))
        parts = fullname.split(".")[1:]
        package = self._root.joinpath(*parts)
        locations = [str(package)] if (package / "__init__.py").is_file() else None
        return importlib.util.spec_from_file_location(
            fullname, file, loader=loader, submodule_search_locations=locations
        )


def decide(env: Mapping[str, str] = os.environ) -> tuple[CoreStatus, dict[str, Path]]:
    """Which core a broker started with `env` runs, and the compiled files when it is that one.

    Raises CoreError when `MQTTCLOUD_CORE=compiled` and the build cannot be used, or when the variable
    has another value than CHOICES.
    """
    choice = env.get(CORE_ENV, "auto") or "auto"
    if choice not in CHOICES:
        raise CoreError(f"{CORE_ENV}={choice!r}: expected one of {', '.join(CHOICES)}")
    if choice == "interpreted":
        return CoreStatus("interpreted", f"{CORE_ENV}=interpreted"), {}
    directory = core_dir(env)
    files, reason = check(directory, package_root())
    if reason:
        if choice == "compiled":
            raise CoreError(f"{CORE_ENV}=compiled: {reason}")
        return CoreStatus("interpreted", reason), {}
    return CoreStatus("mypyc", f"{len(files) - 1} modules from {directory}"), files


def install(env: Mapping[str, str] = os.environ) -> CoreStatus:
    """Import the compiled core from now on when `decide` says so; call before anything imports it."""
    status, files = decide(env)
    if not files:
        return status
    loaded = sorted(name for name in files if name in sys.modules)
    if loaded:
        reason = f"{loaded[0]} was imported before the compiled core could be installed"
        if env.get(CORE_ENV) == "compiled":
            raise CoreError(f"{CORE_ENV}=compiled: {reason}")
        return CoreStatus("interpreted", reason)
    if not any(isinstance(f, CompiledFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, CompiledFinder(files, package_root()))
    return status


def running_core() -> CoreKind:
    """ "mypyc" when this process imported the compiled core, else "interpreted"."""
    module = sys.modules.get(PROBE)
    spec = module.__spec__ if module is not None else None
    if spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
        return "mypyc"
    return "interpreted"


def build(directory: Path, root: Path | None = None) -> str:
    """Compile the core's source under `root` into `directory` (replaced whole); a one-line summary.

    Needs mypy (the dev extras), a C compiler and the Python headers. Works on a copy of the package,
    so the source tree never holds an extension that would shadow its own `.py` files.
    """
    root = root or package_root()
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not include.is_file():
        raise CoreError(f"{include} is missing: install the Python headers (Debian: python3-dev)")
    if shutil.which(os.environ.get("CC", "cc")) is None:
        raise CoreError("no C compiler: install gcc")
    if importlib.util.find_spec("mypyc") is None:
        raise CoreError("mypyc is missing: pip install mypy (it is in the dev extras)")
    with tempfile.TemporaryDirectory(prefix="mqttcloud-compile-") as tmp:
        work = Path(tmp)  # mypyc runs here, on work/mqttcloud, and leaves its output in work/build
        src = work / "mqttcloud"
        shutil.copytree(root, src, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        (work / "mypy.ini").write_text(_MYPY_INI)
        wanted = sources(src)
        args = [str(p.relative_to(work)) for p in wanted.values()]
        done = subprocess.run(  # noqa: S603  (argv list: this Python's mypyc on files we listed)
            [sys.executable, "-m", "mypyc", *args],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise CoreError(f"mypyc failed ({done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")
        (lib,) = (work / "build").glob("lib.*")
        modules, shared = _collect(lib, wanted, work)
        staging = directory.with_name(directory.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(lib, staging)
        manifest = {"python": sys.implementation.cache_tag, "modules": modules, "shared": shared}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        shutil.rmtree(directory, ignore_errors=True)
        staging.rename(directory)
    return f"compiled {len(modules)} modules into {directory}"


def _collect(
    lib: Path, wanted: Mapping[str, Path], top: Path
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The manifest entries: each module's extension (relative to `lib`) and the digest of the source
    it was compiled from (the copy under `top`, so an edit made during the build is caught later)."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    modules: dict[str, dict[str, str]] = {}
    for name, copied in wanted.items():
        rel = copied.relative_to(top)  # mqttcloud/broker/core.py
        ext = rel.with_name(rel.name.removesuffix(".py") + suffix)
        if not (lib / ext).is_file():
            raise CoreError(f"mypyc built no {ext}")
        modules[name] = {"file": str(ext), "sha256": _digest(copied)}
    shared = {p.name.removesuffix(suffix): p.name for p in lib.glob(f"*__mypyc{suffix}")}
    if len(shared) != 1:
        raise CoreError(f"expected one mypyc shared library in {lib}, found {len(shared)}")
    return modules, shared
