"""GET /api/v1/bundle (center/bundle.py, DESIGN.md §4.9) through the real app,
on SQLite and PostgreSQL: the device's token, its window's staff and photos,
the layered kiosk settings, the holiday file as the center reads it, the
ETag and its 304; the [bundle] config's errors; the heartbeat's bundle,
calendar and pinned fields and the device page that shows them."""
import struct

import pytest
from sqlalchemy import select

from center import directory_db
from center.calendarfile import LiveHolidayFile
from center.config import BundleConfig, load_config
from center.db import devices
from center.directory import diff, parse_toml
from hallcore.bundle import MAX_PHOTO_BYTES, parse_bundle
from hallcore.config import ConfigError
from hallcore.workdays import ESTIMATED, OVERRIDE
from tests.support.bundles import HOLIDAYS_2027, png
from tests.support.center import API_NOW, Clock, api_client, make_center
from tests.support.web import login

BUNDLE = "/api/v1/bundle"
DIRECTORY = """
[[department]]
id = "bdc"
name = "县不动产登记中心"
[[window]]
id = "03"
name = "不动产登记窗口"
department = "bdc"
[[window]]
id = "07"
name = "社保窗口"
department = "bdc"
[[staff]]
id = "1024"
name = "张三"
window = "03"
[[staff]]
id = "1025"
name = "李四"
window = "03"
[[staff]]
id = "../1026"
name = "王五"
window = "03"
[[staff]]
id = "2001"
name = "赵六"
window = "07"
"""


def put_directory(center, text=DIRECTORY):
    with center.engine.begin() as conn:
        directory_db.write(conn, diff(directory_db.load(conn), parse_toml(text), replace=False))


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "1024.png").write_bytes(png(60, 80))
    (folder / "1025.jpg").write_bytes(b"\xff\xd8 not really a jpeg")     # skipped: no image
    (folder / "1026.png").write_bytes(png(10, 10))                        # not "../1026": never looked up
    return folder


@pytest.fixture
def center(db_url, tmp_path, photos):
    holidays = tmp_path / "holidays.toml"
    holidays.write_text(HOLIDAYS_2027, encoding="utf-8")
    cfg = BundleConfig(staff_photos=photos, kiosk={"timeout_s": 90, "reasons": ["拖拉推诿", "其他"]},
                       halls={"taojiang": {"scale": 5}}, windows={"03": {"timeout_s": 120, "test_mode": True}})
    c = make_center(db_url, tmp_path, clock=Clock(API_NOW), bundle=cfg, holiday_file=holidays)
    put_directory(c)
    yield c
    c.engine.dispose()


def read(r, window="03"):
    assert r.status_code == 200, r.text
    b = parse_bundle(r.content, hall_id="taojiang", window_id=window)
    assert r.headers["etag"] == b.etag and r.headers["content-type"] == "application/json"
    return b


def test_the_bundle_needs_the_device_s_token(center):
    with api_client(center) as client:
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer nope"}):
            r = client.get(BUNDLE, headers=headers)
            assert r.status_code == 401 and set(r.json()) == {"error", "detail"}
            assert "etag" not in r.headers


def test_the_bundle_holds_what_the_tablets_of_the_window_should_know(center):
    with api_client(center) as client:
        b = read(client.get(BUNDLE))
    # the window's own table over the hall's over every tablet's
    assert b.kiosk == {"timeout_s": 120, "reasons": ["拖拉推诿", "其他"], "scale": 5, "test_mode": True}
    assert b.holidays_text == HOLIDAYS_2027 and sorted(b.holidays) == [2027]
    staff = {c.id: c for c in b.staff}
    assert set(staff) == {"1024", "1025", "../1026"}                 # window 03's, not 2001 of window 07
    assert staff["1024"].photo == png(60, 80) and staff["1024"].photo_type == "image/png"
    assert staff["1025"].photo is None and staff["../1026"].photo is None


def test_another_window_gets_its_own_staff_and_settings(center):
    with api_client(center, device_id="tab-07", window_id="07") as client:
        b = read(client.get(BUNDLE), window="07")
    assert [c.name for c in b.staff] == ["赵六"]
    assert b.kiosk == {"timeout_s": 90, "reasons": ["拖拉推诿", "其他"], "scale": 5}


def test_an_unchanged_bundle_is_a_304_without_a_body(center):
    with api_client(center) as client:
        first = client.get(BUNDLE)
        etag = first.headers["etag"]
        again = client.get(BUNDLE, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert "content-length" not in again.headers or again.headers["content-length"] == "0"
        assert client.get(BUNDLE, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
        assert client.get(BUNDLE, headers={"If-None-Match": '"other"'}).status_code == 200
        # the directory changes: a new version, the old tag gets the whole bundle
        put_directory(center, DIRECTORY.replace('name = "李四"', 'name = "李四娃"'))
        changed = client.get(BUNDLE, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert "李四娃" in [c.name for c in read(changed).staff]


def test_two_centers_on_the_same_database_and_files_answer_the_same_tag(center, tmp_path):
    from center.service import Center
    twin = Center(center.cfg)
    try:
        with center.engine.connect() as conn:
            one = center.bundles.latest(conn, "taojiang", "03")
        with twin.engine.connect() as conn:
            two = twin.bundles.latest(conn, "taojiang", "03")
    finally:
        twin.engine.dispose()
    assert one.body == two.body and one.etag == two.etag


def test_a_photo_too_large_or_too_many_pixels_is_not_sent(center, photos):
    (photos / "1024.png").write_bytes(png(3, 3) + bytes(MAX_PHOTO_BYTES))
    bomb = png(3, 3)[:16] + struct.pack(">II", 9000, 9000) + png(3, 3)[24:]
    (photos / "1025.png").write_bytes(bomb)
    (photos / "1025.jpg").unlink()
    with api_client(center) as client:
        b = read(client.get(BUNDLE))
    assert all(c.photo is None for c in b.staff)


def test_a_changed_holiday_file_reaches_the_bundle_and_the_center_s_deadlines(tmp_path):
    path = tmp_path / "holidays.toml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    now = [0.0]
    live = LiveHolidayFile(path, monotonic=lambda: now[0])
    assert live.current()[0] == "# nothing yet\n" and live.calendar.year_source(2027) == ESTIMATED
    path.write_text(HOLIDAYS_2027, encoding="utf-8")
    assert live.current()[0] == "# nothing yet\n"          # looked at again only after CHECK_EVERY_S
    now[0] += LiveHolidayFile.CHECK_EVERY_S
    assert live.current()[0] == HOLIDAYS_2027 and live.calendar.year_source(2027) == OVERRIDE
    path.write_text("[2027\n", encoding="utf-8")            # broken: the last good one stays
    now[0] += LiveHolidayFile.CHECK_EVERY_S
    assert live.current()[0] == HOLIDAYS_2027 and live.calendar.year_source(2027) == OVERRIDE


# ------------------------------------------------------------ [bundle] in the center's file

def center_file(tmp_path, text):
    p = tmp_path / "center.toml"
    p.write_text('[center]\ndatabase = "c.sqlite3"\n\n' + text, encoding="utf-8")
    return p


def test_the_bundle_table_is_read_with_the_kiosk_rules(tmp_path):
    (tmp_path / "photos").mkdir()
    cfg = load_config(center_file(tmp_path, '[bundle]\nstaff_photos = "photos"\n[bundle.kiosk]\ntimeout_s = 90\n'
                                            '[bundle.hall.taojiang]\nscale = 5\n[bundle.window."03"]\n'
                                            'test_mode = true\n')).bundle
    assert cfg.staff_photos == tmp_path / "photos"
    assert cfg.kiosk_for("taojiang", "03") == {"timeout_s": 90, "scale": 5, "test_mode": True}
    assert cfg.kiosk_for("other", "04") == {"timeout_s": 90}


@pytest.mark.parametrize("text, key, words", [
    ("[bundle.kiosk]\ntimeout_s = 5\n", "bundle.kiosk.timeout_s", "out of range"),
    ("[bundle.kiosk]\ntimout_s = 60\n", "bundle.kiosk.timout_s", "not a known key"),
    ('[bundle.window."03"]\nreasons = []\n', "bundle.window.03.reasons", "entries"),
    ("[bundle.kiosk]\nreminder_after_s = 100\n", "bundle.kiosk.timeout_s", "not longer"),
    ('[bundle.kiosk]\ntimeout_s = 40\n[bundle.window."03"]\nreminder_after_s = 45\n',
     "bundle.kiosk + bundle.window.03.timeout_s", "not longer"),
    ('[bundle.hall."a b"]\nscale = 5\n', "bundle.hall.a b", "not a hall id"),
    ('[bundle]\nstaff_photos = "nowhere"\n', "bundle.staff_photos", "not a folder"),
    ('[bundle]\nphotos = "x"\n', "bundle.photos", "not a known key"),
])
def test_a_bad_bundle_table_names_its_key(tmp_path, text, key, words):
    with pytest.raises(ConfigError) as e:
        load_config(center_file(tmp_path, text))
    assert e.value.key == key and words in str(e.value), str(e.value)


def test_the_example_config_pushes_nothing_and_its_commented_samples_are_valid(tmp_path):
    from tests.support.paths import CONFIG
    example = CONFIG / "center.example.toml"
    assert load_config(example).bundle.kiosk_for("taojiang", "03") == {}     # copied as is: no push
    text = example.read_text(encoding="utf-8")
    for sample in ("timeout_s = 60.0", "reminder_after_s = 30.0", '[bundle.window."03"]', "thanks_s = 4.0"):
        assert f"# {sample}" in text
        text = text.replace(f"# {sample}", sample)
    (tmp_path / "center.toml").write_text(text, encoding="utf-8")
    cfg = load_config(tmp_path / "center.toml").bundle
    assert cfg.kiosk_for("taojiang", "03") == {"timeout_s": 60.0, "reminder_after_s": 30.0, "thanks_s": 4.0}


# ------------------------------------------------------------ heartbeat and device page

def test_the_heartbeat_s_bundle_calendar_and_pinned_are_kept_and_shown(center, tmp_path):
    center.add_user("sup", "supervisor", "correct horse battery")
    with api_client(center) as client:
        latest = read(client.get(BUNDLE))
        beat = {"pending": 0, "clock": API_NOW.isoformat(), "version": "0.1.0",
                "bundle": {"version": "0123456789abcdef", "error": "kiosk.timeout_s: 5 is out of range",
                           "refused": 2},
                "calendar": {"2026": "official", "2027": "estimated"}, "pinned": ["timeout_s", "holidays"]}
        assert client.post("/api/v1/devices/tab-03/heartbeat", json=beat).status_code == 200
        with center.engine.connect() as conn:
            kept = conn.execute(select(devices.c.heartbeat)).scalar()
        assert kept["bundle"]["refused"] == 2 and kept["pinned"] == ["timeout_s", "holidays"]
        for wrong in ({"bundle": {"version": 5}}, {"bundle": {"refused": "2"}}, {"calendar": {"26": "official"}},
                      {"calendar": {str(y): "official" for y in range(2026, 2029)}}, {"pinned": "timeout_s"},
                      {"pinned": ["x" * 33]}):
            r = client.post("/api/v1/devices/tab-03/heartbeat", json={**beat, **wrong})
            assert r.status_code == 422, wrong
        web = login(client.app, "sup", "correct horse battery")
        page = web.get("/devices").text
        assert "0123456789abcdef" in page and f"中心最新 {latest.version}，待下发" in page
        assert "拒收 2 次：kiosk.timeout_s: 5 is out of range" in page
        assert "2026 已核实（官方数据）" in page and "2027 未核实（按规则估算）" in page
        assert "timeout_s, holidays" in page and "本机配置文件优先" in page
        beat["bundle"] = {"version": latest.version, "error": None, "refused": 0}
        assert client.post("/api/v1/devices/tab-03/heartbeat", json=beat).status_code == 200
        page = web.get("/devices").text
        assert f"{latest.version}（最新）" in page and "待下发" not in page


def test_an_older_agent_s_heartbeat_without_the_new_fields_shows_not_reported(center):
    center.add_user("sup", "supervisor", "correct horse battery")
    with api_client(center) as client:
        assert client.post("/api/v1/devices/tab-03/heartbeat",
                           json={"pending": 0, "clock": API_NOW.isoformat()}).status_code == 200
        page = login(client.app, "sup", "correct horse battery").get("/devices").text
    assert "未报告" in page and "待下发" not in page
