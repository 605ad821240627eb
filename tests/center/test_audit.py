"""`hall-center audit` (center/audit.py, center/auditcli.py) on the real
center (uvicorn subprocess, SQLite and PostgreSQL) with records that came
the real way: kiosk record -> disk outbox (linked there) -> agent -> API ->
ingest. Deleting, altering and inserting a stored record are each reported
with their seq and exit 1; an intact chain and a schema-1 tablet exit 0; a
head past the stored records with nothing pending is missing. The
inspectors' script of docs/design-integrity.md §1.4 agrees on the folder
`--export` writes."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests
from sqlalchemy import create_engine, delete, insert, select, update

from agent.config import AgentSettings, CenterConfig
from agent.run import Agent
from agent.sender import Sender
from center.cli import main
from center.db import devices, records
from center.ingest import record_row
from hallcore.chain import Head, chain_hash, link
from outbox.store import Outbox
from tests.hallcore.test_integrity_doc import SCRIPT
from tests.support.center import make_vote, start_center
from tests.support.outbox_records import vote
from tests.support.paths import REPO

CHAINED, OLD, OTHER = "tab-03", "tab-01", "tab-05"


@pytest.fixture
def center(db_url, tmp_path):
    rc = start_center(tmp_path / "center", CHAINED, database=db_url)
    engine = create_engine(rc.database)
    rc.engine = engine
    try:
        yield rc
    finally:
        rc.stop()
        engine.dispose()


def command(center, args, export):
    cmd = ["audit", "--config", str(center.config_path), *args]
    return cmd + (["--export", str(export)] if export is not None else [])


def audit_process(center, *args, export=None):
    """The real command in its own process; (exit status, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-m", "center.cli", *command(center, args, export)],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def audit(capsys):
    """The command in this process (faster: no interpreter start); (exit status, stdout, stderr)."""
    def run(center, *args, export=None):
        capsys.readouterr()
        code = main(command(center, args, export))
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


@pytest.fixture
def audit_json(audit):
    def run(center, *args):
        code, out, err = audit(center, "--json", *args)
        assert code in (0, 1), err
        return code, json.loads(out)
    return run


def findings(report, device):
    (d,) = [d for d in report["devices"] if d["device_id"] == device]
    return [(f["kind"], f["seq"]) for f in d["findings"] if f["error"]], d


def send_through_the_agent(center, tmp_path, n):
    """n records put into the tablet's disk outbox and sent by the agent; then a heartbeat."""
    token = tmp_path / "device.token"
    token.write_text(center.token)
    box = Outbox(tmp_path / "outbox", CHAINED)
    sender = Sender(CenterConfig(url=center.url, token_file=token, connect_timeout=1, read_timeout=5), CHAINED)
    try:
        agent = Agent(box, sender, AgentSettings(status_file=tmp_path / "agent-status.json"))
        put = [box.put(vote(i, bad=i == 2)) for i in range(n)]
        for _ in range(n + 2):
            if not agent.send_one_batch():
                break
        assert box.counts()["pending"] == 0
        agent.heartbeat()
        return put
    finally:
        sender.close()
        box.close()


def stored(center, device, seq):
    with center.engine.connect() as conn:
        return conn.execute(select(records).where(records.c.device_id == device, records.c.seq == seq)).one()


def post(center, token, device, votes):
    r = requests.post(center.url + "/api/v1/votes", headers={"Authorization": f"Bearer {token}"},
                      json={"device_id": device, "votes": votes}, timeout=10)
    assert [x["status"] for x in r.json()["results"]] == ["stored"] * len(votes), r.text


def beat(center, token, device, head, pending):
    r = requests.post(f"{center.url}/api/v1/devices/{device}/heartbeat", headers={"Authorization": f"Bearer {token}"},
                      json={"pending": pending, "clock": "2026-11-27T15:00:00+08:00", "chain_head": head}, timeout=10)
    assert r.status_code == 200, r.text


def test_deleted_altered_and_inserted_records_are_each_reported(center, tmp_path, audit, audit_json):
    put = send_through_the_agent(center, tmp_path, 10)
    assert all(r["schema"] == 2 for r in put) and put[0]["prev_hash"] == "0" * 64
    # the center keeps each body exactly as the outbox linked it
    assert [stored(center, CHAINED, r["seq"]).body for r in put] == put
    # a schema-1 tablet beside it: unchained, not an error
    old_token = center.add_device(OLD, "taojiang", "03")
    post(center, old_token, OLD, [make_vote(OLD, s) for s in (1, 2, 3)])

    code, out, err = audit_process(center)
    assert code == 0, out + err
    assert f"{CHAINED}: intact, 10 record(s), 10 chained, head seq 10 (pending 0)" in out
    assert f"{OLD}: unchained (schema 1, not an error), 3 record(s), 0 chained" in out
    assert out.rstrip().endswith("no problem found")

    with center.engine.begin() as conn:                 # delete seq 4 (a good review: no case)
        conn.execute(delete(records).where(records.c.device_id == CHAINED, records.c.seq == 4))
    code, report = audit_json(center)
    assert code == 1 and report["ok"] is False
    assert findings(report, CHAINED)[0] == [("missing", 4)]
    assert findings(report, OLD)[1]["state"] == "unchained"

    row = stored(center, CHAINED, 7)                    # change a field of the stored body
    with center.engine.begin() as conn:
        conn.execute(update(records).where(records.c.id == row.id).values(body=dict(row.body, staff_name="王五")))
    code, report = audit_json(center)
    assert code == 1 and findings(report, CHAINED)[0] == [("missing", 4), ("altered", 7)]

    # a forged record with a valid-looking prev_hash: it claims seq 8 as its predecessor, like seq 9
    forged = link(make_vote(CHAINED, 9, ticket="Z999", rating="basically_satisfied"),
                  chain_hash(stored(center, CHAINED, 8).body))
    post(center, center.token, CHAINED, [forged])
    code, out, _ = audit_process(center)
    assert code == 1
    assert f"{CHAINED}: PROBLEMS (3)" in out
    assert "  seq 4 missing: seq 4–4 not stored" in out
    assert f"  seq 7 altered record {row.id}:" in out
    assert f"  seq 9 inserted record {forged['id']}:" in out
    assert out.rstrip().endswith("1 with problems, 3 problem(s) in all")
    # kept for the device page
    with center.engine.connect() as conn:
        kept = conn.execute(select(devices.c.chain_audit, devices.c.chain_audited_at)
                            .where(devices.c.device_id == CHAINED)).one()
    assert kept.chain_audited_at is not None and kept.chain_audit["state"] == "problems"
    assert [(f["kind"], f["seq"]) for f in kept.chain_audit["findings"]] == [("missing", 4), ("altered", 7),
                                                                            ("inserted", 9)]
    # one device only
    code, report = audit_json(center, "--device", OLD)
    assert code == 0 and [d["device_id"] for d in report["devices"]] == [OLD]


def test_a_changed_column_with_the_body_left_alone_is_altered(center, tmp_path, audit_json):
    put = send_through_the_agent(center, tmp_path, 4)
    with center.engine.begin() as conn:      # 满意 counted as 不满意 by the statistics, the body untouched
        conn.execute(update(records).where(records.c.id == put[1]["id"]).values(satisfaction_code=4, bad=True))
    code, report = audit_json(center)
    found, d = findings(report, CHAINED)
    assert code == 1 and found == [("altered", 2)]
    assert "satisfaction_code, bad" in d["findings"][0]["detail"]


def test_a_head_past_the_stored_records_counts_as_missing_only_when_nothing_is_pending(center, audit_json):
    token = center.add_device(OTHER, "taojiang", "03")
    chain, prev = [], None
    for seq in (1, 2, 3):
        rec = link(make_vote(OTHER, seq), prev)
        prev = chain_hash(rec)
        chain.append(rec)
    post(center, token, OTHER, chain)
    beat(center, token, OTHER, {"seq": 5, "hash": "e" * 64}, pending=2)       # 4 and 5 still on the tablet
    code, report = audit_json(center, "--device", OTHER)
    assert code == 0 and findings(report, OTHER)[0] == []
    beat(center, token, OTHER, {"seq": 5, "hash": "e" * 64}, pending=0)       # the tablet says all were sent
    code, report = audit_json(center, "--device", OTHER)
    found, d = findings(report, OTHER)
    assert code == 1 and found == [("missing", 4)] and d["findings"][0]["seq_to"] == 5
    assert d["head"] == {"seq": 5, "hash": "e" * 64, "pending": 0}


def test_an_unknown_device_or_a_used_export_folder_is_bad_input(center, tmp_path, audit):
    code, _, err = audit(center, "--device", "tab-99")
    assert code == 2 and "no device 'tab-99'" in err
    used = tmp_path / "used"
    used.mkdir()
    (used / "records.jsonl").write_text("old\n")
    code, _, err = audit(center, export=used)
    assert code == 2 and "export into a new or empty folder" in err
    assert (used / "records.jsonl").read_text() == "old\n"


def inspect(folder):
    """The inspectors' script as printed in the doc, run with nothing but Python."""
    (folder / "verify_export.py").write_text(SCRIPT, encoding="utf-8")
    p = subprocess.run([sys.executable, "-I", str(folder / "verify_export.py"), str(folder)],
                       capture_output=True, text=True, cwd=folder, timeout=60)
    return p.returncode, p.stdout


def test_the_inspectors_script_verifies_the_exported_folder(center, tmp_path, audit):
    put = send_through_the_agent(center, tmp_path, 6)
    code, out, err = audit(center, export=tmp_path / "intact")
    assert code == 0, err
    assert "inspection folder" in out and "6 record(s) in records.jsonl, 1 head(s) in heads.json" in out
    folder = tmp_path / "intact"
    lines = (folder / "records.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == put                 # the bodies exactly as the outbox linked them
    assert json.loads((folder / "heads.json").read_text()) == {
        CHAINED: {"seq": 6, "hash": chain_hash(put[-1]), "pending": 0}}
    assert (folder / "records.jsonl").stat().st_mode & 0o077 == 0      # it holds phone numbers
    code, printed = inspect(folder)
    assert code == 0 and printed.splitlines()[-1] == "OK"
    assert printed.splitlines()[:-1] == [f"{CHAINED} seq {r['seq']} {chain_hash(r)}" for r in put]

    row = stored(center, CHAINED, 3)
    with center.engine.begin() as conn:
        conn.execute(update(records).where(records.c.id == row.id).values(body=dict(row.body, comment="已改")))
    code, out, _ = audit(center, export=tmp_path / "altered")
    assert code == 1
    code, printed = inspect(tmp_path / "altered")
    assert code == 1 and f"{CHAINED} seq 4: prev_hash does not match seq 3" in printed.splitlines()
    assert printed.splitlines()[-1] == "1 PROBLEM(S)"


def test_records_stored_before_the_upgrade_then_chained_ones_are_intact(center, audit_json):
    """A tablet that sent schema-1 records, then was upgraded: its first schema-2
    record links to its last schema-1 one."""
    post(center, center.token, CHAINED, [make_vote(CHAINED, s) for s in (1, 2)])
    first = link(make_vote(CHAINED, 3), chain_hash(stored(center, CHAINED, 2).body))
    second = link(make_vote(CHAINED, 4), chain_hash(first))
    post(center, center.token, CHAINED, [first, second])
    beat(center, center.token, CHAINED, {"seq": 4, "hash": chain_hash(second)}, pending=0)
    code, report = audit_json(center)
    found, d = findings(report, CHAINED)
    assert code == 0 and found == [] and d["state"] == "intact"
    assert [f["kind"] for f in d["findings"]] == ["unchained"]


def test_a_device_is_read_by_seq_across_chunks_and_each_body_passed_once(db_url, tmp_path):
    from center import audit as audit_mod
    from tests.support.center import API_NOW, Clock, make_center
    c = make_center(db_url, tmp_path, clock=Clock(API_NOW))
    try:
        c.add_device(CHAINED, "taojiang", "03")
        prev, rows = None, []
        for seq in range(1, audit_mod.CHUNK * 2 + 7):
            rec = link(make_vote(CHAINED, seq, ticket=f"T{seq}"), prev)
            prev = chain_hash(rec)
            rows.append(record_row(rec, "不动产登记", API_NOW))
        with c.engine.begin() as conn:
            conn.execute(insert(records), rows)
        seen = []
        a = audit_mod.audit_device(c.engine, CHAINED, Head(len(rows), prev, 0), on_body=lambda b: seen.append(b["seq"]))
        assert (a.state, a.records, a.chained, a.findings) == ("intact", len(rows), len(rows), [])
        assert seen == list(range(1, len(rows) + 1))
        # a second record on the seq that ends the first chunk is read too, and named
        forged = link(make_vote(CHAINED, audit_mod.CHUNK, ticket="Z"), rows[audit_mod.CHUNK - 2]["body"]["prev_hash"])
        with c.engine.begin() as conn:
            conn.execute(insert(records), [record_row(forged, "不动产登记", API_NOW)])
        a = audit_mod.audit_device(c.engine, CHAINED, Head(len(rows), prev, 0))
        assert a.records == len(rows) + 1
        assert [(f.kind, f.seq, f.record_id) for f in a.findings] == [("inserted", audit_mod.CHUNK, forged["id"])]
    finally:
        c.engine.dispose()


def test_a_body_that_cannot_be_hashed_is_altered_not_a_crash(db_url, tmp_path):
    from center import audit as audit_mod
    from tests.support.center import API_NOW, Clock, make_center
    c = make_center(db_url, tmp_path, clock=Clock(API_NOW))
    try:
        recs, prev = [], None
        for seq in (1, 2, 3):
            rec = link(make_vote(CHAINED, seq), prev)
            prev = chain_hash(rec)
            recs.append(rec)
        rows = [record_row(r, "不动产登记", API_NOW) for r in recs]
        rows[1]["body"] = dict(recs[1], matter_index=1.5)              # no canonical form
        with c.engine.begin() as conn:
            conn.execute(insert(records), rows)
        a = audit_mod.audit_device(c.engine, CHAINED, None)
        assert [(f.kind, f.seq) for f in a.findings] == [("altered", 2)]
        assert "cannot be hashed" in a.findings[0].detail
    finally:
        c.engine.dispose()


def test_the_device_page_shows_the_chain_state_in_the_browser(running_center, browser_page, tmp_path, audit):
    from playwright.sync_api import expect

    from tests.support.paths import TEST_OUTPUT
    c, page = running_center, browser_page
    c.engine = create_engine(c.database)
    out = TEST_OUTPUT / "center"
    out.mkdir(parents=True, exist_ok=True)
    try:
        c.add_user("chen", "supervisor", "chen-pass-1")
        send_through_the_agent(c, tmp_path, 6)
        old_token = c.add_device(OLD, "taojiang", "03")
        post(c, old_token, OLD, [make_vote(OLD, s) for s in (1, 2)])
        with c.engine.begin() as conn:
            conn.execute(delete(records).where(records.c.device_id == CHAINED, records.c.seq == 4))
        assert audit(c)[0] == 1
        page.goto(c.url + "/login")
        page.fill("input[name=name]", "chen")
        page.fill("input[name=password]", "chen-pass-1")
        page.click("button[type=submit]")
        page.goto(c.url + "/devices")
        cells = page.locator("#devices td.chain")
        expect(cells).to_have_count(2)
        expect(cells.nth(0)).to_contain_text("未链接（schema 1 平板）")          # tab-01, listed first
        expect(cells.nth(1)).to_contain_text("已链接，链头 6，核验发现 1 处问题")
        expect(cells.nth(1)).to_contain_text("核验于")
        page.screenshot(path=str(out / "20-devices-chain.png"), full_page=True)
        cells.nth(1).locator("a").click()
        expect(page.locator("#chain-findings tr")).to_have_count(2)
        expect(page.locator("#chain-findings")).to_contain_text("记录缺失")
        page.screenshot(path=str(out / "21-device-chain-findings.png"), full_page=True)
    finally:
        c.engine.dispose()


def test_a_missing_seq_while_the_tablet_still_has_records_pending_gets_a_note():
    from center.audit import DeviceAudit, device_lines
    from hallcore.chain import Finding
    gap = Finding("missing", CHAINED, 4, None, seq_to=4, detail="seq 4–4 not stored")
    lines = device_lines(DeviceAudit(CHAINED, Head(9, "a" * 64, 2), records=8, chained=8, quarantined=1,
                                     findings=[gap]))
    assert lines[0] == f"{CHAINED}: PROBLEMS (1), 8 record(s), 8 chained, head seq 9 (pending 2)"
    assert lines[1] == "  seq 4 missing: seq 4–4 not stored"
    assert "2 record(s) still pending" in lines[2] and "1 quarantined record(s)" in lines[3]
    quiet = device_lines(DeviceAudit(CHAINED, Head(9, "a" * 64, 0), records=8, chained=8, findings=[gap]))
    assert len(quiet) == 2
