"""Load test of the API over HTTP, on this machine only (127.0.0.1).

Loads the demo district into a temporary SQLite database (or the one --database-url names),
starts ``civicgrid serve`` on a free loopback port, and runs concurrent clients for a fixed
time: sign-ins, case registration, transitions of the cases they registered, case lists, one
case file, and ``/healthz`` as a baseline; one burst of wrong passwords against one account
runs in between. Prints count, p50, p99 and max latency and the responses by status class
per operation; exits 1 on any 5xx, any request that got no answer, or a p99 over the limit.

    python benchmarks/load_test.py [--cases 300] [--clients 20] [--seconds 60] [--workers 1]
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
PASSWORD = "civicgrid-demo"
SIGN_IN_USERS = ("operator", "dispatcher", "handler_cg", "handler_sz", "inspector01", "leader", "supervisor")
#: The account the wrong-password burst targets; the clients never sign in as it.
BURST_USER = "operator2"
#: Where registered cases lie: 望江社区 (inspector01's community), around the README's example.
WEST, SOUTH, EAST, NORTH = 120.148, 30.272, 120.155, 30.278
#: The loop the clients walk their own cases through: (user, action, body).
STEPS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("operator", "register", {}),
    ("dispatcher", "dispatch", {"department_code": "JB-SZ"}),
    ("handler_sz", "accept", {}),
    ("handler_sz", "handle", {"note": "已补齐井盖"}),
    ("inspector01", "check", {"note": "现场核查通过"}),
    ("operator", "close", {}),
)
#: How often each operation is drawn.
MIX = {"sign_in": 1, "create": 2, "transition": 3, "list_red": 2, "list": 2, "case_file": 2, "healthz": 2}
#: Statuses that are the right answer to a wrong password (429 once sign-ins are throttled).
BURST_EXPECTED = frozenset({401, 429})


@dataclass(frozen=True)
class Stats:
    """What the summary shows of one operation."""

    count: int
    p50: float
    p99: float
    max: float
    classes: dict[str, int]


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with ``share`` % of values at or below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share / 100 * len(ordered)) - 1, 0)]


def status_class(status: int) -> str:
    """``2xx`` … ``5xx``, or ``none`` for a request that got no answer (status 0)."""
    return f"{status // 100}xx" if status else "none"


def summarize(samples: Iterable[tuple[str, int, float]]) -> dict[str, Stats]:
    """Per operation: count, p50, p99 and max of the seconds taken, responses per status class."""
    seconds: dict[str, list[float]] = defaultdict(list)
    classes: dict[str, Counter[str]] = defaultdict(Counter)
    for operation, status, taken in samples:
        seconds[operation].append(taken)
        classes[operation][status_class(status)] += 1
    return {
        operation: Stats(
            len(values), percentile(values, 50), percentile(values, 99), max(values), dict(classes[operation])
        )
        for operation, values in sorted(seconds.items())
    }


class Load:
    """The shared state of one run: tokens, the clock, and every sample taken."""

    def __init__(self, base: str, max_requests: int) -> None:
        self.base = base
        self.deadline = 0.0  # set when the clients start
        self.budget = itertools.count()
        self.max_requests = max_requests
        self.samples: list[tuple[str, int, float]] = []
        self.numbers: list[str] = []
        self.tokens: dict[str, str] = {}
        self.unanswered: Counter[str] = Counter()

    def running(self) -> bool:
        return time.monotonic() < self.deadline and next(self.budget) < self.max_requests

    def call(
        self, client: httpx.Client, operation: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        """One timed request; None (recorded as status 0) when no answer came."""
        started = time.perf_counter()
        try:
            reply = client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            self.samples.append((operation, 0, time.perf_counter() - started))
            self.unanswered[type(error).__name__] += 1
            return None
        self.samples.append((operation, reply.status_code, time.perf_counter() - started))
        return reply

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def _client(base: str) -> httpx.Client:
    # trust_env=False: no proxy from the environment, traffic stays on the loopback.
    return httpx.Client(base_url=base, timeout=30, trust_env=False)


def worker(load: Load, seed: int) -> None:
    """One client: draws operations from MIX until the time or the request budget runs out."""
    rng = random.Random(seed)
    mine: dict[str, int] = {}  # the cases this client registered: number → index of the next step
    operations, weights = list(MIX), list(MIX.values())
    with _client(load.base) as client:
        while load.running():
            operation = rng.choices(operations, weights)[0]
            pending = [number for number, step in mine.items() if step < len(STEPS)]
            if operation == "transition" and not pending:
                operation = "create"
            if operation == "case_file" and not load.numbers:
                operation = "list"
            if operation == "sign_in":
                user = rng.choice(SIGN_IN_USERS)
                load.call(
                    client,
                    "sign_in",
                    "POST",
                    "/api/v1/auth/token",
                    json={"username": user, "password": PASSWORD},
                )
            elif operation == "create":
                case = {
                    "channel": "hotline_12345",
                    "category_code": "C0101",
                    "request_type": "complaint",
                    "title": "望江路12号门前上水井盖缺失（压测）",
                    "lng": round(rng.uniform(WEST, EAST), 6),
                    "lat": round(rng.uniform(SOUTH, NORTH), 6),
                    "reporter_name": "王先生",
                    "reporter_phone": "13800000000",
                }
                reply = load.call(
                    client, "create", "POST", "/api/v1/cases", json=case, headers=load.auth("operator")
                )
                if reply is not None and reply.status_code == 201:
                    number = reply.json()["number"]
                    mine[number] = 0
                    load.numbers.append(number)
            elif operation == "transition":
                number = rng.choice(pending)
                user, action, step = STEPS[mine[number]]
                path = f"/api/v1/cases/{number}/actions/{action}"
                reply = load.call(client, "transition", "POST", path, json=step, headers=load.auth(user))
                if reply is not None and reply.status_code == 200:
                    mine[number] += 1
            elif operation == "list_red":
                load.call(
                    client,
                    "list_red",
                    "GET",
                    "/api/v1/cases",
                    params={"light": "red"},
                    headers=load.auth("leader"),
                )
            elif operation == "list":
                load.call(client, "list", "GET", "/api/v1/cases", headers=load.auth("dispatcher"))
            elif operation == "case_file":
                number = rng.choice(load.numbers)
                load.call(client, "case_file", "GET", f"/api/v1/cases/{number}", headers=load.auth("leader"))
            else:
                load.call(client, "healthz", "GET", "/healthz")


def wrong_password_burst(load: Load, count: int, after: float) -> None:
    """``count`` wrong passwords against one account, as fast as they go, ``after`` seconds in."""
    time.sleep(after)
    body = {"username": BURST_USER, "password": "wrong-password"}
    with _client(load.base) as client:
        for _ in range(count):
            if time.monotonic() >= load.deadline:
                return
            load.call(client, "wrong_password", "POST", "/api/v1/auth/token", json=body)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _wait_until_up(base: str, server: subprocess.Popen[bytes], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    with _client(base) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit(f"civicgrid serve exited with {server.returncode}")
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
    raise SystemExit(f"civicgrid serve did not answer within {limit} s")


def run(load: Load, clients: int, burst: int, seconds: float) -> None:
    """Sign every user in once, then run the clients and the wrong-password burst to the end."""
    with _client(load.base) as client:
        for user in {*SIGN_IN_USERS, *(step[0] for step in STEPS)}:
            reply = client.post("/api/v1/auth/token", json={"username": user, "password": PASSWORD})
            reply.raise_for_status()
            load.tokens[user] = reply.json()["access_token"]
    load.deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=worker, args=(load, seed)) for seed in range(clients)]
    threads.append(threading.Thread(target=wrong_password_burst, args=(load, burst, seconds / 3)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def report(stats: dict[str, Stats], max_p99: float) -> list[str]:
    """Print the table; return the reasons the run failed (none: it passed)."""
    print(f"{'operation':<15}{'count':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  responses")
    failures = []
    for operation, row in stats.items():
        classes = ", ".join(f"{name} {count}" for name, count in sorted(row.classes.items()))
        times = f"{row.p50 * 1000:>9.1f}{row.p99 * 1000:>9.1f}{row.max * 1000:>9.1f}"
        print(f"{operation:<15}{row.count:>7}{times}  {classes}")
        if row.p99 > max_p99:
            failures.append(f"{operation}: p99 {row.p99:.2f} s over {max_p99} s")
    errors = sum(row.classes.get("5xx", 0) for row in stats.values())
    unanswered = sum(row.classes.get("none", 0) for row in stats.values())
    print(f"5xx responses: {errors}; requests without an answer: {unanswered}")
    if errors:
        failures.append(f"{errors} responses were 5xx")
    if unanswered:
        failures.append(f"{unanswered} requests got no answer")
    return failures


def _server_errors(log: str) -> Counter[str]:
    """The exception lines of the server's tracebacks (e.g. "database is locked")."""
    return Counter(line for line in log.splitlines() if line[:1].isalpha() and "Error" in line.split(":")[0])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=300, help="demo cases to load first")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=60, help="how long the clients run")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many requests")
    parser.add_argument("--burst", type=int, default=50, help="wrong passwords in the burst")
    parser.add_argument("--max-p99", type=float, default=1.0, help="fail when an operation's p99 is over (s)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (civicgrid serve --workers)")
    parser.add_argument(
        "--database-url", help="a throw-away database, e.g. PostgreSQL; default: a temporary SQLite file"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="civicgrid-load-") as workdir:
        url = args.database_url or f"sqlite:///{Path(workdir) / 'load.db'}"
        # A throw-away centre: development settings, whatever the caller's environment says.
        env = {**os.environ, "CIVICGRID_DATABASE_URL": url, "CIVICGRID_ENVIRONMENT": "development"}
        command = [sys.executable, "-m", "civicgrid.cli"]
        print(f"loading the demo district ({args.cases} cases) …", flush=True)
        demo = [*command, "demo", "--cases", str(args.cases)]
        subprocess.run(demo, env=env, check=True, stdout=subprocess.DEVNULL)
        port = _free_port()
        load = Load(f"http://{HOST}:{port}", args.max_requests)
        log_path = Path(workdir) / "server.log"
        with log_path.open("wb") as log:
            serve = [*command, "serve", "--host", HOST, "--port", str(port), "--workers", str(args.workers)]
            server = subprocess.Popen(serve, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(load.base, server)
            print(
                f"{args.clients} clients for {args.seconds:g} s against {load.base} "
                f"({args.workers} server processes) …",
                flush=True,
            )
            run(load, args.clients, args.burst, args.seconds)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        server_errors = _server_errors(log_path.read_text(encoding="utf-8", errors="replace"))

    failures = report(summarize(load.samples), args.max_p99)
    burst = Counter(status for operation, status, _ in load.samples if operation == "wrong_password")
    print(f"wrong-password burst: {dict(sorted(burst.items()))} (401 and 429 expected)")
    if load.unanswered:
        print(f"requests without an answer: {dict(load.unanswered)}")
    for line, count in server_errors.most_common(5):
        print(f"server log: {count} × {line[:160]}")
    unexpected = sum(count for status, count in burst.items() if status not in BURST_EXPECTED)
    if unexpected:
        failures.append(f"{unexpected} wrong passwords got neither 401 nor 429")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
