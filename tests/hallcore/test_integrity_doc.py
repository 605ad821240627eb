"""The inspectors' procedure in docs/design-integrity.md §1.4: the script as
printed there, run on the documented example and on tampered exports, gives
the documented output and agrees with hallcore.chain.verify_chain."""
import ast
import json
import re
import subprocess
import sys
import uuid

import pytest

from hallcore.chain import Head, chain_hash, failed, link, verify_chain
from tests.support.center import make_vote
from tests.support.paths import REPO

DOC = (REPO / "docs" / "design-integrity.md").read_text(encoding="utf-8")


def block(marker: str) -> str:
    """The fenced block right after `<!-- marker -->` in the doc."""
    m = re.search(rf"<!-- {re.escape(marker)} -->\n```[a-z]*\n(.*?)\n```", DOC, re.S)
    assert m, f"no block after <!-- {marker} --> in docs/design-integrity.md"
    return m.group(1)


SCRIPT = block("inspector script")


def run(folder, records, heads=None):
    folder.mkdir(exist_ok=True)
    (folder / "verify_export.py").write_text(SCRIPT, encoding="utf-8")
    (folder / "records.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                          encoding="utf-8")
    if heads is not None:
        (folder / "heads.json").write_text(json.dumps(heads), encoding="utf-8")
    # -I: no PYTHONPATH, no user site; cwd outside the checkout
    p = subprocess.run([sys.executable, "-I", str(folder / "verify_export.py"), str(folder)],
                       capture_output=True, text=True, cwd=folder, timeout=60)
    return p.returncode, p.stdout.rstrip("\n"), p.stderr


def test_the_script_needs_only_the_standard_library():
    imported = set()
    for node in ast.walk(ast.parse(SCRIPT)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported and imported <= set(sys.stdlib_module_names), imported


def example():
    records = [json.loads(line) for line in block("example records.jsonl").splitlines()]
    return records, json.loads(block("example heads.json"))


def test_the_worked_example_prints_what_the_doc_says(tmp_path):
    records, heads = example()
    code, out, err = run(tmp_path / "ok", records, heads)
    assert (code, out, err) == (0, block("example output"), "")
    # the hashes printed are hallcore.chain's, and the chain module agrees
    assert [line.split()[-1] for line in out.splitlines()[:-1]] == [chain_hash(r) for r in records]
    assert verify_chain(records, {d: Head(**h) for d, h in heads.items()}) == []


def test_the_altered_example_prints_what_the_doc_says(tmp_path):
    records, heads = example()
    records[1].update(rating="satisfied", rating_label="满意", satisfaction_code=2)
    code, out, _ = run(tmp_path / "alt", records, heads)
    assert (code, out) == (1, block("example output altered"))
    found = verify_chain(records, {d: Head(**h) for d, h in heads.items()})
    assert [(f.kind, f.seq) for f in found] == [("altered", 2)]


def chain(n=8):
    out, prev = [], None
    for seq in range(1, n + 1):
        rec = link(make_vote("tj-03", seq), prev)
        prev = chain_hash(rec)
        out.append(rec)
    return out


def delete(recs):
    return [r for r in recs if r["seq"] != 4]


def alter(recs):
    return [dict(r, staff_id="9999") if r["seq"] == 4 else r for r in recs]


def insert(recs):
    return recs + [dict(recs[3], id=str(uuid.uuid4()), rating="basically_satisfied",
                        rating_label="基本满意", satisfaction_code=3)]


def tail_deleted(recs):
    return recs[:-1]


@pytest.mark.parametrize("tamper,problem", [
    (delete, "seq 5: prev_hash does not match seq 3 (seq 4-4 missing)"),
    (alter, "seq 5: prev_hash does not match seq 4"),
    (insert, "seq 4: prev_hash does not match seq 4"),
    (tail_deleted, "seq 8: the tablet's head is not in the export"),
])
def test_the_script_and_verify_chain_agree_on_tampered_exports(tmp_path, tamper, problem):
    recs = chain()
    heads = {"tj-03": {"seq": 8, "hash": chain_hash(recs[-1]), "pending": 0}}
    code, out, _ = run(tmp_path / "intact", recs, heads)
    assert code == 0 and out.endswith("OK")
    assert not failed(verify_chain(recs, {"tj-03": Head(**heads["tj-03"])}))

    bad = tamper(recs)
    code, out, _ = run(tmp_path / "bad", bad, heads)
    assert code == 1 and f"tj-03 {problem}" in out.splitlines()
    assert failed(verify_chain(bad, {"tj-03": Head(**heads["tj-03"])}))
