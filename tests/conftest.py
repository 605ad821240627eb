"""Fixtures shared across the test folders: registered here once, so a test
names a fixture as an argument and never imports it."""

pytest_plugins = [
    "tests.support.mosquitto",   # mosquitto: a real broker on a free loopback port
    "tests.support.postgres",    # pg_admin_url: a throwaway PostgreSQL cluster, or HALL_TEST_PG
    "tests.support.center",      # pg_url, db_url, running_center
    "tests.support.instances",   # center_instances: several serve processes on one PostgreSQL
    "tests.support.disk",        # small_disk: a 2 MiB tmpfs that can be filled
    "tests.support.hallzone",    # every test starts in the default hall zone
    "tests.support.browser",     # browser_page: headless Chromium for the dashboard
]
