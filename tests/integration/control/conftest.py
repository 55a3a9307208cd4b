"""Fixtures: a real `mqttcloud serve` per test (SQLite, and PostgreSQL when configured)."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.conftest import BACKENDS
from tests.integration.control.harness import ServeProcess, free_port_range, serve_env


@pytest.fixture
def start_serve(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> Iterator[Callable[..., ServeProcess]]:
    """`start_serve(backend="sqlite")` → a started platform; every one is stopped at teardown."""
    started: list[ServeProcess] = []

    def start(backend: str = "sqlite", extra_env: dict[str, str] | None = None) -> ServeProcess:
        database_url = None if backend == "sqlite" else fresh_database_url(backend)
        data_dir = tmp_path / f"platform-{len(started)}"
        serve = ServeProcess(data_dir, serve_env(database_url, free_port_range(), extra_env))
        started.append(serve)
        return serve.start()

    yield start
    for serve in started:
        serve.stop()
        print(f"--- serve log {serve.data_dir} ---\n{serve.stderr()}")  # shown when the test failed


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture(scope="module", params=BACKENDS)
def shared_serve(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fresh_database_url: Callable[[str], str],
) -> Iterator[ServeProcess]:
    """One platform per module and backend, for tests that only talk HTTP and create their own keys."""
    backend: str = request.param
    database_url = None if backend == "sqlite" else fresh_database_url(backend)
    serve = ServeProcess(
        tmp_path_factory.mktemp("shared") / "data", serve_env(database_url, free_port_range())
    )
    serve.start()
    yield serve
    serve.stop()
    print(f"--- serve log {serve.data_dir} ---\n{serve.stderr()}")
