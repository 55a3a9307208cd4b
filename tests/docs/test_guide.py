"""Every shell example of the user guide runs against a real `mqttcloud serve`, so the guide cannot drift.

One platform (HTTPS on a free port, its own data folder, SQLite) serves the module. Each page of `docs/`
runs as one `bash` process with `set -euo pipefail`, its runnable blocks in order (earlier blocks export
what later ones use), in a fresh working folder, with `BASE`, `DATA_DIR` and `CA` set as the pages'
first block documents, and `.venv/bin` first on PATH (`mqttcloud`, `python3` with paho-mqtt). A
non-zero exit of any command, including `curl -fsS` on an unexpected HTTP status, fails the page.
Blocks marked `norun` must be exactly the ones listed in `NORUN`.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.docs.blocks import Block, GuideError, script, shell_blocks
from tests.integration.control.harness import ROOT, ServeProcess, free_port_range, serve_env

DOCS = ROOT / "docs"
PAGE_TIMEOUT = 60.0  # seconds for one page's blocks; the whole guide takes far less

#: The blocks shown but never run, as (page, first line): installs, servers in the foreground, commands
#: that need root or a PostgreSQL server. Adding one is a decision: it goes here too.
NORUN = {
    ("docs/install.md", "python3 -m venv .venv && .venv/bin/pip install -e ."),
    ("docs/install.md", ".venv/bin/mqttcloud serve --data-dir ./mqttcloud-data"),
    ("docs/install.md", ".venv/bin/pip install mypy && .venv/bin/mqttcloud compile"),
    ("docs/configuration.md", "export MQTTCLOUD_DATABASE_URL=postgresql+psycopg://mqttcloud:secret@db.example:5432/mqttcloud"),
    ("docs/configuration.md", "MQTTCLOUD_PUBLIC_HOST=mqtt.example.com MQTTCLOUD_BROKER_HOST=0.0.0.0 \\"),
    ("docs/serverless.md", 'echo "127.0.0.1 $HOST" | sudo tee -a /etc/hosts'),
    ("docs/operations.md", "git pull && .venv/bin/pip install -e ."),
    ("docs/operations.md", 'pg_dump --format=custom --file=mqttcloud.pgdump "$PG_URL"'),
}  # fmt: skip


#: Pages whose shell blocks cannot run here, and why. The fix is the page's: mark such blocks `norun` (and
#: list them above) or make them runnable; then the entry goes (a stale entry fails the test).
UNRUNNABLE_PAGES = {
    "cluster.md": "starts nats-server and two brokers in the foreground, on fixed ports (4222, 1883)",
}


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def guide_blocks() -> list[Block]:
    return [block for page in pages() for block in shell_blocks(page, ROOT)]


def test_every_page_parses_and_norun_blocks_are_the_listed_ones() -> None:
    blocks = guide_blocks()
    shown = {(block.page, block.first_line) for block in blocks if not block.runs}
    assert shown == NORUN, f"norun blocks not listed: {shown - NORUN}; listed but gone: {NORUN - shown}"
    assert sum(block.runs for block in blocks) >= 4 * len(NORUN), "the guide is mostly examples that run"


def test_a_shell_fence_with_another_word_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```sh\necho ok\n```\n\n```bash no-run\necho never\n```\n")
    with pytest.raises(GuideError, match=r"page\.md:5: .*'bash no-run'"):
        shell_blocks(page, tmp_path)


def test_configuration_page_names_every_variable_the_code_reads() -> None:
    """Every `MQTTCLOUD_*` name in `src/` (the settings read them, messages name them) has its row."""
    names = {
        name
        for path in (ROOT / "src").rglob("*.py")
        for name in re.findall(r"MQTTCLOUD_[A-Z0-9_]+\b", path.read_text(encoding="utf-8"))
        if not name.endswith("_")  # a prefix, e.g. `MQTTCLOUD_ALARM_*` in a docstring
    }
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `(MQTTCLOUD_[A-Z0-9_]+)` \|", page, flags=re.MULTILINE))
    assert len(names) > 20, names
    assert names <= rows, f"not in docs/configuration.md: {sorted(names - rows)}"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    serve = ServeProcess(tmp_path_factory.mktemp("docs") / "data", serve_env(None, free_port_range()))
    serve.start()
    try:
        yield serve
    finally:
        serve.stop()
        print(f"--- serve log ---\n{serve.stderr()}")  # shown when a page failed


def _page_env(platform: ServeProcess) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MQTTCLOUD_")}
    env.update(
        BASE=platform.base_url,
        DATA_DIR=str(platform.data_dir),
        CA=str(platform.ca_path),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


@pytest.mark.parametrize("page", [p.relative_to(DOCS).as_posix() for p in pages()])
def test_page_examples_run(page: str, platform: ServeProcess, tmp_path: Path) -> None:
    blocks = [block for block in shell_blocks(DOCS / page, ROOT) if block.runs]
    if page in UNRUNNABLE_PAGES:
        assert blocks, f"docs/{page} runs now: remove it from UNRUNNABLE_PAGES"
        pytest.skip(f"docs/{page}: {UNRUNNABLE_PAGES[page]}")
    if not blocks:
        pytest.skip(f"docs/{page} has no shell example")
    process = subprocess.Popen(
        ["bash", "-c", script(blocks)],
        cwd=tmp_path,
        env=_page_env(platform),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: whatever a page leaves running is killed below
    )
    try:
        output, _ = process.communicate(timeout=PAGE_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"docs/{page} did not finish within {PAGE_TIMEOUT} s:\n{output}")
    finally:
        with contextlib.suppress(ProcessLookupError):  # the page's processes, if any are left
            os.killpg(process.pid, signal.SIGKILL)
    print(output)  # what each block printed: shown by `pytest -rP`, and on failure
    assert process.returncode == 0, f"docs/{page} failed (exit {process.returncode}):\n{output}"
