"""Property-based run of schemathesis against the center's OpenAPI description:
no generated request, valid token or not, may cause a 5xx or an unhandled error."""
import random

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from center.api import create_app
from tests.support.center import make_center, make_vote

_state: dict = {}


def _app():
    """One center for the whole run (schemathesis builds tests at import time)."""
    if "app" not in _state:
        import tempfile
        from pathlib import Path
        folder = Path(tempfile.mkdtemp(prefix="hall-center-openapi-"))
        c = make_center(f"sqlite:///{folder / 'c.sqlite3'}", folder)
        _state["token"] = c.add_device("tab-03", "taojiang", "03")
        _state["app"] = create_app(c)
        _state["center"] = c
    return _state["app"]


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@pytest.fixture(scope="module", autouse=True)
def _dispose():
    yield
    _state["center"].engine.dispose()


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_breaks_the_server(case):
    rnd = random.Random(repr(case.body))
    headers = {}
    if rnd.random() < 0.8:                      # mostly authenticated, to get past the token check
        headers["Authorization"] = f"Bearer {_state['token']}"
    if isinstance(case.body, dict) and rnd.random() < 0.7:
        case.body["device_id"] = "tab-03"        # this device's own batch or heartbeat
        if "votes" in case.body and isinstance(case.body["votes"], list) and rnd.random() < 0.5:
            case.body["votes"].append(make_vote("tab-03", rnd.randint(1, 10 ** 6), bad=rnd.random() < 0.5))
    if case.path_parameters and "device_id" in case.path_parameters and rnd.random() < 0.7:
        case.path_parameters["device_id"] = "tab-03"
    response = case.call(headers=headers)
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500
