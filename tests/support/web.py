"""Driving the dashboard in-process (FastAPI TestClient), as a browser would."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from fastapi.testclient import TestClient


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def try_login(app, name: str, password: str, client: TestClient | None = None):
    """Open the login form and post it; the client and the answer (not followed)."""
    cl = client or TestClient(app)
    form = cl.get("/login")
    r = cl.post("/login", data={"name": name, "password": password, "csrf": csrf_of(form.text)},
                follow_redirects=False)
    return cl, r


def login(app, name: str, password: str) -> TestClient:
    """A client logged in as `name` (asserts the login worked)."""
    cl, r = try_login(app, name, password)
    assert r.status_code == 303, r.text
    return cl


def logout(cl: TestClient) -> None:
    r = cl.post("/logout", data={"csrf": csrf_of(cl.get("/cases").text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


class _Tables(HTMLParser):
    """The cells' texts of each <table id=...> of a page, row by row."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("id") or f"#{len(self.tables)}", [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table:
            self._table[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str, table_id: str) -> list[dict[str, str]]:
    """The rows of the page's table `table_id` as {header: text}, by its first row's headers."""
    p = _Tables()
    p.feed(html)
    head, *rows = p.tables[table_id]
    return [dict(zip(head, r)) for r in rows if len(r) == len(head)]
