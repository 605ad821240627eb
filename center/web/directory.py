"""目录: the supervisor's view and edit of the directory of departments
(进驻单位), windows and staff (rules in center/directory.py, tables in
center/directory_db.py); the CLI imports whole files (hall-center directory)."""
from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from .. import directory_db, queries
from ..directory import KIND_LABELS, KINDS, PARENT, DirectoryError, check_entry, in_use, put, remove
from ..service import Center
from .deps import CenterDep, Supervisor, SupervisorForm, page

router = APIRouter(include_in_schema=False)


def _entry(d, ref: str):
    """The entry a `kind:id` reference in the query string names, if any."""
    kind, _, id_ = ref.partition(":")
    return d.of(kind).get(id_) if kind in KINDS else None


def _directory_page(request: Request, actor, center: Center, *, errors: list[str] | None = None,
                    form: dict | None = None, edit: str = "", register: str = "", saved: str = "",
                    deleted: str = "", status: int = 200):
    with center.engine.connect() as conn:
        d = directory_db.load(conn)
        seen = queries.record_windows(conn)
    e = _entry(d, edit)
    if not form and e:
        form = dict(kind=e.kind, id=e.id, name=e.name, parent=e.parent or "")
    elif not form and register:
        form = dict(kind="window", id=register[:64])     # a window the records name
    # the confirmation names only what the directory shows (no text from the URL)
    s = _entry(d, saved)
    done = (f"已保存{KIND_LABELS[s.kind]} {s.id}" if s else
            f"已删除一项{KIND_LABELS[deleted]}" if deleted in KINDS else "")
    windows_per_department: dict[str, int] = {}
    for w in d.windows.values():
        windows_per_department[w.parent] = windows_per_department.get(w.parent, 0) + 1
    return page(request, "directory.html", actor, d=d, errors=errors or [], form=form or {},
                done=done, kinds=KIND_LABELS, parent_of=PARENT, in_use=in_use(d),
                windows_per_department=windows_per_department,
                unregistered=[(w, n) for w, n in seen if w not in d.windows],
                config_departments=center.cfg.departments, status=status)


@router.get("/directory")
def directory_page(request: Request, actor: Supervisor, center: CenterDep, edit: str = "",
                   register: str = "", saved: str = "", deleted: str = ""):
    return _directory_page(request, actor, center, edit=edit, register=register, saved=saved,
                           deleted=deleted)


def _change(center: Center, make) -> None:
    """Apply `make(current) -> DirectoryDiff` in one transaction."""
    with center.engine.begin() as conn:
        directory_db.write(conn, make(directory_db.load(conn)))


@router.post("/directory/save")
def directory_save(request: Request, actor: SupervisorForm, center: CenterDep,
                   kind: Annotated[str, Form()] = "", id: Annotated[str, Form()] = "",
                   name: Annotated[str, Form()] = "", parent: Annotated[str, Form()] = ""):
    form = dict(kind=kind, id=id, name=name, parent=parent)
    try:
        entry = check_entry(kind, id.strip(), name, parent.strip() or None)
        _change(center, lambda cur: put(cur, entry))
    except DirectoryError as e:
        return _directory_page(request, actor, center, errors=e.errors, form=form, status=422)
    return RedirectResponse(f"/directory?saved={kind}:{quote(entry.id)}", status_code=303)


@router.post("/directory/delete")
def directory_delete(request: Request, actor: SupervisorForm, center: CenterDep,
                     kind: Annotated[str, Form()] = "", id: Annotated[str, Form()] = ""):
    try:
        if kind not in KINDS:
            raise DirectoryError([f"未知的类型 {kind!r}"])
        _change(center, lambda cur: remove(cur, kind, id))
    except DirectoryError as e:
        return _directory_page(request, actor, center, errors=e.errors, status=422)
    return RedirectResponse(f"/directory?deleted={kind}", status_code=303)
