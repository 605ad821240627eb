"""[anomalies] in the center config (center/config.py, AnomalyConfig.from_table):
the example documents every threshold with its default, values are read
(shares exactly), and a bad or unknown key is refused by name."""
import tomllib
from dataclasses import fields
from fractions import Fraction
from pathlib import Path

import pytest

from center.anomalies import AnomalyConfig
from center.config import load_config
from hallcore.config import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "center.example.toml"


def write(tmp_path, anomalies: str) -> Path:
    p = tmp_path / "center.toml"
    p.write_text(f'[center]\ndatabase = "c.sqlite3"\n\n[anomalies]\n{anomalies}\n', encoding="utf-8")
    return p


def test_the_example_documents_every_threshold_with_its_default():
    table = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["anomalies"]
    defaults = AnomalyConfig()
    assert set(table) == {f.name for f in fields(AnomalyConfig)} | {"scan_every_s"}
    for f in fields(AnomalyConfig):
        assert Fraction(str(table[f.name])) == Fraction(getattr(defaults, f.name)), f.name
    cfg = load_config(EXAMPLE)
    assert cfg.anomalies == defaults and cfg.flag_scan_s == 3600
    text = EXAMPLE.read_text(encoding="utf-8").split("[anomalies]", 1)[1]
    for f in fields(AnomalyConfig):                # each key explained beside it
        line = next(x for x in text.splitlines() if x.startswith(f.name + " "))
        assert "#" in line, f.name


def test_the_values_are_read_and_shares_exactly(tmp_path):
    cfg = load_config(write(tmp_path, "scan_every_s = 600\nperiod_days = 7\nburst_count = 4\n"
                                      "participation_gap = 0.3\nvisit_max_disagreement = 0.25"))
    assert cfg.flag_scan_s == 600
    assert (cfg.anomalies.period_days, cfg.anomalies.burst_count) == (7, 4)
    assert cfg.anomalies.participation_gap == Fraction(3, 10)
    assert cfg.anomalies.visit_max_disagreement == Fraction(1, 4)
    assert load_config(write(tmp_path, "scan_every_s = 0")).flag_scan_s == 0     # the worker never scans


@pytest.mark.parametrize("line, key", [
    ("burst_secs = 60", "anomalies.burst_secs"),
    ("scan_every_s = -1", "anomalies.scan_every_s"),
    ("period_days = 0", "anomalies.period_days"),
    ("participation_gap = 1.5", "anomalies.participation_gap"),
    ('phone_min_bad = "3"', "anomalies.phone_min_bad"),
])
def test_a_bad_or_unknown_key_is_refused_by_name(tmp_path, line, key):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, line))
    assert key in str(e.value)
