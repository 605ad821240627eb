"""The [center] and [agent] tables (agent/config.py)."""
from datetime import timedelta

import pytest

from agent.config import load_config
from hallcore.config import ConfigError
from tests.support.agent_proc import write_tablet_config
from tests.support.paths import CONFIG


def cfg(tmp_path, **kw):
    return write_tablet_config(tmp_path, "https://center.example.gov.cn/", "tok", **kw)


def test_reads_center_and_agent_tables_with_paths_relative_to_the_file(tmp_path):
    (tmp_path / "ca.pem").write_text("x")
    c = load_config(cfg(tmp_path, center={"ca_file": "ca.pem"},
                        agent={"alert_before_hours": 2.5, "batch_size": 50},
                        mqtt={"host": "127.0.0.1", "port": 1884, "topic": "hall/taojiang/alerts"}))
    assert c.device_id == "tab-03" and c.center.url == "https://center.example.gov.cn"
    assert c.center.ca_file == tmp_path / "ca.pem" and c.center.read_timeout == 2.0
    assert c.agent.alert_before == timedelta(hours=2.5) and c.agent.batch_size == 50
    assert c.agent.mqtt.broker.port == 1884 and c.agent.mqtt.topic == "hall/taojiang/alerts"
    assert c.agent.mqtt.broker.client_id == "agent-taojiang-03"   # never the kiosk's client id


def test_defaults_without_an_agent_table(tmp_path):
    path = cfg(tmp_path)
    text = path.read_text().split("[agent]")[0]
    path.write_text(text)
    c = load_config(path)
    assert c.agent.heartbeat_interval == 60 and c.agent.batch_size == 200 and c.agent.mqtt is None
    assert c.center.total_timeout == 30
    assert c.agent.status_file == tmp_path / "agent-status.json"


@pytest.mark.parametrize("over,key,words", [
    ({"center": {"url": "http://center.example.gov.cn"}}, "center.url", "https"),
    ({"center": {"url": "ftp://x"}}, "center.url", "http(s)"),
    ({"center": {"ca_file": "missing.pem"}}, "center.ca_file", "does not exist"),
    ({"center": {"read_timeout": "10"}}, "center.read_timeout", "without quotes"),
    ({"center": {"total_timeout": 120}}, "center.total_timeout", "out of range"),
    ({"agent": {"batch_size": 501}}, "agent.batch_size", "out of range"),
    ({"agent": {"backoff_base": 10, "backoff_cap": 5}}, "agent.backoff_cap", "at least backoff_base"),
    ({"agent": {"heartbeat_intervall": 60}}, "agent.heartbeat_intervall", "not a known key"),
    ({"mqtt": {"host": "127.0.0.1", "topic": "hall/#"}}, "agent.mqtt.topic", "wildcard"),
    ({"mqtt": {"host": "127.0.0.1", "password_file": "pw"}}, "agent.mqtt.password_file", "does not exist"),
])
def test_bad_values_name_the_key_and_the_fix(tmp_path, over, key, words):
    with pytest.raises(ConfigError) as e:
        load_config(cfg(tmp_path, **over))
    assert e.value.key == key and words in str(e.value)


def test_plain_http_is_allowed_only_to_loopback(tmp_path):
    path = write_tablet_config(tmp_path, "http://127.0.0.1:8000", "tok")
    assert load_config(path).center.url == "http://127.0.0.1:8000"


def test_missing_token_file_is_a_config_error(tmp_path):
    path = cfg(tmp_path)
    (tmp_path / "device.token").unlink()
    with pytest.raises(ConfigError, match="center.token_file"):
        load_config(path)


def test_a_token_file_that_is_not_a_regular_file_is_a_config_error(tmp_path):
    import os
    path = cfg(tmp_path)
    token = tmp_path / "device.token"
    token.unlink()
    os.mkfifo(token)           # reading it would block until someone writes
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert e.value.key == "center.token_file" and f"{token} is a named pipe (FIFO)" in str(e.value)


def test_example_and_demo_files_hold_valid_agent_tables(tmp_path):
    import shutil
    src = CONFIG
    shutil.copy(src / "holidays.toml", tmp_path)
    (tmp_path / "tok").write_text("t")
    text = (src / "example.toml").read_text(encoding="utf-8").replace("/etc/hall/device-token", str(tmp_path / "tok"))
    (tmp_path / "example.toml").write_text(text, encoding="utf-8")
    c = load_config(tmp_path / "example.toml")
    assert c.center.url.startswith("https://") and c.agent.heartbeat_interval == 60
    demo = (src / "demo.toml").read_text(encoding="utf-8").replace("../var/demo/device.token", str(tmp_path / "tok"))
    (tmp_path / "demo.toml").write_text(demo, encoding="utf-8")
    d = load_config(tmp_path / "demo.toml")
    assert d.agent.mqtt.broker.port == 18830 and d.agent.mqtt.topic == "hall/taojiang/alerts"
