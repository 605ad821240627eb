"""Evaluation channels of GB/T 39046-2020 table 9 and who may write which (center/channels.py)."""
import pytest

from center import channels
from center.channels import ChannelError
from hallcore.record import CHANNEL_HALL_TABLET
from tests.support.center import make_vote


def test_the_seven_channels_of_table_9_in_its_order():
    assert [c.label for c in channels.CHANNELS] == [
        "PC端", "移动服务端", "二维码", "政务大厅平板电脑", "政务大厅其他终端", "电话", "短信"]
    assert channels.VALUES == ("pc", "mobile", "qr", "hall_tablet", "hall_terminal", "phone", "sms")
    assert len(set(channels.VALUES)) == 7


def test_the_tablet_channel_is_the_one_the_record_schema_writes_today():
    assert CHANNEL_HALL_TABLET in channels.VALUES
    assert channels.label(make_vote("tab-03", 1)["channel"]) == "政务大厅平板电脑"


def test_each_source_writes_only_its_own_channels():
    assert channels.check("tablet", "hall_tablet") == "hall_tablet"
    assert channels.check("qr_page", "qr") == "qr"
    assert channels.check("return_visit", "phone") == "phone"
    for value in ("pc", "mobile", "qr", "hall_terminal", "phone", "sms"):
        assert channels.check("integration", value) == value
    with pytest.raises(ChannelError, match="tablet source may only write hall_tablet"):
        channels.check("tablet", "qr")
    with pytest.raises(ChannelError, match="qr_page source may only write qr"):
        channels.check("qr_page", "pc")


def test_the_platform_cannot_pass_its_ratings_off_as_a_tablets():
    with pytest.raises(ChannelError, match="integration source may only write pc, mobile, qr"):
        channels.check("integration", "hall_tablet")
    assert "hall_tablet" not in channels.allowed("integration")
    # only the tablet source writes hall_tablet
    assert [s for s, may in channels.SOURCES.items() if "hall_tablet" in may] == ["tablet"]


def test_every_source_writes_known_channels_and_has_a_label():
    for source, may in channels.SOURCES.items():
        assert may and may <= set(channels.VALUES)
        assert channels.SOURCE_LABELS[source]


def test_unknown_channels_and_sources_are_named_in_the_error():
    with pytest.raises(ChannelError, match="channel='fax': expected one of pc, mobile"):
        channels.check("integration", "fax")
    with pytest.raises(ChannelError, match="source='kiosk'"):
        channels.allowed("kiosk")
    with pytest.raises(ChannelError):
        channels.channel(None)


def test_an_unknown_stored_value_is_shown_as_such_not_dropped():
    assert channels.label("fax") == "未知渠道（fax）"
    assert channels.label("sms") == "短信"


def test_a_record_built_today_carries_the_tablet_channel():
    assert channels.check("tablet", make_vote("tab-03", 1, bad=True)["channel"]) == "hall_tablet"
