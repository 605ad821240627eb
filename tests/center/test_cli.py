"""hall-center commands (center/cli.py) and the center's config file (center/config.py)."""
import os
import re
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, select

from hallcore.hallclock import DEFAULT_TZ
from center.auth import check_password, token_hash
from center.cli import main
from center.config import ConfigError, load_config
from center.db import devices, users
from tests.support.paths import REPO



def config(tmp_path, extra=""):
    p = tmp_path / "center.toml"
    p.write_text(f'[center]\ndatabase = "center.sqlite3"\n{extra}', encoding="utf-8")
    return p


def rows(tmp_path, table):
    e = create_engine(f"sqlite:///{tmp_path / 'center.sqlite3'}")
    with e.connect() as conn:
        out = conn.execute(select(table)).all()
    e.dispose()
    return out


def test_example_config_loads():
    cfg = load_config(REPO / "config" / "center.example.toml")
    assert cfg.database.startswith("sqlite:///") and cfg.max_batch == 500
    assert cfg.department("03") == "不动产登记"
    assert str(cfg.timezone) == "Asia/Shanghai"
    assert cfg.alerts.lease_s == 120


def test_the_centers_hall_zone_is_an_iana_name(tmp_path):
    assert str(load_config(config(tmp_path, 'timezone = "Asia/Urumqi"\n')).timezone) == "Asia/Urumqi"
    assert load_config(config(tmp_path)).timezone is DEFAULT_TZ


def test_add_device_prints_the_token_once_and_stores_only_its_hash(tmp_path, capsys):
    assert main(["add-device", "tab-03", "--hall", "taojiang", "--window", "03",
                 "--config", str(config(tmp_path))]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    (dev,) = rows(tmp_path, devices)
    assert dev.token_hash == token_hash(token) and token not in str(tuple(dev))


def test_enrolling_a_device_twice_fails_with_a_hint(tmp_path, capsys):
    args = ["add-device", "tab-03", "--hall", "h", "--window", "03", "--config", str(config(tmp_path))]
    main(args)
    assert main(args) == 2
    assert "already enrolled" in capsys.readouterr().err


def test_rotate_token_replaces_the_old_one(tmp_path, capsys):
    cfg = str(config(tmp_path))
    main(["add-device", "tab-03", "--hall", "h", "--window", "03", "--config", cfg])
    old = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["rotate-token", "tab-03", "--config", cfg]) == 0
    new = capsys.readouterr().out.strip().splitlines()[-1]
    (dev,) = rows(tmp_path, devices)
    assert new != old and dev.token_hash == token_hash(new)


def test_add_user_hashes_the_password_from_a_file(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("s3cret-pass\n")
    assert main(["add-user", "wang", "--role", "handler", "--window", "03",
                 "--password-file", str(pw), "--config", str(config(tmp_path))]) == 0
    (u,) = rows(tmp_path, users)
    assert (u.role, u.window_id) == ("handler", "03")
    assert "s3cret" not in u.password_hash and check_password("s3cret-pass", u.password_hash)
    assert not check_password("wrong", u.password_hash)


def test_handler_without_window_is_refused(tmp_path, capsys):
    pw = tmp_path / "pw"
    pw.write_text("s3cret-pass")
    assert main(["add-user", "wang", "--role", "handler", "--password-file", str(pw),
                 "--config", str(config(tmp_path))]) == 2
    assert "--window" in capsys.readouterr().err


def test_log_lines_are_in_the_centers_hall_zone_on_a_utc_server(tmp_path):
    cfg = config(tmp_path, 'timezone = "Asia/Urumqi"\n')
    done = subprocess.run([sys.executable, "-m", "center.cli", "rebuild-stats", "--config", str(cfg)],
                          capture_output=True, text=True, cwd=REPO, timeout=120, env={**os.environ, "TZ": "UTC"})
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()             # the migrations' log lines
    assert lines and all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+06:00 INFO ", x) for x in lines), lines


@pytest.mark.parametrize("extra,key", [
    ("port = 0\n", "center.port"),
    ('closing = "half past five"\n', "center.closing"),
    ("colour = 1\n", "center.colour"),
    ("ingest_at_once = 0\n", "center.ingest_at_once"),
    ('timezone = "CST"\n', "center.timezone"),
    ('[alerts]\nwebhook_url = "ftp://x"\n', "alerts.webhook_url"),
    ("[alerts]\nlease_s = 1\n", "alerts.lease_s"),
])
def test_bad_config_value_names_the_key(tmp_path, extra, key):
    with pytest.raises(ConfigError) as e:
        load_config(config(tmp_path, extra))
    assert e.value.key == key


def test_missing_config_exits_2_with_the_reason(tmp_path, capsys):
    assert main(["add-device", "x", "--hall", "h", "--window", "w",
                 "--config", str(tmp_path / "nope.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
