"""Tamper evidence (hallcore/chain.py): the canonical hash, linking, and
verify_chain naming each missing, altered and inserted record."""
import hashlib
import json
import random
import uuid

import pytest

from hallcore.chain import (
    GENESIS, ChainError, Finding, Head, LinearChain, Link, canonical, chain_hash, failed, is_chained, link,
    link_of,
    verify_chain, verify_device,
)
from tests.support.center import make_vote


def chain(device="tj-03", n=6, *, start=1, prev=None, **over):
    """n chained records of one device, as its outbox would write them."""
    out = []
    for seq in range(start, start + n):
        rec = link(make_vote(device, seq, **over), prev)
        prev = chain_hash(rec)
        out.append(rec)
    return out


def head_of(records, pending=0):
    last = records[-1]
    return Head(last["seq"], chain_hash(last), pending)


def kinds(findings):
    return [(f.kind, f.seq) for f in findings]


# ------------------------------------------------------------------ the hash

def test_canonical_form_is_sorted_compact_utf8_without_the_hash_field():
    rec = {"b": 1, "a": "窗口", "hash": "x" * 64, "c": [True, None, {"z": 2, "y": "—"}]}
    assert canonical(rec) == '{"a":"窗口","b":1,"c":[true,null,{"y":"—","z":2}]}'.encode("utf-8")
    assert chain_hash(rec) == hashlib.sha256(canonical(rec)).hexdigest()
    assert chain_hash(rec) == chain_hash({k: v for k, v in rec.items() if k != "hash"})


def test_hash_covers_prev_hash_and_every_field():
    rec = chain(n=1)[0]
    for field, value in (("prev_hash", "1" * 64), ("rating", "basically_satisfied"), ("seq", 2),
                         ("comment", "x"), ("case_no", None)):
        assert chain_hash({**rec, field: value}) != chain_hash(rec), field
    # key order and a JSON round trip (the center's body column) change nothing
    again = json.loads(json.dumps(dict(reversed(list(rec.items())))))
    assert chain_hash(again) == chain_hash(rec)


@pytest.mark.parametrize("value", [1.5, float("nan"), b"bytes", {1: "x"}, "\ud800"])
def test_values_without_a_canonical_form_are_refused(value):
    with pytest.raises(ChainError):
        canonical({"x": value})


def test_link_makes_schema_2_and_refuses_a_bad_prev_hash():
    rec = make_vote("d", 1)
    first = link(rec, None)
    assert first["schema"] == 2 and first["prev_hash"] == GENESIS and is_chained(first)
    assert not is_chained(rec) and "prev_hash" not in rec         # the input is not changed
    assert link(rec, "ab" * 32)["prev_hash"] == "ab" * 32
    for bad in ("AB" * 32, "ab" * 31, 7):
        with pytest.raises(ChainError, match="prev_hash"):
            link(rec, bad)


# ------------------------------------------------------------------ intact

def test_an_intact_chain_passes_with_and_without_a_head():
    recs = chain(n=8)
    assert verify_chain(recs) == []
    assert verify_chain(recs, {"tj-03": head_of(recs)}) == []


def test_row_order_does_not_matter_and_devices_are_apart():
    a, b = chain("tj-01", 5), chain("tj-02", 5)
    rows = a + b
    random.Random(3).shuffle(rows)
    assert verify_chain(rows, {"tj-01": head_of(a), "tj-02": head_of(b)}) == []


def test_records_newer_than_the_heartbeat_are_not_findings():
    recs = chain(n=6)
    assert verify_chain(recs, {"tj-03": head_of(recs[:4])}) == []


# ------------------------------------------------------------------ deleted

@pytest.mark.parametrize("gone", [2, 4, 5])
def test_a_deleted_record_is_reported_missing(gone):
    recs = chain(n=6)
    kept = [r for r in recs if r["seq"] != gone]
    found = verify_chain(kept, {"tj-03": head_of(recs)})
    assert found == [Finding("missing", "tj-03", gone, None, seq_to=gone, count=1,
                             others=(recs[gone]["id"],), detail=found[0].detail)]
    assert failed(found)


def test_deleting_the_first_record_is_missing_too():
    recs = chain(n=4)
    assert kinds(verify_chain(recs[1:])) == [("missing", 1)]


def test_deleting_a_run_names_the_whole_range():
    recs = chain(n=9)
    found = verify_chain(recs[:3] + recs[6:])
    assert [(f.kind, f.seq, f.seq_to, f.count) for f in found] == [("missing", 4, 6, 3)]


def test_a_deleted_last_record_shows_against_the_head_once_nothing_is_pending():
    recs = chain(n=5)
    assert kinds(verify_chain(recs[:4], {"tj-03": head_of(recs, pending=0)})) == [("missing", 5)]
    # the tablet still has it pending: on its way, not missing
    assert verify_chain(recs[:4], {"tj-03": head_of(recs, pending=1)}) == []
    assert verify_chain(recs[:4], {"tj-03": head_of(recs, pending=None)}) == []


# ------------------------------------------------------------------ altered

@pytest.mark.parametrize("field,value", [("rating", "basically_satisfied"), ("staff_id", "2048"),
                                         ("voted_at", "2026-11-27T16:00:00+08:00")])
def test_an_altered_record_is_reported_as_altered(field, value):
    recs = chain(n=6)
    recs[2] = {**recs[2], field: value}
    found = verify_chain(recs, {"tj-03": head_of(recs)})
    assert [(f.kind, f.seq, f.record_id) for f in found] == [("altered", 3, recs[2]["id"])]
    assert found[0].others == (recs[3]["id"],)


def test_an_altered_prev_hash_names_that_record_alone():
    recs = chain(n=6)
    recs[3] = {**recs[3], "prev_hash": "f" * 64}
    found = verify_chain(recs)
    assert [(f.kind, f.seq, f.record_id) for f in found] == [("altered", 4, recs[3]["id"])]


def test_an_altered_last_record_is_a_head_mismatch():
    recs = chain(n=5)
    head = head_of(recs)
    recs[-1] = {**recs[-1], "staff_name": "王五"}
    found = verify_chain(recs, {"tj-03": head})
    assert [(f.kind, f.seq, f.record_id) for f in found] == [("head_mismatch", 5, recs[-1]["id"])]


def test_an_altered_record_rehashed_forward_is_caught_by_the_head():
    """Whoever rewrites a record and re-links every later one still meets the tablet's head."""
    recs = chain(n=5)
    head = head_of(recs)
    forged, prev = [], None
    for r in recs:
        r = {**r, "staff_id": "9999"} if r["seq"] == 2 else dict(r)
        r = link(r, prev)
        prev = chain_hash(r)
        forged.append(r)
    assert verify_chain(forged) == []                           # the chain alone cannot tell
    assert kinds(verify_chain(forged, {"tj-03": head})) == [("head_mismatch", 5)]


# ------------------------------------------------------------------ inserted

def fake(template, **over):
    return {**template, "id": str(uuid.uuid4()), **over}


def test_an_inserted_copy_claiming_a_taken_predecessor_is_inserted():
    recs = chain(n=6)
    x = fake(recs[2], rating="satisfied", ticket="A999")     # seq 3 again, same prev_hash
    found = verify_chain(recs + [x], {"tj-03": head_of(recs)})
    assert [(f.kind, f.seq, f.record_id) for f in found] == [("inserted", 3, x["id"])]
    assert found[0].others == (recs[2]["id"],)


def test_an_inserted_record_with_a_new_seq_and_a_copied_prev_hash_is_inserted():
    recs = chain(n=6)
    x = fake(recs[3], seq=7)
    assert [(f.kind, f.seq, f.record_id) for f in verify_chain(recs + [x])] == [("inserted", 7, x["id"])]


def test_an_inserted_record_pointing_nowhere_inside_the_chain_is_inserted():
    recs = chain(n=6)
    x = fake(recs[1], prev_hash="e" * 64)                     # seq 2 again, invented link
    assert [(f.kind, f.seq, f.record_id) for f in verify_chain(recs + [x])] == [("inserted", 2, x["id"])]


def test_a_record_added_after_the_reported_head_that_does_not_continue_it_is_inserted():
    recs = chain(n=5)
    x = fake(recs[0], seq=6, prev_hash=GENESIS)
    found = verify_chain(recs + [x], {"tj-03": head_of(recs)})
    assert [(f.kind, f.seq, f.record_id) for f in found] == [("inserted", 6, x["id"])]


def test_a_well_forged_extension_meets_the_tablet_s_next_head_or_record():
    recs = chain(n=5)
    x = link(fake(recs[4], seq=6, rating="satisfied"), chain_hash(recs[4]))
    real = chain(n=1, start=6, prev=chain_hash(recs[4]))
    # the tablet's next heartbeat reports its own seq 6
    assert kinds(verify_chain(recs + [x], {"tj-03": head_of(recs + real)})) == [("head_mismatch", 6)]
    # and once its real seq 6 arrives, the forgery is the inserted one
    found = verify_chain(recs + [x] + real, {"tj-03": head_of(recs + real)})
    assert [(f.kind, f.seq, f.record_id) for f in found] == [("inserted", 6, x["id"])]


def test_an_undecidable_fork_names_both_claimants_once():
    recs = chain(n=4)
    x = link(fake(recs[3], rating="satisfied"), chain_hash(recs[2]))
    found = verify_chain(recs + [x])
    assert [(f.kind, f.seq) for f in found] == [("inserted", 4)]
    assert set(found[0].others) == {recs[3]["id"], x["id"]} and found[0].record_id is None


# ------------------------------------------------------------------ schema 1

def test_schema_1_tablets_are_unchained_not_errors():
    plain = [make_vote("old-01", s) for s in range(1, 6)]
    found = verify_chain(plain)
    assert [(f.kind, f.seq, f.seq_to, f.count) for f in found] == [("unchained", 1, 5, 5)]
    assert not failed(found) and not found[0].error


@pytest.mark.parametrize("first_prev", ["last", "zeros"])
def test_an_upgraded_tablet_chains_on_from_its_last_schema_1_record(first_prev):
    plain = [make_vote("tj-03", s) for s in range(1, 4)]
    prev = chain_hash(plain[-1]) if first_prev == "last" else None
    recs = chain(n=3, start=4, prev=prev)
    found = verify_chain(plain + recs, {"tj-03": head_of(recs)})
    assert kinds(found) == [("unchained", 1)]


def test_an_altered_last_schema_1_record_shows_when_the_chain_names_it():
    plain = [make_vote("tj-03", s) for s in range(1, 4)]
    recs = chain(n=3, start=4, prev=chain_hash(plain[-1]))
    plain[-1] = {**plain[-1], "staff_id": "7"}
    assert kinds(verify_chain(plain + recs)) == [("unchained", 1), ("altered", 3)]


def test_a_schema_1_record_after_the_chain_began_is_inserted():
    recs = chain(n=4)
    x = make_vote("tj-03", 5)
    assert [(f.kind, f.seq, f.record_id) for f in verify_chain(recs + [x])] == [("inserted", 5, x["id"])]


def test_a_head_for_a_device_with_no_chained_record_stored():
    recs = chain(n=3)
    assert kinds(verify_chain([], {"tj-03": head_of(recs, pending=0)})) == [("missing", 1)]
    assert verify_chain([], {"tj-03": head_of(recs, pending=3)}) == []


def test_a_non_integer_seq_is_a_clear_error():
    rec = {**chain(n=1)[0], "seq": "1"}
    with pytest.raises(ChainError, match="seq"):
        verify_chain([rec])


def test_a_chained_record_that_lost_its_prev_hash_is_altered_not_unchained():
    recs = chain(n=5)
    del recs[2]["prev_hash"]
    assert [(f.kind, f.seq) for f in verify_chain(recs)] == [("altered", 3)]


def test_a_device_whose_every_link_is_broken_is_reported_record_by_record():
    recs = [link(make_vote("tj-03", s), "c" * 64) for s in range(1, 201)]
    found = verify_chain(recs)
    # one finding per record, none twice: the first 199 each break a link the last one names
    assert [(f.kind, f.seq) for f in found] == [("altered", s) for s in range(1, 200)]


def test_verify_device_on_links_agrees_with_verify_chain_on_records():
    recs = chain(n=9)
    tampered = [r for r in recs if r["seq"] != 3]
    tampered[5] = dict(tampered[5], staff_id="9999")
    tampered.append(dict(recs[6], id=str(uuid.uuid4()), ticket="Z999"))
    head = head_of(recs, pending=0)
    links = [link_of(r) for r in reversed(tampered)]
    assert link_of(recs[-1]) == Link(recs[-1]["id"], 9, chain_hash(recs[-1]), recs[-1]["prev_hash"])
    assert verify_device("tj-03", links, head) == verify_chain(tampered, {"tj-03": head})
    assert {f.kind for f in verify_device("tj-03", links, head)} >= {"missing", "altered", "inserted"}
    plain = make_vote("tj-03", 1)
    assert link_of(plain).prev is None


# ------------------------------------------------------------------ the constant-memory walk

def walk(links, head=None):
    w = LinearChain("tj-03", head)
    for n in sorted(links, key=lambda n: (n.seq, n.id)):
        w.add(n)
    return w.findings()


def scenarios(rng):
    """Intact chains of every shape and tampered ones, with and without heads."""
    for _ in range(300):
        plain = [make_vote("tj-03", s) for s in range(1, rng.randint(0, 3) + 1)]
        prev = (chain_hash(plain[-1]) if plain and rng.random() < 0.7 else None)
        recs = plain + chain(n=rng.randint(0, 6), start=len(plain) + 1, prev=prev)
        recs = [r for r in recs if rng.random() > 0.1 or r is recs[-1]]      # deleted records
        if rng.random() < 0.4 and recs:
            i = rng.randrange(len(recs))
            recs[i] = dict(recs[i], staff_id=str(rng.randint(0, 9)))
        if rng.random() < 0.2 and recs:
            recs.append(dict(rng.choice(recs), id=str(uuid.uuid4()), ticket="Z"))
        head = None
        if recs and rng.random() < 0.7:
            top = max(recs, key=lambda r: r["seq"])
            head = Head(top["seq"] + rng.choice((0, 0, 1, 2)), chain_hash(top) if rng.random() < 0.9 else "e" * 64,
                        rng.choice((0, 0, 3, None)))
        yield recs, head


def test_the_walk_agrees_with_verify_device_whenever_it_answers():
    rng = random.Random(13)
    answered = deferred = 0
    for recs, head in scenarios(rng):
        links = [link_of(r) for r in recs]
        full = verify_device("tj-03", links, head)
        quick = walk(links, head)
        if quick is None:
            deferred += 1
            assert full, "the walk gave up on records verify_device finds nothing wrong with"
        else:
            answered += 1
            assert quick == full
    assert answered > 50 and deferred > 50


def test_the_walk_answers_for_intact_upgraded_and_unchained_devices():
    plain = [make_vote("tj-03", s) for s in (1, 2, 3)]
    two = chain(n=2)
    skipped = two + [link(make_vote("tj-03", 4), chain_hash(two[-1]))]      # seq 3 reserved, never written
    for recs in (chain(n=5), plain, plain + chain(n=2, start=4, prev=chain_hash(plain[-1])),
                 plain + chain(n=2, start=4), skipped):
        links = [link_of(r) for r in recs]
        assert walk(links, head_of(recs)) == verify_device("tj-03", links, head_of(recs))
    # a head past the stored chain with nothing pending: missing, without the full check
    recs = chain(n=4)
    head = Head(6, "e" * 64, 0)
    assert [(f.kind, f.seq, f.seq_to) for f in walk([link_of(r) for r in recs], head)] == [("missing", 5, 6)]
