"""Fixtures for supervisor tests; the helpers live in harness.py (importable as tests.integration...)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.integration.supervisor.harness import Harness


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(tmp_path)
    try:
        yield h
    finally:
        for sup in h.supervisors:
            await sup.close()
        h.dump_logs()  # shown by pytest only when the test failed
