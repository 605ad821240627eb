"""The journal of the open evaluation (kiosk/journal.py): content and file."""
import json
from datetime import datetime

import pytest

from hallcore.hallclock import DEFAULT_TZ

from kiosk.events import Matter, TicketEvent
from kiosk.journal import Journal, JournalError, JournalState, OpenEvaluation, OpenMatter

T = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)


def state() -> JournalState:
    ev = OpenEvaluation(ticket="A023", window="03", staff_id="1024", staff_name="李明", case_no=None,
                        called_at=None, finished_at=T.isoformat(),
                        matters=[OpenMatter("M1", "不动产登记", "0f6c3a6e-8a57-4c1e-9d55-3f3c3e1f0a01", "rated"),
                                 OpenMatter("M2", "户籍迁移", "0f6c3a6e-8a57-4c1e-9d55-3f3c3e1f0a02")],
                        index=1, prompted_at=T.isoformat())
    waiting = TicketEvent("finish", "A024", "03", staff_name="李明", matters=(Matter("M9", "社保卡申领"),), ts=T)
    return JournalState(open=ev, pending=[waiting], day="2026-11-27", done=["A021", "A022"])


def test_state_survives_the_round_trip_through_json_on_disk(tmp_path):
    j = Journal(tmp_path / "j.json")
    j.save(state().to_json())
    back = JournalState.from_json(j.load())
    assert back == state() and back.open.counts() == (1, 0)
    assert [p.name for p in tmp_path.iterdir()] == ["j.json"]     # no temp file left behind
    j.clear()
    assert j.load() is None and j.problem is None


@pytest.mark.parametrize("mutate,why", [
    (lambda d: d.update(version=2), "version-1"),
    (lambda d: d["open"].update(index=0), "not an unrecorded matter"),
    (lambda d: d["open"].update(index=5), "not an unrecorded matter"),
    (lambda d: d["open"].update(prompted_at="yesterday"), "ISO times"),
    (lambda d: d["open"]["matters"][1].update(record_id=""), "record id"),
    (lambda d: d["open"]["matters"].append({"code": "x"}), "incomplete"),
    (lambda d: d["open"].update(closing="bored"), "unrated reason"),
    (lambda d: d["open"].pop("ticket"), "incomplete"),
    (lambda d: d["pending"][0].update(event="ring"), "unknown event"),
    (lambda d: d["pending"].append([1, 2]), "malformed"),
    (lambda d: d.update(done="A021"), "list of strings"),
])
def test_content_that_cannot_be_trusted_says_which_part(mutate, why):
    d = json.loads(json.dumps(state().to_json()))
    mutate(d)
    with pytest.raises(JournalError, match=why):
        JournalState.from_json(d)


def test_unreadable_file_is_set_aside_and_reported(tmp_path):
    path = tmp_path / "j.json"
    path.write_bytes(b'{"version": 1, "op')
    j = Journal(path)
    assert j.load() is None
    assert "unreadable JSON" in j.problem and not path.exists()
    assert len(list(tmp_path.glob("j.json.corrupt-*"))) == 1
