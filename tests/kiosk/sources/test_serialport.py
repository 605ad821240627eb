"""Serial ticket source over a pseudo-terminal pair (the kiosk opens the slave)."""
import pytest

from hallcore.config import ConfigError, Table
from kiosk.lineprotocol import LineSplitter
from halldemo.ptylink import PtyLink
from kiosk.sources import open_source
from tests.support.collector import Collector
from tests.support.waiting import wait_for

WINDOW = "03"
CALL = "CALL|A023|03|1024|张三|2026112800017|GA001:居民身份证换领;GA003:户口迁移|2026-11-28T09:00:00+08:00"


class Kiosk(Collector):
    def __init__(self, link, config_dir=".", **serial_keys):
        super().__init__()
        self.link = link
        keys = {"port": str(link.path), "reconnect_max": 0.5, **serial_keys}
        self.source = open_source(Table({"source": "serial", "serial": keys}, "queue"),
                                  hall_id="taojiang", window_id=WINDOW, config_dir=config_dir)
        self.back = LineSplitter(encoding=self.source.settings.encoding, line_ending="crlf")

    def start(self):
        self.source.start(self)
        wait_for(lambda: self.source.status.connected, what="port open")
        return self

    def back_channel(self):
        """The next line the kiosk wrote back to the queue system."""
        lines = []
        wait_for(lambda: lines.extend(self.back.feed(self.link.read(0.1))) or lines, what="back-channel line")
        return lines[0]


@pytest.fixture
def link(tmp_path):
    lk = PtyLink(tmp_path / "ttyQUEUE")
    yield lk
    lk.close()


@pytest.fixture
def kiosk(link):
    made = []

    def make(**keys):
        made.append(Kiosk(link, **keys))
        return made[-1].start()
    yield make
    for k in made:
        k.source.stop()


@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_default_protocol_in_partial_chunks_and_back_channel(kiosk, link, encoding):
    k = kiosk(encoding=encoding)
    data = (CALL + "\r\n" + "FINISH|A023|03\r\n").encode(encoding)
    for i in range(0, len(data), 5):              # the line arrives in pieces, as UARTs deliver it
        link.write(data[i:i + 5])
    assert k.wait_tickets(2) == [("call", "A023"), ("finish", "A023")]
    assert k.events[0].matters[1].name == "户口迁移"
    k.source.send_done("A023", 2, 0)
    assert k.back_channel() == "DONE|A023|2|0"


def test_xunhu_vendor_profile_gbk(kiosk, link):
    k = kiosk(profile="config/profiles/xunhu-csv.toml")
    link.write("#XT,03*\r\n#QH,03,A023,1024,张三,居民身份证换领/户口迁移,20261128090000*\r\n"
               "#BJ,03,A023,1024,张三,,20261128091500*\r\n".encode("gbk"))
    assert k.wait_tickets(2) == [("call", "A023"), ("finish", "A023")]
    assert k.source.status.rejected == {"ignored": 1}
    k.source.send_done("A023", 1, 1)
    assert k.back_channel() == "#PJ,A023,1,1*"


def test_bracket_vendor_profile_utf8(kiosk, link):
    k = kiosk(profile="config/profiles/bracket-kv.toml")
    assert k.source.settings.encoding == "utf-8"           # the profile's encoding is the default
    link.write("[窗口=03][票号=A023][动作=呼叫][工号=1024][姓名=李四][事项=GA001 居民身份证换领]\r\n"
               "[窗口=05][票号=B001][动作=呼叫]\r\n[窗口=03][票号=A023][动作=办结]\r\n".encode())
    assert k.wait_tickets(2) == [("call", "A023"), ("finish", "A023")]
    assert k.source.status.rejected == {"wrong_window": 1}
    k.source.send_done("A023", 1, 0)
    assert k.back_channel() == "[票号=A023][评价=完成][已评=1][未评=0]"


def test_garbage_oversize_wrong_encoding_and_repeats_are_counted_and_skipped(kiosk, link):
    k = kiosk(max_line=128)
    link.write(b"\x00\x13\x02garbage\r\n")                    # line noise
    link.write(b"CALL|A001|03|" + b"9" * 500 + b"\r\n")       # oversize
    link.write(CALL.encode("utf-8") + b"\r\n")                 # UTF-8 into a GBK port
    link.write(b"HELLO WORLD\r\n")                             # not a frame
    link.write(b"CANCEL|A009\r\nCANCEL|A009\r\n")              # the device repeats a frame
    link.write(b"FINISH|A010\r\n")
    assert k.wait_tickets(2) == [("cancel", "A009"), ("finish", "A010")]
    assert k.source.status.rejected == {"garbage": 1, "oversize": 1, "bad_encoding": 1, "no_match": 1,
                                        "duplicate": 1}
    assert k.source.status.connected


def test_unplug_and_replug_reopens_and_keeps_the_back_channel(kiosk, link, caplog):
    k = kiosk()
    link.write(b"CALL|A001\r\nFINISH|A001\r\nCALL|A0")            # a half frame when the cable goes
    k.wait_tickets(2)
    link.unplug()
    wait_for(lambda: not k.source.status.connected, what="loss noticed")
    k.source.send_done("A001", 1, 0)                          # port away: kept, never raises
    tries = k.source.open_attempts
    wait_for(lambda: k.source.open_attempts >= tries + 3, what="reopen attempts")
    assert sum("cannot open" in r.getMessage() for r in caplog.records) == 1   # logged once, not per retry
    link.plug()                                               # same name, a new device behind it
    wait_for(lambda: k.source.status.connected, what="reopened")
    assert k.back_channel() == "DONE|A001|1|0"
    link.write(b"02\r\nCALL|A002\r\nFINISH|A001\r\n")           # the device replays A001's finish
    assert k.wait_tickets(3) == [("call", "A001"), ("finish", "A001"), ("call", "A002")]
    wait_for(lambda: k.source.status.rejected.get("duplicate"), what="replay dropped")
    assert k.source.status.rejected["partial"] == 1
    assert k.source.status.rejected["no_match"] == 1           # "02": the tail of the lost frame


def test_missing_port_at_start_is_retried_until_it_appears(tmp_path, link):
    link.unplug()
    k = Kiosk(link)
    k.source.start(k)
    try:
        wait_for(lambda: "cannot open" in k.source.status.detail, what="retrying")
        link.plug()
        wait_for(lambda: k.source.status.connected, what="opened")
        link.write(b"CALL|A001\r\n")
        assert k.wait_tickets(1) == [("call", "A001")]
    finally:
        k.source.stop()


@pytest.mark.parametrize("keys, bad", [
    ({}, "queue.serial.port"),
    ({"port": "/dev/x", "baud": 9601}, "queue.serial.baud"),
    ({"port": "/dev/x", "parity": "X"}, "queue.serial.parity"),
    ({"port": "/dev/x", "stopbits": 3}, "queue.serial.stopbits"),
    ({"port": "/dev/x", "encoding": "big5"}, "queue.serial.encoding"),
    ({"port": "/dev/x", "line_ending": "nl"}, "queue.serial.line_ending"),
    ({"port": "/dev/x", "profile": "profiles/nope.toml"}, "queue.serial.profile"),
    ({"port": "/dev/x", "profile": "bad.toml"}, "queue.serial.profile → pattern"),
    ({"port": "/dev/x", "speed": 9600}, "queue.serial.speed"),
])
def test_bad_serial_config_names_the_key(tmp_path, keys, bad):
    (tmp_path / "bad.toml").write_text('name = "x"\npattern = "(?P<verb>"\n[verbs]\nA = "call"\n')
    with pytest.raises(ConfigError) as e:
        open_source(Table({"source": "serial", "serial": keys}, "queue"), hall_id="h", window_id=WINDOW,
                    config_dir=tmp_path)
    assert e.value.key == bad
