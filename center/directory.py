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
           "KINDS", "KIND_LABELS", "Shown", "UNKNOWN", "check_references", "decode",
           "department_of", "diff", "from_mappings", "parse", "parse_csv", "parse_toml",
           "staff_of", "window_of"]
