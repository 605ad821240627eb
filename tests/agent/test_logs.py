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
