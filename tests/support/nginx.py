"""Debian's nginx (scripts/sysdeps.sh) run by the tests with the shipped site
file (config/nginx/hall-center.conf) on loopback ports: its own main config,
pid, logs and temp folders in a test folder; the site's listen ports,
upstream servers and certificate paths replaced, nothing else.

    site = site_for_test(SHIPPED.read_text(), [8081, 8082], http_port, https_port, pki)
    with running_nginx(folder, site) as ng:     # ng.https, ng.http, ng.access_log()
        ...
"""
from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from hallcore.packagedata import CONFIG, shipped

from .certs import TestPki

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SHIPPED_SITE = shipped(CONFIG, "nginx", "hall-center.conf")
# the test's access log names the instance that answered each request
LOG_FORMAT = "'$request_method $uri $status $upstream_addr'"


class NginxMissing(RuntimeError):
    pass


def _replace(text: str, pattern: str, new: str, count: int) -> str:
    out, n = re.subn(pattern, new, text, flags=re.M)
    assert n == count, f"the shipped site has {n} lines matching {pattern!r}, the test expects {count}"
    return out


def site_for_test(text: str, upstream_ports: list[int], http_port: int, https_port: int, pki: TestPki) -> str:
    """The shipped site on loopback ports, with the test's certificate."""
    text = _replace(text, r"^(\s*)server 127\.0\.0\.1:\d+ (.*)$", r"\1__UPSTREAM__ \2", 2)
    for port in upstream_ports:
        text = text.replace("__UPSTREAM__", f"server 127.0.0.1:{port}", 1)
    assert "__UPSTREAM__" not in text, "the test names as many instances as the shipped upstream block"
    text = _replace(text, r"^\s*listen \[::\]:\d+.*$", "", 2)           # loopback IPv4 only
    text = _replace(text, r"^(\s*)listen 80;$", rf"\1listen 127.0.0.1:{http_port};", 1)
    text = _replace(text, r"^(\s*)listen 443 ssl;$", rf"\1listen 127.0.0.1:{https_port} ssl;", 1)
    text = _replace(text, r"^(\s*ssl_certificate\s+)\S+;$", rf"\g<1>{pki.server_cert};", 1)
    text = _replace(text, r"^(\s*ssl_certificate_key\s+)\S+;$", rf"\g<1>{pki.server_key};", 1)
    return text


def main_config(folder: Path, site: Path) -> str:
    tmp = folder / "tmp"
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    temps = "".join(f"    {kind}_temp_path {tmp / kind};\n"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}worker_processes 1;\npid {folder / 'nginx.pid'};\n"
            f"error_log {folder / 'error.log'} warn;\ndaemon off;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"    log_format hall {LOG_FORMAT};\n"
            f"    access_log {folder / 'access.log'} hall;\n"
            f"{temps}"
            f"    include {site};\n"
            "}\n")


def write_config(folder: Path, site_text: str) -> Path:
    if not Path(NGINX).is_file():
        raise NginxMissing("nginx is not installed: bash scripts/sysdeps.sh (Debian's nginx package)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tmp").mkdir(exist_ok=True)
    site = folder / "hall-center.conf"
    site.write_text(site_text, encoding="utf-8")
    conf = folder / "nginx.conf"
    conf.write_text(main_config(folder, site), encoding="utf-8")
    return conf


def check(conf: Path) -> subprocess.CompletedProcess:
    """`nginx -t`: the configuration is read, checked, and nothing is started."""
    return subprocess.run([NGINX, "-t", "-q", "-e", str(conf.parent / "error.log"), "-c", str(conf)],
                          capture_output=True, text=True, timeout=30)


@dataclass
class RunningNginx:
    folder: Path
    http_port: int
    https_port: int
    proc: subprocess.Popen

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def access_log(self) -> list[str]:
        path = self.folder / "access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def error_log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def running_nginx(folder: Path, site_text: str, http_port: int, https_port: int,
                  timeout: float = 20.0) -> Iterator[RunningNginx]:
    conf = write_config(folder, site_text)
    checked = check(conf)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen([NGINX, "-e", str(folder / "error.log"), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ng = RunningNginx(folder, http_port, https_port, proc)
    try:
        import socket
        deadline = time.monotonic() + timeout
        while True:                                     # bounded: until it listens or gives up
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {proc.returncode}: {ng.error_log()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not listen within {timeout}s: {ng.error_log()[-2000:]}")
                time.sleep(0.05)
        yield ng
    finally:
        proc.terminate()                                # fast shutdown
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
