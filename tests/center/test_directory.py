"""The directory of departments, windows and staff (center/directory.py):
import files checked with errors naming their place, the diff for the
confirm step, and unknown ids shown as 未登记, never dropped."""
import pytest
from hypothesis import given, strategies as st

from center.directory import (
    Directory, DirectoryError, Entry, decode, department_of, diff, from_mappings, parse, parse_csv,
    parse_toml, staff_of, window_of,
)
from tests.support.paths import CONFIG

TOML = """
[[department]]
id = "ga"
name = "县公安局"

[[window]]
id = "01"
name = "户籍窗口"
department = "ga"

[[staff]]
id = "1025"
name = "李四"
window = "01"
"""

CSV = "kind,id,name,parent\ndepartment,ga,县公安局,\nwindow,01,户籍窗口,ga\nstaff,1025,李四,01\n"


def errors(fn, text, **kw):
    with pytest.raises(DirectoryError) as e:
        fn(text, **kw)
    return e.value.errors


def test_the_shipped_example_parses_and_matches_the_center_config():
    from center.config import load_config
    d = parse_toml((CONFIG / "directory.example.toml").read_text(encoding="utf-8"))
    assert sorted(d.departments) == ["bdc", "ga", "ybj"]
    assert sorted(d.windows) == ["01", "02", "03"] and sorted(d.staff) == ["1024", "1025"]
    assert department_of(d, "03").name == "县不动产登记中心"
    cfg = load_config(CONFIG / "center.example.toml")
    assert sorted(cfg.departments) == sorted(d.windows)      # the same windows in both examples


def test_toml_and_csv_give_the_same_directory():
    assert parse_toml(TOML) == parse_csv(CSV) == parse(CSV, "csv") == parse(TOML, "toml")


def test_csv_takes_chinese_headers_kinds_a_bom_and_blank_lines():
    text = "\ufeff类型,编号,名称,所属\n部门,ga,县公安局,\n\n窗口,01,户籍窗口,ga\n人员,1025,李四,01\n"
    assert parse_csv(text) == parse_csv(CSV)


def test_spreadsheet_bytes_are_decoded_as_utf8_or_gb18030():
    assert decode(CSV.encode("utf-8-sig")) == CSV
    assert decode(CSV.encode("gb18030")) == CSV
    assert parse_csv(decode(CSV.encode("gbk"))) == parse_csv(CSV)


def test_csv_errors_name_the_line():
    text = ("kind,id,name,parent\n"
            "department,ga,县公安局,\n"
            "window,01,户籍窗口,ga\n"
            "window,01,重复窗口,ga\n"
            "staff,2001,王五,09\n"
            "office,x,y,\n"
            "window,0 2,空格窗口,ga\n"
            "window,03,,ga\n"
            "department,ga2,有所属,ga\n"
            "window,04,缺列\n")
    errs = errors(parse_csv, text)
    assert "第 4 行：窗口 01 重复（已在第 3 行定义）" in errs
    assert any(e.startswith("第 6 行：类型 'office'") for e in errs)
    assert any(e.startswith("第 7 行：窗口编号 '0 2' 不合规") for e in errs)
    assert "第 8 行：缺少窗口名称 name" in errs
    assert any(e.startswith("第 9 行：部门不属于其他条目") for e in errs)
    assert "第 10 行：应有 4 列，实有 3 列" in errs


def test_references_are_checked_once_the_file_is_otherwise_clean():
    text = "kind,id,name,parent\ndepartment,ga,县公安局,\nwindow,01,户籍,gx\nstaff,2001,王五,09\n"
    assert errors(parse_csv, text) == ["第 3 行：所属部门 gx 不在目录中", "第 4 行：所属窗口 09 不在目录中"]
    d = parse_csv(text, references=False)             # for a merge into the current directory
    assert d.windows["01"].parent == "gx"


def test_a_bad_header_or_an_empty_file_is_refused():
    assert "表头应为" in errors(parse_csv, "kind,id,name\nwindow,01,x\n")[0]
    assert "未知列 mobile" in errors(parse_csv, "kind,id,name,parent,mobile\n")[0]
    assert errors(parse_csv, "") == ["文件为空（缺少表头 kind,id,name,parent）"]
    assert errors(parse_csv, "kind,id,name,parent\n") == ["文件中没有任何部门、窗口或工作人员"]


def test_toml_errors_name_the_key():
    text = """
[[department]]
id = "ga"
name = "县公安局"
head = "张局"

[[window]]
id = "01"
name = "户籍"
deparment = "ga"

[[window]]
id = "01"
name = "x"
department = "ga"

[office]
x = 1
"""
    errs = errors(parse_toml, text)
    assert "department[0].head：未知的键（可用：id, name）" in errs
    assert "window[0].deparment：未知的键（可用：department, id, name）" in errs
    assert "window[0]：缺少所属部门 department" in errs
    assert "office：未知的表（只能是 [[department]]、[[window]]、[[staff]]）" in errs
    assert errors(parse_toml, "department = 3")[0] == "department：应写成 [[department]] 表的数组"
    assert errors(parse_toml, '[[department]]\nid = 7\nname = "x"\n') == [
        'department[0]：部门编号 id 应加引号写成文字，如 id = "7"']
    assert errors(parse_toml, TOML + '[[staff]]\nid = "9"\nname = "x"\nwindow = 1\n') == [
        "staff[1]：所属窗口 window 应加引号写成文字"]
    assert errors(parse_toml, "[[department]\n")[0].startswith("不是有效的 TOML")
    assert "名称含有换行" in errors(parse_toml, '[[department]]\nid = "a"\nname = "x\\ny"\n')[0]
    assert "不支持的文件格式" in errors(parse, "x", fmt="xlsx")[0]


def test_staff_ids_take_what_the_queue_system_sends_but_not_blanks():
    d = parse_csv(CSV + "staff,工号 A/7,赵六,01\n")
    assert "工号 A/7" in d.staff
    assert "不合规" in errors(parse_toml, TOML + '[[staff]]\nid = " 7"\nname = "x"\nwindow = "01"\n')[0]


# ------------------------------------------------------------------ the diff

CURRENT = parse_csv(CSV + "window,02,社保窗口,ga\nstaff,1026,赵六,02\n")


def test_a_replacing_import_lists_added_changed_and_removed():
    new = parse_csv("kind,id,name,parent\ndepartment,ga,县公安局,\ndepartment,ybj,医保局,\n"
                    "window,01,户籍办理窗口,ga\nwindow,03,医保窗口,ybj\nstaff,1025,李四,03\n")
    d = diff(CURRENT, new, replace=True)
    assert [(x.kind, x.id) for x in d.added] == [("department", "ybj"), ("window", "03")]
    assert [(x.kind, x.id, x.before.name, x.after.name) for x in d.changed] == [
        ("window", "01", "户籍窗口", "户籍办理窗口"), ("staff", "1025", "李四", "李四")]
    assert d.changed[1].before.parent == "01" and d.changed[1].after.parent == "03"
    assert [(x.kind, x.id) for x in d.removed] == [("window", "02"), ("staff", "1026")]
    assert d.result == new and not d.empty


def test_a_merging_import_only_adds_and_changes():
    part = parse_csv("kind,id,name,parent\nstaff,1027,孙七,02\n", references=False)
    d = diff(CURRENT, part, replace=False)
    assert [(x.kind, x.id) for x in d.added] == [("staff", "1027")] and not d.removed and not d.changed
    assert set(d.result.staff) == {"1025", "1026", "1027"}


def test_a_merge_that_would_name_an_unknown_window_is_refused():
    part = parse_csv("kind,id,name,parent\nstaff,1027,孙七,99\n", references=False)
    with pytest.raises(DirectoryError, match="所属窗口 99 不在目录中"):
        diff(CURRENT, part, replace=False)


def test_importing_the_same_directory_changes_nothing():
    assert diff(CURRENT, CURRENT, replace=True).empty
    # where an entry was read from is not part of it
    same = from_mappings([{"id": "ga", "name": "县公安局"}],
                         [{"id": "01", "name": "户籍窗口", "department": "ga"},
                          {"id": "02", "name": "社保窗口", "department": "ga"}],
                         [{"id": "1025", "name": "李四", "window": "01"},
                          {"id": "1026", "name": "赵六", "window": "02"}])
    assert diff(same, CURRENT, replace=True).empty


NAMES = st.sampled_from(["甲", "乙", "丙"])
DIRS = st.builds(
    lambda deps, wins: Directory(
        {d: Entry("department", d, n) for d, n in deps.items()},
        {w: Entry("window", w, n, sorted(deps)[i % len(deps)]) for i, (w, n) in enumerate(wins.items())}
        if deps else {}),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), NAMES, min_size=1),
    st.dictionaries(st.sampled_from(["01", "02", "03", "04"]), NAMES))


@given(DIRS, DIRS)
def test_a_replace_diff_accounts_for_every_entry(current, new):
    d = diff(current, new, replace=True)
    assert d.result == new

    def keys(entries):
        return {(e.kind, e.id) for e in entries}

    before, after = keys(current.entries()), keys(new.entries())
    assert {(x.kind, x.id) for x in d.added} == after - before
    assert {(x.kind, x.id) for x in d.removed} == before - after
    changed = {(x.kind, x.id) for x in d.changed}
    assert changed <= before & after
    assert all(x.before != x.after for x in d.changed)
    assert all(current.of(k)[i] == new.of(k)[i] for k, i in (before & after) - changed)


# ------------------------------------------------------------------ lookups

def test_known_ids_are_shown_by_name():
    assert window_of(CURRENT, "01").label == "户籍窗口"
    assert department_of(CURRENT, "02").label == "县公安局" and department_of(CURRENT, "02").id == "ga"
    assert staff_of(CURRENT, "1025", "李四（旧名）").label == "李四"


def test_unknown_window_and_staff_are_shown_as_unregistered_with_their_raw_id():
    w = window_of(CURRENT, "07")
    assert (w.id, w.known, w.label) == ("07", False, "未登记（07）")
    dep = department_of(CURRENT, "07")
    assert (dep.known, dep.label) == (False, "未登记（07）")
    s = staff_of(CURRENT, "9999", "钱八")
    assert (s.id, s.known, s.label) == ("9999", False, "未登记（9999 钱八）")
    assert staff_of(CURRENT, "").label == "未登记（空）"
