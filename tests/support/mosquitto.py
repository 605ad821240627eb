"""A real mosquitto broker for tests (Debian's /usr/sbin/mosquitto).


    def test_x(mosquitto):
        client.connect(mosquitto.host, mosquitto.port)
        mosquitto.restart()        # same port, persistence kept

Listens on a free loopback port with a generated config in tmp_path;
anonymous access (or users from `passwords`), optional TLS (`tls`: a
support.certs.TestPki; `require_certificate` asks clients for one too),
persistence on (saved at every shutdown, so a restart
keeps retained messages, persistent sessions and their queued QoS 1
messages). Stopped at teardown even when the test fails.
"""
from __future__ import annotations

import getpass
import socket
import subprocess
import time
from pathlib import Path

import pytest

MOSQUITTO = "/usr/sbin/mosquitto"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Mosquitto:
    host = "127.0.0.1"

    def __init__(self, workdir: Path, port: int | None = None, extra_config: str = "", *,
                 tls=None, require_certificate: bool = False, passwords: dict[str, str] | None = None):
        self.workdir = Path(workdir)
        self.tls, self.require_certificate, self.passwords = tls, require_certificate, passwords
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port(self.host)
        self.extra_config = extra_config
        self.proc: subprocess.Popen | None = None
        self.conf = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _write_config(self) -> None:
        (self.workdir / "data").mkdir(exist_ok=True)
        listener = ""
        if self.tls is not None:
            listener += (f"cafile {self.tls.ca}\ncertfile {self.tls.server_cert}\nkeyfile {self.tls.server_key}\n"
                         f"require_certificate {str(self.require_certificate).lower()}\n")
        if self.passwords:
            pw = self.workdir / "passwords"
            pw.write_text("")
            for user, password in self.passwords.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password], check=True,
                               capture_output=True, timeout=30)
            pw.chmod(0o600)
            listener += f"password_file {pw}\n"
        self.conf.write_text(
            f"listener {self.port} {self.host}\n"
            # run as us: as root, mosquitto would switch to user "mosquitto",
            # which cannot write the persistence file into tmp_path
            f"user {getpass.getuser()}\n"
            f"allow_anonymous {'false' if self.passwords else 'true'}\n"
            + listener +
            "persistence true\n"
            f"persistence_location {self.workdir / 'data'}/\n"
            "autosave_interval 1\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            "max_queued_messages 10000\n"
            + self.extra_config)

    def start(self, timeout: float = 10.0) -> None:
        self._write_config()
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {err}{self._log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not accept connections on {self.port}{self._log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM): mosquitto saves its persistence file."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def _log_tail(self) -> str:
        try:
            return "\n" + self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


@pytest.fixture
def mosquitto(tmp_path):
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
