"""`hall-center calendar import NOTICE.txt [--to FILE] [--yes]`, run as hall IT runs it:
a subprocess on a temporary center config (pty for the question)."""
import os
import pty
import shutil
import subprocess
import sys
from datetime import date, datetime

import chinese_calendar

from center.config import load_config
from hallcore.hallclock import DEFAULT_TZ
from hallcore.workdays import HANDLING_WORKDAYS, WorkCalendar, deadline
from tests.support.notices import DATA, HYPOTHETICAL_2027
from tests.support.paths import CONFIG, REPO

NOTICE_2026 = DATA / "holiday-notice-2026.txt"
NOTICE_2027 = HYPOTHETICAL_2027
TIMEOUT_S = 60


def center_config(tmp_path, holiday_file=True):
    if holiday_file:
        shutil.copy(CONFIG / "holidays.toml", tmp_path / "holidays.toml")
    p = tmp_path / "center.toml"
    p.write_text('[center]\ndatabase = "center.sqlite3"\n'
                 + ('holiday_file = "holidays.toml"\n' if holiday_file else ""), encoding="utf-8")
    return p


def hall_center(*args, stdin=subprocess.DEVNULL):
    return subprocess.run([sys.executable, "-m", "center.cli", "calendar", "import", *map(str, args)],
                          cwd=REPO, stdin=stdin, capture_output=True, text=True, timeout=TIMEOUT_S)


def verified_in(path, day):
    return deadline(datetime.combine(day, datetime.min.time(), tzinfo=DEFAULT_TZ).replace(hour=10),
                    HANDLING_WORKDAYS, calendar=WorkCalendar(path)).verified


def test_import_with_yes_writes_the_configured_holiday_file_and_2027_becomes_verified(tmp_path):
    cfg = center_config(tmp_path)
    holidays = tmp_path / "holidays.toml"
    holidays.chmod(0o640)                                    # e.g. root:hall, read by the service
    assert not verified_in(holidays, date(2027, 3, 10))      # the estimate, before any notice
    done = hall_center(NOTICE_2027, "--config", cfg, "--yes")
    assert done.returncode == 0, done.stderr
    assert "  春节\u3000  off 2027-02-05 周五 to 2027-02-12 周五 (8 days)\n" in done.stdout
    assert "上班 2027-01-31 周日, 2027-02-20 周六" in done.stdout
    assert "has no [2027] table (2027 is estimated today" in done.stdout
    assert "2027 is now verified" in done.stdout
    assert holidays.read_text(encoding="utf-8").startswith((CONFIG / "holidays.toml").read_text(encoding="utf-8"))
    assert verified_in(holidays, date(2027, 3, 10))
    calendar = WorkCalendar(holidays)
    assert not calendar.is_workday(date(2027, 2, 8)) and calendar.is_workday(date(2027, 2, 20))
    assert load_config(cfg).holiday_file == holidays          # the center still starts with it
    assert holidays.stat().st_mode & 0o777 == 0o640          # the file's mode is kept


def test_an_unimported_2027_stays_an_estimate(tmp_path):
    cfg = center_config(tmp_path)
    done = hall_center(NOTICE_2026, "--config", cfg, "--yes")
    assert done.returncode == 0, done.stderr
    holidays = tmp_path / "holidays.toml"
    assert WorkCalendar(holidays).overrides.keys() == {2026}
    assert verified_in(holidays, date(2026, 6, 10)) and not verified_in(holidays, date(2027, 3, 10))
    # the written 2026 is the package's official 2026, day by day
    calendar, day = WorkCalendar(holidays), date(2026, 1, 1)
    while day.year == 2026:
        assert calendar.is_workday(day) == chinese_calendar.is_workday(day), day
        day = day.fromordinal(day.toordinal() + 1)


def test_to_creates_a_new_override_file(tmp_path):
    target = tmp_path / "new-holidays.toml"
    done = hall_center(NOTICE_2027, "--to", target, "--yes")
    assert done.returncode == 0, done.stderr
    assert target.read_text(encoding="utf-8").startswith("# Holiday override file")
    assert target.stat().st_mode & 0o777 == 0o644
    assert verified_in(target, date(2027, 10, 8))
    again = hall_center(NOTICE_2027, "--to", target)          # unchanged: no question, nothing written
    assert again.returncode == 0 and "already holds 2027's schedule" in again.stdout


def test_without_yes_and_without_a_terminal_it_refuses(tmp_path):
    cfg = center_config(tmp_path)
    before = (tmp_path / "holidays.toml").read_bytes()
    done = hall_center(NOTICE_2027, "--config", cfg)
    assert done.returncode == 2
    assert "no terminal to confirm on" in done.stderr and "--yes" in done.stderr
    assert "off 2027-01-01 周五 to 2027-01-03 周日" in done.stdout     # shown, so it can be checked first
    assert (tmp_path / "holidays.toml").read_bytes() == before


def test_a_bad_notice_exits_2_naming_the_line_and_writes_nothing(tmp_path):
    cfg = center_config(tmp_path)
    before = (tmp_path / "holidays.toml").read_bytes()
    bad = tmp_path / "notice.txt"
    bad.write_text(NOTICE_2027.read_text(encoding="utf-8").replace("5月8日（周六）", "5月7日（周六）"),
                   encoding="utf-8")
    done = hall_center(bad, "--config", cfg, "--yes")
    assert done.returncode == 2
    assert f"{bad}: line 15: 5月7日 (2027-05-07) is a 周五, the notice says 周六" in done.stderr
    assert "nothing written" in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "holidays.toml").read_bytes() == before


def test_a_gb18030_notice_is_read(tmp_path):
    notice = tmp_path / "notice-gbk.txt"
    notice.write_bytes(NOTICE_2026.read_text(encoding="utf-8").encode("gb18030"))
    done = hall_center(notice, "--to", tmp_path / "h.toml", "--yes")
    assert done.returncode == 0, done.stderr
    assert WorkCalendar(tmp_path / "h.toml").overrides[2026].workdays == {
        d for d in chinese_calendar.workdays if d.year == 2026}


def test_no_holiday_file_to_write_is_a_clear_refusal(tmp_path):
    done = hall_center(NOTICE_2027, "--config", center_config(tmp_path, holiday_file=False), "--yes")
    assert done.returncode == 2 and "names no holiday_file" in done.stderr and "--to FILE" in done.stderr
    done = hall_center(NOTICE_2027, "--yes")
    assert done.returncode == 2 and "--config" in done.stderr


def ask(tmp_path, answer: bytes):
    """Run the import with a terminal on stdin and type `answer`."""
    cfg = center_config(tmp_path)
    master, slave = pty.openpty()
    try:
        os.write(master, answer)             # held by the terminal until the question reads it
        done = hall_center(NOTICE_2027, "--config", cfg, stdin=slave)
    finally:
        os.close(slave)
        os.close(master)
    return done, tmp_path / "holidays.toml"


def test_at_a_terminal_it_asks_and_yes_writes(tmp_path):
    done, holidays = ask(tmp_path, b"y\n")
    assert done.returncode == 0, done.stderr
    assert f"write 2027 into {holidays}? [y/N]" in done.stdout
    assert verified_in(holidays, date(2027, 3, 10))


def test_at_a_terminal_anything_but_yes_writes_nothing(tmp_path):
    done, holidays = ask(tmp_path, b"\n")
    assert done.returncode == 1 and "nothing written" in done.stdout
    assert holidays.read_bytes() == (CONFIG / "holidays.toml").read_bytes()
