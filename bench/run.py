"""Benchmark collection: seed a synthetic estate on a moto server, collect, measure.

    python bench/run.py --scale 1 --scale 10 --scale 50

For each scale: a fresh moto server (its own process, so its memory is not counted), the
estate of bench/estate.py, then one `collect` in a child process whose wall time, peak RSS,
API calls and resources are printed as a table and appended to bench/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from estate import seed  # noqa: E402 - bench scripts run from any folder

POLICY = HERE.parent / "examples" / "sample-policy.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310 - loopback only
                return server, endpoint
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("moto server did not start")


def measure(endpoint: str, workers: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        probe = subprocess.Popen(
            [sys.executable, str(HERE / "probe.py"), endpoint, db, str(POLICY), str(workers)],
            stdout=subprocess.PIPE,
        )
        assert probe.stdout is not None
        out = probe.stdout.read()
        # wait4 gives this child's own peak RSS; the moto server is another process.
        _, status, usage = os.wait4(probe.pid, 0)
        probe.returncode = os.waitstatus_to_exitcode(status)
        if probe.returncode != 0:
            raise SystemExit(f"probe failed with {probe.returncode}")
        result: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
        peak_kb = usage.ru_maxrss
        result["peak_rss_mb"] = round(peak_kb / 1024, 1)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, action="append", default=[])
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    print(f"{'scale':>5} {'seeded':>7} {'stored':>7} {'wall s':>7} {'calls':>6} "
          f"{'calls/res':>9} {'repeats':>7} {'RSS MB':>7}")  # fmt: skip
    for scale in args.scale or [1]:
        server, endpoint = start_moto()
        try:
            seeded = seed(endpoint, scale)
            result = measure(endpoint, args.workers)
        finally:
            server.terminate()
            server.wait()
        result |= {"scale": scale, "seeded": seeded, "workers": args.workers}
        per = int(result["logical_calls"]) / max(1, int(result["resources"]))  # type: ignore[call-overload]
        print(f"{scale:>5} {seeded:>7} {result['resources']:>7} {result['wall_s']:>7} "
              f"{result['logical_calls']:>6} {per:>9.2f} {result['repeated_calls']:>7} "
              f"{result['peak_rss_mb']:>7}")  # fmt: skip
        with (HERE / "results.jsonl").open("a", encoding="utf-8") as log:
            log.write(json.dumps(result, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
