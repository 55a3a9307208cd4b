"""`deployments.failure`: a failed broker's reason is the supervisor's detail plus the broker's last error."""

from pathlib import Path

from mqttcloud.control.deployments import failure

HEADER = "--- 2026-12-10T10:00:00Z spawn: python -m mqttcloud broker --config spec.json\n"


def write_log(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broker.log"
    path.write_text(text)
    return path


def test_last_error_line_of_the_last_run_is_the_reason(tmp_path: Path) -> None:
    log = write_log(
        tmp_path,
        HEADER
        + "2026-12-10 10:00:01,000 ERROR mqttcloud.runtime.main: cannot start: first\n"
        + HEADER
        + "2026-12-10 10:00:02,000 ERROR mqttcloud.runtime.main: cannot start: second\n"
        + "2026-12-10 10:00:02,100 INFO mqttcloud.runtime.server: closed\n",
    )
    assert failure.reason("exited with code 1", log) == "exited with code 1: cannot start: second"


def test_an_older_runs_error_is_not_the_reason(tmp_path: Path) -> None:
    log = write_log(
        tmp_path,
        HEADER + "2026-12-10 10:00:01,000 ERROR x: old\n" + HEADER + "2026-12-10 10:00:02,000 INFO x: ok\n",
    )
    assert failure.reason("exited with code -9", log) == "exited with code -9"


def test_an_uncaught_exception_gives_its_last_line(tmp_path: Path) -> None:
    log = write_log(
        tmp_path,
        HEADER + 'Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: boom\n',
    )
    assert failure.broker_error(log) == "RuntimeError: boom"


def test_a_usage_error_is_the_reason(tmp_path: Path) -> None:
    log = write_log(tmp_path, HEADER + "mqttcloud broker: spec.json: no such file\n")
    assert failure.broker_error(log) == "mqttcloud broker: spec.json: no such file"


def test_no_log_keeps_the_detail_and_a_long_reason_is_cut(tmp_path: Path) -> None:
    assert failure.reason("spawn failed", tmp_path / "missing.log") == "spawn failed"
    log = write_log(tmp_path, HEADER + "2026-12-10 10:00:01,000 CRITICAL x: " + "e" * 2000 + "\n")
    text = failure.reason("exited with code 1", log)
    assert len(text) == failure.MAX_REASON
    assert text.endswith("…")


def test_a_large_log_without_header_drops_the_cut_line(tmp_path: Path) -> None:
    log = write_log(tmp_path, "x" * 40_000 + " ERROR y: cut\n" + "ValueError: whole\n")
    assert failure.broker_error(log) == "ValueError: whole"
