"""JSON-lines logs with rotation (agent/logs.py)."""
import json
import logging

from agent.logs import setup_logging


def test_json_lines_with_extra_fields_and_rotation(tmp_path):
    log_file = tmp_path / "logs" / "agent.log"
    handler = setup_logging(log_file, max_bytes=10_000, backups=2)
    try:
        log = logging.getLogger("agent.test")
        for i in range(400):
            log.warning("batch sent", extra={"records": i, "problem": "timeout"})
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in log_file.parent.iterdir())
    assert files == ["agent.log", "agent.log.1", "agent.log.2"]
    assert all(p.stat().st_size <= 10_000 for p in log_file.parent.iterdir())
    last = json.loads(log_file.read_text().splitlines()[-1])
    assert last["msg"] == "batch sent" and last["records"] == 399 and last["level"] == "WARNING"


def test_an_extra_field_never_hides_the_lines_own_level(tmp_path):
    """A deadline alert's own "level" (overdue) once replaced ERROR in its log line."""
    log_file = tmp_path / "agent.log"
    handler = setup_logging(log_file)
    try:
        logging.getLogger("agent.test").error("bad review", extra={"level": "overdue", "ts": "x"})
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    line = json.loads(log_file.read_text())
    assert line["level"] == "ERROR" and line["msg"] == "bad review"
    assert line["extra_level"] == "overdue" and line["extra_ts"] == "x" and line["ts"] != "x"
