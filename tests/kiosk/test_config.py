"""The kiosk's tables of the tablet file (kiosk/config.py) and `hall-kiosk --config`."""
import subprocess
import sys

import pytest

from hallcore.config import ConfigError
from hallcore.record import DEFAULT_BAD_REVIEW_REASONS
from kiosk.admin import verify_pin
from kiosk.cli import main
from kiosk.config import DEFAULT_FONT, load_kiosk_config
from kiosk.flow import FlowSettings

from tests.support.tablet_toml import DROP, write_tablet
from tests.support.paths import CONFIG, REPO



def load(tmp_path, changes=None):
    return load_kiosk_config(write_tablet(tmp_path, changes))


def test_defaults_are_the_flow_s_defaults(tmp_path):
    c = load(tmp_path)
    d = FlowSettings("tab-03", "430922", "taojiang", "03")
    for name in ("scale", "reasons", "reminder_after_s", "timeout_s", "thanks_s", "carry_over_guard_s",
                 "stale_after_s", "closing"):
        assert getattr(c.flow, name) == getattr(d, name), name
    assert c.flow.calendar is c.tablet.calendar
    assert (c.fullscreen, c.font, c.audio, c.volume, c.pin_hash) == (True, DEFAULT_FONT, True, 0.8, None)
    assert c.queue_table().str("source") == "mqtt"


def test_test_mode_keeps_records_and_journal_apart_from_what_the_agent_sends(tmp_path):
    normal = load(tmp_path)
    assert normal.test_mode is False
    assert (normal.outbox_folder, normal.journal_path) == (normal.tablet.outbox_folder, normal.tablet.journal_path)
    test = load(tmp_path, {"kiosk.test_mode": True})
    assert test.outbox_folder == test.tablet.storage / "test-outbox" != test.tablet.outbox_folder
    assert test.journal_path == test.tablet.storage / "test-journal.json" != test.tablet.journal_path


def test_example_file_loads_with_every_documented_value():
    c = load_kiosk_config(CONFIG / "example.toml")
    assert c.flow.reasons == DEFAULT_BAD_REVIEW_REASONS and c.flow.scale == 3
    assert verify_pin("123456", c.pin_hash)
    assert c.queue["mqtt"]["port"] == 1883


def test_demo_file_loads_windowed_on_the_demo_broker():
    c = load_kiosk_config(CONFIG / "demo.toml")
    assert c.tablet.device_id == "demo-01" and c.fullscreen is False
    assert c.queue == {"source": "mqtt", "mqtt": {"host": "127.0.0.1", "port": 18830}}
    assert verify_pin("123456", c.pin_hash)


def test_kiosk_values_reach_the_flow(tmp_path):
    font = tmp_path / "hall.ttf"
    font.write_bytes(b"\0")
    c = load(tmp_path, {"kiosk.scale": 5, "kiosk.reasons": ["态度差", "其他"], "kiosk.timeout_s": 90,
                        "kiosk.reminder_after_s": 45.5, "kiosk.font": "hall.ttf", "kiosk.volume": 0,
                        "kiosk.audio": False, "office.closing": "18:00"})
    assert (c.flow.scale, c.flow.reasons, c.flow.timeout_s, c.flow.reminder_after_s) == (
        5, ("态度差", "其他"), 90.0, 45.5)
    assert (c.font, c.volume, c.audio, c.flow.closing.hour) == (font, 0.0, False, 18)


@pytest.mark.parametrize("changes,key,fix", [
    ({"kiosk.scale": 4}, "kiosk.scale", "use one of: 3, 5"),
    ({"kiosk.scale": "3"}, "kiosk.scale", "without quotes"),
    ({"kiosk.reasons": []}, "kiosk.reasons", "list 1 to 20"),
    ({"kiosk.reasons": ["乱收费", "乱收费"]}, "kiosk.reasons", "remove the duplicate"),
    ({"kiosk.reasons": "乱收费"}, "kiosk.reasons", '["a", "b"]'),
    ({"kiosk.reasons": ["长" * 201]}, "kiosk.reasons", "shorten it"),
    ({"kiosk.reminder_after_s": "30"}, "kiosk.reminder_after_s", "without quotes"),
    ({"kiosk.reminder_after_s": 2}, "kiosk.reminder_after_s", "from 5 to 600"),
    ({"kiosk.timeout_s": 20}, "kiosk.timeout_s", "reminder must come before the timeout"),
    ({"kiosk.thanks_s": 0}, "kiosk.thanks_s", "from 1 to 30"),
    ({"kiosk.carry_over_guard_s": -0.1}, "kiosk.carry_over_guard_s", "from 0 to 2"),
    ({"kiosk.stale_after_s": 10}, "kiosk.stale_after_s", "from 60 to 86400"),
    ({"kiosk.fullscreen": "yes"}, "kiosk.fullscreen", "true or false"),
    ({"kiosk.font": "missing.ttf"}, "kiosk.font", "fix the path"),
    ({"kiosk.volume": 1.5}, "kiosk.volume", "from 0.0 to 1.0"),
    ({"kiosk.scael": 5}, "kiosk.scael", "check the spelling"),
    ({"admin.pin_hash": "1234"}, "admin.pin_hash", "hall-kiosk hash-pin"),
    ({"admin.pin_hash": "pbkdf2_sha256$1000$" + "ab" * 16 + "$" + "cd" * 32}, "admin.pin_hash", "hash-pin"),
    ({"admin.pin": "1234"}, "admin.pin", "check the spelling"),
    ({"queue": DROP}, "queue", 'source = "mqtt" or "serial"'),
    ({"device.region_code": "4309"}, "device.region_code", "430922"),
    ({"queue.source": "pigeon"}, "queue.source", "use one of: mqtt, serial"),
    ({"queue.mqtt.host": DROP}, "queue.mqtt.host", "add `host"),
    ({"queue.mqtt.port": 70000}, "queue.mqtt.port", "from 1 to 65535"),
    ({"queue.source": "serial"}, "queue.serial.port", "add `port"),
])
def test_each_bad_value_names_its_key_and_the_fix(tmp_path, changes, key, fix):
    with pytest.raises(ConfigError) as e:
        load(tmp_path, changes)
    assert e.value.key == key and fix in str(e.value)


def test_a_serial_queue_with_a_vendor_profile_loads(tmp_path):
    c = load(tmp_path, {"queue.source": "serial", "queue.serial.port": "/dev/ttyUSB0",
                        "queue.serial.profile": str(CONFIG / "profiles" / "xunhu-csv.toml")})
    assert c.open_source().settings.port == "/dev/ttyUSB0"


def test_agent_tables_are_left_to_the_agent(tmp_path):
    c = load(tmp_path, {"center.url": "https://center.example.gov.cn", "agent.batch_size": 100})
    assert c.tablet.device_id == "tab-03"


# ------------------------------------------------------------------ hall-kiosk

def test_cli_check_validates_and_exits_zero(capsys):
    assert main(["--config", str(CONFIG / "demo.toml"), "--check"]) == 0
    assert "demo-01" in capsys.readouterr().out


def test_cli_bad_config_exits_non_zero_naming_the_key(tmp_path, capsys):
    path = write_tablet(tmp_path, {"kiosk.scale": 4})
    assert main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "kiosk.scale" in err and "use one of: 3, 5" in err


def test_cli_missing_file_and_missing_option_exit_non_zero(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([]) == 2
    assert "--config FILE is required" in capsys.readouterr().err


def test_hash_pin_command_prints_a_hash_that_verifies():
    out = subprocess.run([sys.executable, "-m", "kiosk.cli", "hash-pin"], input="246810\n", text=True,
                         capture_output=True, timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert verify_pin("246810", out.stdout.strip()) and not verify_pin("246811", out.stdout.strip())


def test_hash_pin_command_refuses_a_bad_pin():
    out = subprocess.run([sys.executable, "-m", "kiosk.cli", "hash-pin"], input="12a4\n", text=True,
                         capture_output=True, timeout=60, cwd=REPO)
    assert out.returncode == 2 and "4 to 12 digits" in out.stderr
