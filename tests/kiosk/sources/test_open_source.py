"""open_source: the [queue] table picks and validates a ticket source."""
import re
import tomllib
from pathlib import Path

import pytest

from hallcore.config import ConfigError, Table
from kiosk.sources import open_source
from kiosk.sources.mqtt import MqttSource
from kiosk.sources.serialport import SerialSource

HALL, WINDOW = "taojiang", "03"


def readme_queue_examples():
    text = Path("README.md").read_text(encoding="utf-8")
    section = text.split("## Queue-system links (ticket sources)")[1].split("\n## ")[0]
    return [tomllib.loads(block) for block in re.findall(r"```toml\n(.*?)```", section, re.S)]


def test_readme_examples_are_valid_configs(tmp_path):
    for name in ("certs/hall-ca.pem", "certs/kiosk03.pem", "certs/kiosk03.key", "secrets/mqtt-password"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x\n")
    (tmp_path / "profiles").symlink_to(Path("config/profiles").resolve())
    mqtt, serial = readme_queue_examples()
    src = open_source(Table(mqtt["queue"], "queue"), hall_id=HALL, window_id=WINDOW, config_dir=tmp_path)
    assert isinstance(src, MqttSource)
    assert (src.settings.tls, src.settings.password, src.settings.port) == (True, "x", 8883)
    src = open_source(Table(serial["queue"], "queue"), hall_id=HALL, window_id=WINDOW, config_dir=tmp_path)
    assert isinstance(src, SerialSource) and src.settings.profile.name == "default"


def test_defaults_are_9600_8n1_gbk_and_the_profiles_encoding(tmp_path):
    s = open_source(Table({"source": "serial", "serial": {"port": "/dev/ttyUSB0"}}, "queue"),
                    hall_id=HALL, window_id=WINDOW, config_dir=tmp_path).settings
    assert (s.baud, s.bytesize, s.parity, s.stopbits, s.encoding) == (9600, 8, "N", 1.0, "gbk")
    s = open_source(Table({"source": "serial", "serial": {"port": "/dev/ttyUSB0",
                                                          "profile": "profiles/bracket-kv.toml"}}, "queue"),
                    hall_id=HALL, window_id=WINDOW, config_dir=Path("config")).settings
    assert s.encoding == "utf-8"


def test_unknown_source_and_unknown_queue_key_are_rejected(tmp_path):
    with pytest.raises(ConfigError) as e:
        open_source(Table({"source": "modbus"}, "queue"), hall_id=HALL, window_id=WINDOW, config_dir=tmp_path)
    assert e.value.key == "queue.source"
    with pytest.raises(ConfigError) as e:
        open_source(Table({"source": "mqtt", "mqtt": {"host": "h"}, "sorce": 1}, "queue"),
                    hall_id=HALL, window_id=WINDOW, config_dir=tmp_path)
    assert e.value.key == "queue.sorce"
