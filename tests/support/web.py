"""Driving the dashboard in-process (FastAPI TestClient), as a browser would."""
from __future__ import annotations

import re

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
