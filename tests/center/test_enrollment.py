"""Only from the window it claims (issue 11): a record's hall, window and region
must be the sending device's enrollment; moving a tablet is a logged command.
On SQLite and PostgreSQL, through the real app."""
import logging
from datetime import datetime

import pytest
from sqlalchemy import func, select

from center.cli import main
from center.config import load_config
from center.db import cases, devices, records
from center.enrollment import Enrollment, mismatch
from center.service import Center, CenterError
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import API_NOW as NOW, Clock, api_client, make_center, make_vote, post_votes



def count(api_center, table):
    with api_center.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_a_device_cannot_file_a_bad_review_for_another_window(api_center):
    with api_client(api_center, "tab-a", window_id="03") as tablet_api:
        own = make_vote("tab-a", 1, bad=True)
        other = make_vote("tab-a", 2, bad=True, window_id="05")
        res = post_votes(tablet_api, [other, own], device_id="tab-a").json()["results"]
    assert [x["status"] for x in res] == ["rejected", "stored"]
    assert "window_id '05'" in res[0]["reason"] and "window '03'" in res[0]["reason"]
    assert "move-device" in res[0]["reason"]
    with api_center.engine.connect() as conn:
        assert conn.execute(select(cases.c.window_id)).scalars().all() == ["03"]   # no case for window 05


def test_hall_and_region_must_match_the_enrollment_too(api_center):
    with api_client(api_center, "tab-a", region_code="430922") as tablet_api:
        res = post_votes(tablet_api, [make_vote("tab-a", 1, hall_id="yiyang"),
                                  make_vote("tab-a", 2, region_code="430900")],
                         device_id="tab-a").json()["results"]
    assert [x["status"] for x in res] == ["rejected", "rejected"]
    assert "hall_id 'yiyang'" in res[0]["reason"] and "region_code '430900'" in res[1]["reason"]
    assert count(api_center, records) == 0
    with api_center.engine.connect() as conn:
        assert conn.execute(select(devices.c.rejected_count)).scalar() == 2


def test_without_a_region_the_centers_default_applies(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(NOW), region_code="430922")
    try:
        with api_client(c, "tab-a") as tablet_api:                  # enrolled without --region
            res = post_votes(tablet_api, [make_vote("tab-a", 1, region_code="110101"), make_vote("tab-a", 2)],
                             device_id="tab-a").json()["results"]
        assert [x["status"] for x in res] == ["rejected", "stored"]
        with c.engine.connect() as conn:
            assert conn.execute(select(devices.c.region_code)).scalar() == "430922"
    finally:
        c.engine.dispose()


def test_a_device_enrolled_without_any_region_takes_its_first_records_and_keeps_it(api_center):
    with api_client(api_center, "tab-a") as tablet_api:
        first = post_votes(tablet_api, [make_vote("tab-a", 1)], device_id="tab-a").json()["results"]
        later = post_votes(tablet_api, [make_vote("tab-a", 2, region_code="110101")],
                           device_id="tab-a").json()["results"]
    assert first[0]["status"] == "stored" and later[0]["status"] == "rejected"
    log = api_center.enrollment_log("tab-a")
    assert [e["action"] for e in log] == ["enroll", "region"]
    assert log[1]["enrollment"]["region_code"] == "430922" and log[1]["previous"]["region_code"] is None


def test_moving_a_tablet_is_logged_and_its_new_window_is_accepted(api_center, caplog):
    with api_client(api_center, "tab-a", window_id="03", region_code="430922") as tablet_api:
        with caplog.at_level(logging.INFO, logger="center.devices"):
            before, after, _beat = api_center.move_device("tab-a", "taojiang", "05")
        assert before == Enrollment("tab-a", "taojiang", "03", "430922")
        assert after == Enrollment("tab-a", "taojiang", "05", "430922")
        res = post_votes(tablet_api, [make_vote("tab-a", 1, window_id="03"), make_vote("tab-a", 2, window_id="05")],
                         device_id="tab-a").json()["results"]
    assert [x["status"] for x in res] == ["rejected", "stored"]
    assert any("tab-a moved" in m and "03 -> 05" in m for m in caplog.messages)
    log = api_center.enrollment_log("tab-a")
    assert [e["action"] for e in log] == ["enroll", "move"]
    assert log[1]["previous"]["window_id"] == "03" and log[1]["enrollment"]["window_id"] == "05"
    with pytest.raises(CenterError, match="no device"):
        api_center.move_device("tab-zz", "taojiang", "05")
    with pytest.raises(CenterError, match="6-digit"):
        api_center.move_device("tab-a", "taojiang", "05", "43")


def test_mismatch_is_pure_and_names_every_wrong_field():
    e = Enrollment("tab-a", "taojiang", "03", None)
    rec = {"hall_id": "x", "window_id": "04", "region_code": "430922"}
    why = mismatch(rec, e, None)
    assert "hall_id 'x'" in why and "window_id '04'" in why and "region_code" not in why
    assert mismatch(dict(rec, hall_id="taojiang", window_id="03"), e, "430922") is None


def test_cli_enrolls_with_a_region_and_moves_a_tablet(tmp_path, capsys):
    cfg = tmp_path / "center.toml"
    cfg.write_text('[center]\ndatabase = "center.sqlite3"\nregion_code = "430922"\n', encoding="utf-8")
    assert main(["add-device", "tab-03", "--hall", "taojiang", "--window", "03", "--config", str(cfg)]) == 0
    assert "region 430922" in capsys.readouterr().out
    c = Center(load_config(cfg))
    c.heartbeat("tab-03", {"pending": 4, "clock": datetime.now(DEFAULT_TZ).isoformat()})
    c.engine.dispose()
    assert main(["move-device", "tab-03", "--hall", "taojiang", "--window", "05", "--region", "430900",
                 "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "window 03 -> 05" in out and "region 430922 -> 430900" in out
    assert "4 records still on the tablet" in out and "drain" in out
    assert main(["move-device", "tab-03", "--hall", "taojiang", "--window", "05", "--region", "4309",
                 "--config", str(cfg)]) == 2
    assert "6-digit" in capsys.readouterr().err
    assert main(["add-device", "tab-04", "--hall", "h", "--window", "04", "--region", "x",
                 "--config", str(cfg)]) == 2
