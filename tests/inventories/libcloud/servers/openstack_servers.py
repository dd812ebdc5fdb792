"""Start a real Keystone and a real Swift on 127.0.0.1, from the venv `.ci/openstack-servers.sh`
builds, and stop them.

Keystone: PyPI `keystone` under uWSGI (the `pyuwsgi` wheel), SQLite, fernet tokens.
Swift: PyPI `swift` account, container, object and proxy servers, one replica on one device
directory, with Keystone auth (authtoken + keystoneauth) and memcached, so libcloud talks to
Swift with a token Keystone issued, exactly as against a deployed cloud.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

VENV_ENV = "GOVAUDIT_OPENSTACK_VENV"
STAMP = ".govaudit-complete"
CONFIGS = Path(__file__).parent


def venv_path() -> Path:
    return Path(os.environ.get(VENV_ENV) or Path.home() / ".cache" / "govaudit-openstack")


def venv_ready(venv: Path) -> bool:
    """The install script writes its stamp last: a half-built venv is not ready."""
    return (venv / STAMP).is_file() and shutil.which("memcached") is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(
    url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Until `url` answers any HTTP status; fails early if the server process died."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{url}: server exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout} s") from None
            time.sleep(0.2)


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"port {port} did not open within {timeout} s") from None
            time.sleep(0.1)


@dataclass
class Processes:
    """Server processes started for a session; each logs to its own file in `workdir`."""

    workdir: Path
    started: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=self.workdir,
            start_new_session=True,
        )
        self.started.append((name, process, log))
        return process

    def wait_all(self, *names: str, timeout: float = 60.0) -> None:
        """Wait for short-lived helper processes; raise if one failed."""
        for name, process, _ in self.started:
            if name in names and process.wait(timeout=timeout) != 0:
                raise RuntimeError(f"{name} failed: {self.log_tail(name)}")

    def stop(self) -> None:
        """SIGTERM each process we started (by its own pid), then SIGKILL stragglers."""
        for _, process, _ in reversed(self.started):
            if process.poll() is None:
                process.terminate()
        for _, process, log in reversed(self.started):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            log.close()
        self.started.clear()

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text("utf-8", "replace").splitlines()[-lines:])


RING_SCRIPT = """
import sys
from swift.common.ring import RingBuilder
home, ports = sys.argv[1], dict(zip(("account", "container", "object"), sys.argv[2:]))
for name, port in ports.items():
    builder = RingBuilder(6, 1, 1)
    builder.add_dev({"region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port),
                     "device": "d1", "weight": 100})
    builder.rebalance()
    builder.get_ring().save(f"{home}/{name}.ring.gz")
"""


def _render(template: str, target: Path, **values: object) -> Path:
    text = (CONFIGS / template).read_text("utf-8")
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    target.write_text(text, "utf-8")
    return target


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed: {result.stderr[-2000:]}")


def start_memcached(processes: Processes) -> int:
    port = free_port()
    user = ["-u", "root"] if os.geteuid() == 0 else []
    processes.start(
        "memcached", ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", *user]
    )
    wait_port(port)
    return port


def start_keystone(venv: Path, processes: Processes, admin_password: str) -> str:
    """db_sync, fernet keys, bootstrap (admin user, project, roles), then serve under uWSGI."""
    home = processes.workdir / "keystone"
    home.mkdir()
    port = free_port()
    conf = _render("keystone.conf", home / "keystone.conf", home=home)
    manage = [str(venv / "bin" / "keystone-manage"), "--config-file", str(conf)]
    ident = ["--keystone-user", str(os.getuid()), "--keystone-group", str(os.getgid())]
    # Key repositories and the schema are independent: build them side by side.
    for step in ([*manage, "fernet_setup", *ident], [*manage, "credential_setup", *ident]):
        processes.start(f"keystone-{step[3]}", step)
    _run([*manage, "db_sync"])
    processes.wait_all("keystone-fernet_setup", "keystone-credential_setup")
    _run([*manage, "bootstrap", "--bootstrap-password", admin_password])
    site = next((venv / "lib").glob("python3*/site-packages"))
    process = processes.start(
        "keystone",
        [
            str(venv / "bin" / "pyuwsgi"),
            "--http11-socket",
            f"127.0.0.1:{port}",
            "--wsgi-file",
            str(site / "keystone" / "wsgi" / "api.py"),
            "--master",
            "--processes",
            "1",
            "--threads",
            "4",
            "--die-on-term",
            "--virtualenv",
            str(venv),
            "--disable-logging",
        ],
        env={"OS_KEYSTONE_CONFIG_DIR": str(home), "OS_KEYSTONE_CONFIG_FILES": "keystone.conf"},
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/v3", process=process)
    return url


def start_swift(
    venv: Path, processes: Processes, keystone: str, memcached: int, service_password: str
) -> str:
    """Rings of one device, the four Swift servers, and a proxy that trusts Keystone tokens."""
    home = processes.workdir / "swift"
    (home / "node" / "d1").mkdir(parents=True)
    ports = {name: free_port() for name in ("account", "container", "object", "proxy")}
    # One interpreter builds the three rings (a swift-ring-builder call each costs a second).
    _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            RING_SCRIPT,
            str(home),
            str(ports["account"]),
            str(ports["container"]),
            str(ports["object"]),
        ]
    )
    _render("swift.conf", home / "swift.conf")
    values = {
        "home": home,
        "keystone": keystone,
        "memcached": f"127.0.0.1:{memcached}",
        "service_password": service_password,
        **{f"{k}_port": v for k, v in ports.items()},
    }
    for server in ("account", "container", "object", "proxy"):
        conf = _render(f"swift-{server}.conf", home / f"{server}-server.conf", **values)
        binary = str(venv / "bin" / f"swift-{server}-server")
        processes.start(f"swift-{server}", [binary, str(conf), "--verbose"])
    for server in ("account", "container", "object"):
        wait_port(ports[server])
    url = f"http://127.0.0.1:{ports['proxy']}"
    wait_http(f"{url}/healthcheck")
    return url


if __name__ == "__main__":  # manual use: start both, print the URLs, stop on Enter
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="govaudit-openstack-"))
    procs = Processes(work)
    try:
        mc = start_memcached(procs)
        ks = start_keystone(venv_path(), procs, "admin-pw")
        sys.stdout.write(f"keystone {ks}\nmemcached {mc}\nlogs {work}\n")
        input()
    finally:
        procs.stop()
