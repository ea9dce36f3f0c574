"""Open311 over HTTP on this machine (127.0.0.1), on SQLite: reports sent by concurrent
clients with one API key, then the list of service requests.

Fills a temporary SQLite database with --cases cases (the set-based filler; spread over the
last 12 months), issues an API key, starts ``civicgrid serve`` on a free
loopback port (--workers processes, default 2), and then:

- POST ``requests.json``: --clients clients, each its own connection, send form-encoded
  reports (the specification's example, on a pothole-like class with its one required
  answer) for --seconds; prints requests/s, p50 and p99 and the statuses;
- GET ``requests.json``: the default window (90 days, the newest 1,000), timed --rounds
  times; prints the median and the count returned.

Exits 1 when a report failed, when fewer than --min-rate reports/s were stored, or when the
median list took longer than --max-list-ms.

    python benchmarks/bench_open311.py [--cases 1000000] [--clients 8] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.filler import fill, prepare
from benchmarks.load_test import HOST, _free_port, _wait_until_up, percentile
from civicgrid.demo import DISTRICT_CODE
from civicgrid.domain.vocabulary import Channel
from civicgrid.services.api_keys import issue_key
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.migrate import upgrade

SECRET = "benchmark-secret-" * 3
#: Inside 望江社区 of the demo district.
POINT = (30.2750, 120.1510)


def report_body(key: str, serial: int) -> dict[str, str]:
    """A report as the specification's example sends it, on 上水井盖 with its required answer."""
    return {
        "api_key": key,
        "service_code": "C0101",
        "lat": str(POINT[0]),
        "long": str(POINT[1]),
        "address_string": "望江路12号",
        "description": f"井盖缺失，第{serial}次基准上报",
        "attribute[condition]": "missing",
        "phone": "13800000000",
        "media_url": "https://photos.example.org/bench.jpg",
    }


def post_phase(base: str, key: str, clients: int, seconds: float) -> tuple[list[float], Counter[int], float]:
    """Each client posts reports until the time is up: latencies, statuses, elapsed seconds."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        mine: list[float] = []
        seen: Counter[int] = Counter()
        with httpx.Client(base_url=base, timeout=30) as http:
            serial = 0
            while time.monotonic() < deadline:
                serial += 1
                began = time.perf_counter()
                try:
                    status = http.post("/open311/v2/requests.json", data=report_body(key, serial)).status_code
                except httpx.HTTPError:
                    status = 0
                mine.append(time.perf_counter() - began)
                seen[status] += 1
        with lock:
            latencies.extend(mine)
            statuses.update(seen)

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses, time.monotonic() - began


def list_phase(base: str, rounds: int) -> tuple[float, int]:
    """The median milliseconds of GET requests.json (default window) and how many it gave."""
    took, count = [], 0
    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(rounds):
            began = time.perf_counter()
            reply = http.get("/open311/v2/requests.json")
            took.append(time.perf_counter() - began)
            reply.raise_for_status()
            count = len(reply.json())
    return statistics.median(took) * 1000, count


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases in the store before the run")
    parser.add_argument("--clients", type=int, default=8, help="concurrent reporting clients")
    parser.add_argument("--seconds", type=float, default=30, help="how long the clients report")
    parser.add_argument("--rounds", type=int, default=7, help="timed lists")
    parser.add_argument("--workers", type=int, default=2, help="server processes (civicgrid serve --workers)")
    parser.add_argument("--min-rate", type=float, default=200, help="fail under this many reports/s")
    parser.add_argument("--max-list-ms", type=float, default=300, help="fail when the median list is slower")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="civicgrid-open311-") as workdir:
        url = f"sqlite:///{Path(workdir) / 'open311.db'}"
        engine = make_engine(url)
        upgrade(engine)
        rules = CentreRules.from_settings(Settings(database_url=url))
        now = datetime.now(UTC)
        print(f"filling {args.cases:,} cases …", flush=True)
        prepare(engine, rules, now)
        filled = fill(engine, args.cases, rules, now)
        print(
            f"filled {filled.cases:,} cases, {filled.events:,} events in {filled.seconds:.0f} s", flush=True
        )
        with session_scope(make_session_factory(engine)) as session:
            _row, key = issue_key(
                session, None, "benchmark", region_code=DISTRICT_CODE, channel=Channel.THIRD_PARTY,
                secret_key=SECRET, now=now,
            )  # fmt: skip
        engine.dispose()

        env = {
            **os.environ,
            "CIVICGRID_DATABASE_URL": url,
            "CIVICGRID_ENVIRONMENT": "development",
            "CIVICGRID_SECRET_KEY": SECRET,
            "CIVICGRID_OPEN311_RATE_LIMIT": "1000000",
        }
        port = _free_port()
        base = f"http://{HOST}:{port}"
        log_path = Path(workdir) / "server.log"
        serve = [
            sys.executable,
            "-m",
            "civicgrid.cli",
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ]
        with log_path.open("wb") as log:
            server = subprocess.Popen(serve, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(base, server)
            print(f"POST requests.json: {args.clients} clients for {args.seconds:g} s …", flush=True)
            latencies, statuses, elapsed = post_phase(base, key, args.clients, args.seconds)
            print(f"GET requests.json: {args.rounds} rounds …", flush=True)
            list_ms, listed = list_phase(base, args.rounds)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    stored = statuses.get(200, 0)
    rate = stored / elapsed
    print(
        f"POST requests.json: {stored:,} stored in {elapsed:.1f} s = {rate:.0f} reports/s; "
        f"p50 {percentile(latencies, 50) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms; "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    print(f"GET requests.json: {listed:,} requests, median {list_ms:.0f} ms over {args.rounds} rounds")
    failures = []
    if set(statuses) - {200}:
        failures.append(f"reports not stored: {dict(statuses)}")
    if rate < args.min_rate:
        failures.append(f"{rate:.0f} reports/s under {args.min_rate:g}")
    if list_ms > args.max_list_ms:
        failures.append(f"the list took {list_ms:.0f} ms, over {args.max_list_ms:g}")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
