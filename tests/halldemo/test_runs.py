"""The demo's run folders and its verdict (halldemo/runs.py)."""
from __future__ import annotations

from datetime import datetime

from halldemo.runs import (KEEP_RUNS, choose_run_folder, error_lines, first_free_ticket, log_errors,
                           run_name, runs_to_prune)

T = datetime(2026, 12, 2, 9, 30, 5)


def test_a_run_name_sorts_by_time_and_never_repeats():
    assert run_name(T, []) == "run-20261202-093005"
    assert run_name(T, ["run-20261202-093005"]) == "run-20261202-093005-2"
    assert run_name(T, ["run-20261202-093005", "run-20261202-093005-2"]) == "run-20261202-093005-3"


def test_only_run_folders_beyond_the_newest_few_are_pruned():
    names = [f"run-2026120{d}-000000" for d in range(1, 8)] + ["latest", "notes", "run-x"]
    assert runs_to_prune(names, keep=5) == ["run-20261201-000000", "run-20261202-000000"]
    same_second = ["run-20261202-093005-10", "run-20261202-093005-2", "run-20261202-093005"]
    assert runs_to_prune(same_second, keep=1) == ["run-20261202-093005", "run-20261202-093005-2"]
    assert runs_to_prune(names[:3]) == []


def test_every_run_gets_a_fresh_folder_and_keep_state_reuses_the_newest(tmp_path):
    root = tmp_path / "var" / "demo"
    (root / "notes").mkdir(parents=True)
    first = choose_run_folder(root, T, keep_state=False)
    (first / "kiosk-journal.json").write_text("{}")
    second = choose_run_folder(root, T, keep_state=False)             # same second: still its own
    assert first != second and not any(second.iterdir())
    assert (root / "latest").resolve() == second
    assert choose_run_folder(root, T, keep_state=True) == second
    for minute in range(KEEP_RUNS + 2):
        choose_run_folder(root, T.replace(hour=10, minute=minute), keep_state=False)
    runs = sorted(p.name for p in root.iterdir() if p.name.startswith("run-"))
    assert len(runs) == KEEP_RUNS and first.name not in runs
    assert (root / "notes").is_dir()                                   # not a run folder: left alone


def test_keep_state_without_an_earlier_run_starts_one(tmp_path):
    folder = choose_run_folder(tmp_path, T, keep_state=True)
    assert folder.name == "run-20261202-093005" and folder.is_dir()


def test_error_lines_are_counted_in_every_log_of_the_run(tmp_path):
    assert error_lines(['{"level": "ERROR", "msg": "x"}', "2026 CRITICAL kiosk: y", "Traceback (most recent",
                        "1796177906: Error: Address already in use", "INFO batch sent", '"last_error": null',
                        "OSError is a name, not a level"]) == 4
    (tmp_path / "center.log").write_text("INFO ok\nERROR paho.mqtt.client: x\n")
    (tmp_path / "agent.stderr").write_text("Traceback (most recent call last):\n")
    (tmp_path / "agent.log.1").write_text("{\"level\": \"CRITICAL\"}\n")
    (tmp_path / "tablet.toml").write_text("ERROR = 1\n")                   # not a log
    assert log_errors(tmp_path) == {"agent.log.1": 1, "agent.stderr": 1, "center.log": 1}


def test_a_kept_state_continues_after_the_tickets_already_evaluated():
    assert first_free_ticket([]) == 1
    assert first_free_ticket(["A001", "A007", "A003", "B900", "Axyz"]) == 8
