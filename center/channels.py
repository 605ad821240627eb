"""Evaluation channels (评价渠道), GB/T 39046-2020 table 9, and which source
of evaluations may use which channel.

A record's `channel` is the stable machine value; the table-9 text is its
label (the export writes the label). Each way an evaluation reaches the
center is a source with its own channels, so no source can pass its
ratings off as another's: only an enrolled tablet writes 政务大厅平板电脑
(its seq accounting is how the center sees a lost record), only the
center's QR page writes 二维码, only a 回访 call written by center staff
writes 电话.
"""
from __future__ import annotations

from dataclasses import dataclass

from hallcore.record import CHANNEL_HALL_TABLET, CHANNELS as RECORD_CHANNELS


@dataclass(frozen=True)
class Channel:
    value: str      # stored in the record's `channel`
    label: str      # GB/T 39046-2020 table 9 评价渠道


# The values are the record schema's (hallcore.record.CHANNELS, one place);
# the labels are table 9's.
_LABELS = {
    "pc": "PC端",
    "mobile": "移动服务端",
    "qr": "二维码",
    CHANNEL_HALL_TABLET: "政务大厅平板电脑",
    "hall_terminal": "政务大厅其他终端",
    "phone": "电话",
    "sms": "短信",
}
CHANNELS: tuple[Channel, ...] = tuple(Channel(v, _LABELS[v]) for v in RECORD_CHANNELS)
_BY_VALUE = {c.value: c for c in CHANNELS}
VALUES: tuple[str, ...] = tuple(c.value for c in CHANNELS)
LABELS: dict[str, str] = {c.value: c.label for c in CHANNELS}

# Sources of evaluations at the center and the channels each may write.
SOURCES: dict[str, frozenset[str]] = {
    # an enrolled tablet posting to /api/v1/votes
    "tablet": frozenset({CHANNEL_HALL_TABLET}),
    # the county's 互联网+政务服务 platform through the integration API: its web,
    # app, its own QR codes, self-service terminals, 12345 and SMS. Never
    # hall_tablet: those records are the enrolled tablets' alone.
    "integration": frozenset({"pc", "mobile", "qr", "hall_terminal", "phone", "sms"}),
    # the center's own mobile rating page, opened from the ticket's QR code
    "qr_page": frozenset({"qr"}),
    # a 回访 call (监督查评 or a case's second evaluation) written by center staff
    "return_visit": frozenset({"phone"}),
}
SOURCE_LABELS = {
    "tablet": "大厅评价平板",
    "integration": "互联网+政务服务平台接口",
    "qr_page": "二维码评价页",
    "return_visit": "回访电话",
}


class ChannelError(ValueError):
    """An unknown channel, or one the source may not write."""


def channel(value: str) -> Channel:
    """The channel of a stored value; ChannelError naming the allowed ones."""
    try:
        return _BY_VALUE[value]
    except (KeyError, TypeError):
        raise ChannelError(f"channel={value!r}: expected one of {', '.join(VALUES)}") from None


def label(value: str) -> str:
    """The table-9 label of a stored value; an unknown value is shown as such, never dropped."""
    c = _BY_VALUE.get(value) if isinstance(value, str) else None
    return c.label if c else f"未知渠道（{value}）"


def allowed(source: str) -> frozenset[str]:
    """The channels `source` may write."""
    try:
        return SOURCES[source]
    except KeyError:
        raise ChannelError(f"source={source!r}: expected one of {', '.join(SOURCES)}") from None


def check(source: str, value: str) -> str:
    """`value` if `source` may write that channel, else ChannelError saying why."""
    may = allowed(source)
    channel(value)
    if value not in may:
        shown = ", ".join(v for v in VALUES if v in may)
        raise ChannelError(f"channel={value!r}: the {source} source may only write {shown}")
    return value


__all__ = ["CHANNELS", "Channel", "ChannelError", "LABELS", "SOURCES", "SOURCE_LABELS", "VALUES",
           "allowed", "channel", "check", "label"]
