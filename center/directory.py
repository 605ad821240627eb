"""The directory of 进驻单位 (departments), their windows and staff, as pure
functions: parsing and checking an import file (TOML or CSV), the diff
against the current directory for the confirm step, and how statistics
show a record's window, department and staff member.

A window belongs to one department, a staff member to one window. A
record naming a window or staff member the directory does not know is
shown as 未登记 with its raw id, never dropped.
"""
from __future__ import annotations

import csv
import io
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

UNKNOWN = "未登记"
MAX_ID = 64
MAX_STAFF_ID = 200    # the record's staff_id limit
MAX_NAME = 200
MAX_ENTRIES = 20000   # a file with more is refused before it is checked
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]+")   # what a tablet's window id may hold (DESIGN §6)

KINDS = ("department", "window", "staff")
KIND_LABELS = {"department": "部门", "window": "窗口", "staff": "工作人员"}
PARENT = {"window": "department", "staff": "window"}   # the key naming what an entry belongs to
# CSV: English or Chinese headers and kinds, as a supervisor types them in a spreadsheet.
CSV_HEADERS = {"kind": "kind", "类型": "kind", "id": "id", "编号": "id",
               "name": "name", "名称": "name", "姓名": "name", "parent": "parent", "所属": "parent"}
CSV_KINDS = {"department": "department", "部门": "department", "进驻单位": "department",
             "window": "window", "窗口": "window", "staff": "staff", "人员": "staff",
             "工作人员": "staff"}


class DirectoryError(ValueError):
    """An import file that cannot be used; `errors` lists every problem, each naming its place."""

    def __init__(self, errors: Iterable[str]):
        self.errors = list(errors)
        super().__init__("；".join(self.errors))


@dataclass(frozen=True)
class Entry:
    kind: str                      # department | window | staff
    id: str
    name: str
    parent: str | None = None      # the window's department, the staff member's window
    where: str = field(default="", compare=False)   # "第 7 行" / "window[2]", for messages


@dataclass(frozen=True)
class Directory:
    departments: dict[str, Entry] = field(default_factory=dict)
    windows: dict[str, Entry] = field(default_factory=dict)
    staff: dict[str, Entry] = field(default_factory=dict)

    def of(self, kind: str) -> dict[str, Entry]:
        return {"department": self.departments, "window": self.windows, "staff": self.staff}[kind]

    def entries(self) -> list[Entry]:
        return [e for k in KINDS for _, e in sorted(self.of(k).items())]


# ---------------------------------------------------------------- checking

def _check_entry(kind: str, id_: Any, name: Any, parent: Any, where: str, errs: list[str]) -> Entry | None:
    label = KIND_LABELS[kind]
    ok = True
    limit = MAX_STAFF_ID if kind == "staff" else MAX_ID
    if id_ is not None and not isinstance(id_, str):
        errs.append(f"{where}：{label}编号 id 应加引号写成文字，如 id = \"{id_}\"")
        ok = False
    elif not id_ or not id_.strip():
        errs.append(f"{where}：缺少{label}编号 id")
        ok = False
    elif (len(id_) > limit or id_ != id_.strip() or any(c < " " for c in id_)
          or (kind != "staff" and not _SAFE_ID.fullmatch(id_))):
        rule = f"最多 {limit} 个字符" + ("，不含空白和控制字符" if kind == "staff"
                                       else "，只能包含字母、数字和 . _ -")
        errs.append(f"{where}：{label}编号 {id_!r} 不合规（{rule}）")
        ok = False
    if not isinstance(name, str) or not name.strip():
        errs.append(f"{where}：缺少{label}名称 name")
        ok = False
    elif len(name) > MAX_NAME:
        errs.append(f"{where}：{label}名称过长（最多 {MAX_NAME} 字）")
        ok = False
    elif any(c < " " for c in name):
        errs.append(f"{where}：{label}名称含有换行或控制字符")
        ok = False
    if kind in PARENT:
        key, plabel = PARENT[kind], KIND_LABELS[PARENT[kind]]
        if parent is not None and not isinstance(parent, str):
            errs.append(f"{where}：所属{plabel} {key} 应加引号写成文字")
            ok = False
        elif not parent or not parent.strip():
            errs.append(f"{where}：缺少所属{plabel} {key}")
            ok = False
    elif parent not in (None, ""):
        errs.append(f"{where}：部门不属于其他条目，所属一栏应为空")
        ok = False
    if not ok:
        return None
    return Entry(kind, id_, name.strip(), parent.strip() if kind in PARENT else None, where)


def _collect(entries: Iterable[Entry], errs: list[str]) -> Directory:
    d = Directory()
    for e in entries:
        table = d.of(e.kind)
        if e.id in table:
            errs.append(f"{e.where}：{KIND_LABELS[e.kind]} {e.id} 重复（已在{table[e.id].where}定义）")
            continue
        table[e.id] = e
    return d


def check_references(d: Directory) -> list[str]:
    """Every window's department and every staff member's window must be in `d`."""
    errs = []
    for kind in ("window", "staff"):
        parents = d.of(PARENT[kind])
        for _, e in sorted(d.of(kind).items()):
            if e.parent not in parents:
                plabel = KIND_LABELS[PARENT[kind]]
                errs.append(f"{e.where or e.id}：所属{plabel} {e.parent} 不在目录中")
    return errs


def _finish(entries: list[Entry], errs: list[str], *, references: bool) -> Directory:
    d = _collect(entries, errs)
    if not errs and not entries:
        errs.append("文件中没有任何部门、窗口或工作人员")
    if references and not errs:
        errs.extend(check_references(d))
    if errs:
        raise DirectoryError(errs)
    return d


def parse_toml(text: str, *, references: bool = True) -> Directory:
    """A TOML import file: arrays of tables [[department]] (id, name),
    [[window]] (id, name, department), [[staff]] (id, name, window).
    `references=False` leaves the department/window check to the merge."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DirectoryError([f"不是有效的 TOML：{e}"]) from None
    errs: list[str] = []
    entries: list[Entry] = []
    for key in data:
        if key not in KINDS:
            errs.append(f"{key}：未知的表（只能是 [[department]]、[[window]]、[[staff]]）")
    for kind in KINDS:
        rows = data.get(kind, [])
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            errs.append(f"{kind}：应写成 [[{kind}]] 表的数组")
            continue
        if len(entries) + len(rows) > MAX_ENTRIES:
            raise DirectoryError([f"条目过多（最多 {MAX_ENTRIES} 条）"])
        allowed = {"id", "name"} | ({PARENT[kind]} if kind in PARENT else set())
        for i, row in enumerate(rows):
            where = f"{kind}[{i}]"
            for k in sorted(set(row) - allowed):
                errs.append(f"{where}.{k}：未知的键（可用：{', '.join(sorted(allowed))}）")
            e = _check_entry(kind, row.get("id"), row.get("name"), row.get(PARENT.get(kind, "")),
                             where, errs)
            if e:
                entries.append(e)
    return _finish(entries, errs, references=references)


def parse_csv(text: str, *, references: bool = True) -> Directory:
    """A CSV import file with a header `kind,id,name,parent` (or 类型,编号,名称,所属),
    one row per department, window or staff member; `parent` is a window's
    department id or a staff member's window id. Errors name the line."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    errs: list[str] = []
    entries: list[Entry] = []
    header = None
    for row in reader:
        line = reader.line_num
        if not any(c.strip() for c in row):
            continue
        if header is None:
            header = [CSV_HEADERS.get(c.strip().lower()) for c in row]
            unknown = [c for c, h in zip(row, header) if h is None]
            missing = [h for h in ("kind", "id", "name", "parent") if h not in header]
            if unknown or missing or len(set(header)) != len(header):
                raise DirectoryError([f"第 {line} 行：表头应为 kind,id,name,parent（或 类型,编号,名称,所属）"
                                      + (f"，未知列 {', '.join(unknown)}" if unknown else "")])
            continue
        if len(entries) >= MAX_ENTRIES:
            raise DirectoryError([f"条目过多（最多 {MAX_ENTRIES} 条）"])
        where = f"第 {line} 行"
        if len(row) != len(header):
            errs.append(f"{where}：应有 {len(header)} 列，实有 {len(row)} 列")
            continue
        cells = dict(zip(header, (c.strip() for c in row)))
        kind = CSV_KINDS.get(cells["kind"].lower())
        if kind is None:
            errs.append(f"{where}：类型 {cells['kind']!r} 应为 department、window 或 staff（部门、窗口、人员）")
            continue
        e = _check_entry(kind, cells["id"], cells["name"], cells["parent"], where, errs)
        if e:
            entries.append(e)
    if header is None:
        raise DirectoryError(["文件为空（缺少表头 kind,id,name,parent）"])
    return _finish(entries, errs, references=references)


def decode(data: bytes) -> str:
    """An uploaded file's text: UTF-8 (with or without BOM), else GB18030
    (a spreadsheet saved as CSV on a Chinese Windows)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise DirectoryError(["文件编码无法识别，请另存为 UTF-8"]) from None


def parse(text: str, fmt: str, *, references: bool = True) -> Directory:
    """`fmt` is "toml" or "csv" (the file's extension)."""
    if fmt == "toml":
        return parse_toml(text, references=references)
    if fmt == "csv":
        return parse_csv(text, references=references)
    raise DirectoryError([f"不支持的文件格式 {fmt!r}：请用 .toml 或 .csv"])


# -------------------------------------------------------------------- diff

@dataclass(frozen=True)
class Difference:
    kind: str
    id: str
    before: Entry | None     # None: added
    after: Entry | None      # None: removed


@dataclass(frozen=True)
class DirectoryDiff:
    added: tuple[Difference, ...]
    changed: tuple[Difference, ...]
    removed: tuple[Difference, ...]
    result: Directory        # the directory after the import

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


def diff(current: Directory, incoming: Directory, *, replace: bool) -> DirectoryDiff:
    """What importing `incoming` does to `current`. `replace=True`: the file
    is the whole directory (entries not in it are removed); False: it adds
    and changes only. Raises DirectoryError if the result would name a
    department or window it does not hold."""
    result = Directory()
    added, changed, removed = [], [], []
    for kind in KINDS:
        before, new = current.of(kind), incoming.of(kind)
        merged = dict(new) if replace else {**before, **new}
        result.of(kind).update(sorted(merged.items()))
        for id_ in sorted(set(before) | set(merged)):
            b, a = before.get(id_), merged.get(id_)
            if b is None:
                added.append(Difference(kind, id_, None, a))
            elif a is None:
                removed.append(Difference(kind, id_, b, None))
            elif a != b:
                changed.append(Difference(kind, id_, b, a))
    errs = check_references(result)
    if errs:
        raise DirectoryError(errs)
    return DirectoryDiff(tuple(added), tuple(changed), tuple(removed), result)


def _describe(e: Entry) -> str:
    parent = f"（所属{KIND_LABELS[PARENT[e.kind]]} {e.parent}）" if e.kind in PARENT else ""
    return f"{e.name}{parent}"


def diff_lines(change: DirectoryDiff) -> list[str]:
    """The diff for a person to confirm, one line per entry."""
    out = [f"  + {KIND_LABELS[x.kind]} {x.id} {_describe(x.after)}" for x in change.added]
    out += [f"  ~ {KIND_LABELS[x.kind]} {x.id} {_describe(x.before)} → {_describe(x.after)}"
            for x in change.changed]
    out += [f"  - {KIND_LABELS[x.kind]} {x.id} {_describe(x.before)}" for x in change.removed]
    return out


# ------------------------------------------------------- editing one entry

def check_entry(kind: str, id_: str, name: str, parent: str | None = None) -> Entry:
    """One entry as a supervisor types it in the dashboard, checked by the
    import's rules; DirectoryError lists what is wrong."""
    if kind not in KINDS:
        raise DirectoryError([f"未知的类型 {kind!r}"])
    errs: list[str] = []
    e = _check_entry(kind, id_, name, parent if kind in PARENT else None, KIND_LABELS[kind], errs)
    if errs or e is None:
        raise DirectoryError(errs)
    return Entry(e.kind, e.id, e.name, e.parent, f"{KIND_LABELS[kind]} {e.id}")


def put(current: Directory, entry: Entry) -> DirectoryDiff:
    """Adding or changing one entry: the diff (empty when nothing changes)."""
    one = Directory()
    one.of(entry.kind)[entry.id] = entry
    return diff(current, one, replace=False)


def remove(current: Directory, kind: str, id_: str) -> DirectoryDiff:
    """Removing one entry; refused while a window or staff member belongs to it
    (a record's window stays countable either way: it shows as 未登记)."""
    label = KIND_LABELS[kind]
    if id_ not in current.of(kind):
        raise DirectoryError([f"{label} {id_} 不在目录中"])
    children = [(k, e.id) for k, p in PARENT.items() if p == kind
                for e in current.of(k).values() if e.parent == id_]
    if children:
        names = "、".join(f"{KIND_LABELS[k]} {i}" for k, i in sorted(children)[:5])
        more = f" 等 {len(children)} 项" if len(children) > 5 else ""
        raise DirectoryError([f"{label} {id_} 下还有{names}{more}，请先移走或删除它们"])
    rest = Directory()
    for k in KINDS:
        rest.of(k).update((i, e) for i, e in current.of(k).items() if (k, i) != (kind, id_))
    return diff(current, rest, replace=True)


# ---------------------------------------------------------------- export

def _toml_str(v: str) -> str:
    """A TOML basic string (names and ids hold no control characters)."""
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_toml(d: Directory, header: str = "") -> str:
    """The directory as an import file (parse_toml gives `d` back)."""
    out = [f"# {line}".rstrip() for line in header.splitlines()]
    for kind in KINDS:
        for e in sorted(d.of(kind).values(), key=lambda e: e.id):
            out += ["", f"[[{kind}]]", f"id = {_toml_str(e.id)}", f"name = {_toml_str(e.name)}"]
            if kind in PARENT:
                out.append(f"{PARENT[kind]} = {_toml_str(e.parent or '')}")
    return "\n".join(out).lstrip("\n") + "\n"


def format_csv(d: Directory) -> str:
    """The directory as a CSV import file (header kind,id,name,parent)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["kind", "id", "name", "parent"])
    for e in d.entries():
        w.writerow([e.kind, e.id, e.name, e.parent or ""])
    return buf.getvalue()


def from_department_names(departments: Mapping[str, str]) -> Directory:
    """A first directory from the center config's [departments] (window id ->
    department name), for a hall moving to the directory: each distinct
    name becomes a department with the id d01, d02 … (by name), each window
    is named after its id. The supervisor checks the ids and names, then
    imports the file."""
    d = Directory()
    ids = {name: f"d{i:02d}" for i, name in enumerate(sorted(set(departments.values())), 1)}
    for name, id_ in ids.items():
        d.departments[id_] = Entry("department", id_, name)
    for window_id, name in sorted(departments.items()):
        d.windows[window_id] = Entry("window", window_id, f"{window_id} 号窗口", ids[name])
    return d


# ------------------------------------------------------------ for statistics

@dataclass(frozen=True)
class Shown:
    """How a record's window, department or staff member is shown."""
    id: str              # the raw id (for an unknown department: the window's id)
    name: str            # the directory's name, or 未登记
    known: bool
    raw_name: str = ""   # an unknown staff member's name as the record carries it

    @property
    def label(self) -> str:
        if self.known:
            return self.name
        raw = " ".join(x for x in (self.id, self.raw_name) if x) or "空"
        return f"{UNKNOWN}（{raw}）"


def in_use(d: Directory) -> bool:
    """Whether the hall keeps a directory: once it holds a window, statistics
    by department and the names on pages come from it (DESIGN §13.6)."""
    return bool(d.windows)


def window_of(d: Directory, window_id: str) -> Shown:
    e = d.windows.get(window_id)
    return Shown(window_id, e.name, True) if e else Shown(window_id, UNKNOWN, False)


def department_of(d: Directory, window_id: str) -> Shown:
    """The department of a record's window; an unknown window's is unknown too."""
    w = d.windows.get(window_id)
    dep = d.departments.get(w.parent) if w else None
    return Shown(dep.id, dep.name, True) if dep else Shown(window_id, UNKNOWN, False)


def staff_of(d: Directory, staff_id: str, staff_name: str = "") -> Shown:
    """A record's staff member; an unknown one keeps the id (and the name the record carries)."""
    e = d.staff.get(staff_id)
    if e:
        return Shown(staff_id, e.name, True)
    return Shown(staff_id, UNKNOWN, False, staff_name)


def window_label(d: Directory, window_id: str) -> str:
    """A record's window on a page: `03 不动产登记窗口`, `未登记（07）`, or the
    bare id while the hall keeps no directory."""
    if not in_use(d):
        return window_id
    w = window_of(d, window_id)
    return f"{window_id} {w.name}" if w.known else w.label


def staff_label(d: Directory, staff_id: str, staff_name: str = "") -> str:
    """A record's staff member: `1024 张三`, `未登记（9999 钱八）`, or id and
    the record's name while the hall keeps no directory."""
    if not in_use(d):
        return " ".join(x for x in (staff_id, staff_name) if x)
    s = staff_of(d, staff_id, staff_name)
    return f"{staff_id} {s.name}" if s.known else s.label


def department_label(d: Directory, window_id: str, stamped: str) -> str:
    """The department of a record's window: the directory's (未登记（07）
    for a window it does not know), or, while the hall keeps no directory,
    the one the center's [departments] gave the record at ingest."""
    return department_of(d, window_id).label if in_use(d) else stamped


def from_mappings(departments: Iterable[Mapping[str, Any]], windows: Iterable[Mapping[str, Any]],
                  staff: Iterable[Mapping[str, Any]]) -> Directory:
    """A Directory from rows as the database returns them (id, name, and
    department / window), for `diff` and the lookups."""
    d = Directory()
    for kind, rows in (("department", departments), ("window", windows), ("staff", staff)):
        for r in rows:
            d.of(kind)[r["id"]] = Entry(kind, r["id"], r["name"], r.get(PARENT.get(kind, "")),
                                        f"{KIND_LABELS[kind]} {r['id']}")
    return d


__all__ = ["CSV_HEADERS", "Difference", "Directory", "DirectoryDiff", "DirectoryError", "Entry",
           "KINDS", "KIND_LABELS", "Shown", "UNKNOWN", "check_entry", "check_references", "decode",
           "department_label", "department_of", "diff", "diff_lines", "format_csv", "format_toml", "from_department_names",
           "from_mappings", "in_use", "parse", "parse_csv", "parse_toml", "put", "remove",
           "staff_label", "staff_of", "window_label", "window_of"]
