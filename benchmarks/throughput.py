"""Requests per second that ``civicgrid serve`` sustains on a filled store, driven by ``wrk``.

Used by ``bench_store.py --throughput``: once the ratios of a store are measured, the store is
served by ``civicgrid serve --workers N`` (no background jobs) on a loopback port and ``wrk``
(Debian's package, written in C, so that the load generator takes as little as possible of the
cores it shares with the server) holds ``--connections`` connections open for a fixed time per
operation, one operation after the other:

- ``/healthz``: what the same server does when the work is nothing;
- register a case (``POST /api/v1/cases`` as the operator, a 12345 case in 望江社区);
- read the case file of one of 1,000 random cases, as the district leader;
- read a case list: the district leader's, ``light=red`` and a street dispatcher's in turn.

Each operation gets a few seconds of warm-up first (every worker process builds its grid
index and caches on its first requests), not counted. Reported: requests per second, p50 and
p99 latency, and the answers that were not 2xx together with socket errors and timeouts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.load_test import HOST, _free_port, _wait_until_up

#: The Lua that ``wrk`` runs: requests drawn from a list, and one line of figures at the end.
SCRIPT = """
local requests = {%(requests)s}
local counter = 0
request = function()
  counter = counter + 1
  local r = requests[(counter %% #requests) + 1]
  return wrk.format(r[1], r[2], r[3], r[4])
end
done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format("FIGURES %%d %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99),
    latency.max))
end
"""


@dataclass(frozen=True)
class Request:
    """One request of an operation's rotation."""

    method: str
    path: str
    token: str | None = None
    body: dict[str, object] | None = None

    def lua(self) -> str:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        header_table = ", ".join(f"[ {_lua(name)} ] = {_lua(value)}" for name, value in headers.items())
        body = _lua(json.dumps(self.body, ensure_ascii=False)) if self.body is not None else "nil"
        return f"{{{_lua(self.method)}, {_lua(self.path)}, {{{header_table}}}, {body}}}"


@dataclass(frozen=True)
class Throughput:
    """What ``wrk`` measured of one operation."""

    operation: str
    requests: int
    seconds: float
    errors: int  # socket errors, answers that were not 2xx or 3xx, timeouts
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def _lua(value: str) -> str:
    """A Lua string literal (long brackets never appear in what is quoted here)."""
    return "[==[" + value + "]==]"


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        sys.exit("the throughput run needs wrk (apt-get install wrk)")
    return found


def run_wrk(
    base: str, operation: str, requests: list[Request], connections: int, seconds: float, workdir: Path
) -> Throughput:
    """Drive ``requests`` in rotation with ``connections`` open connections for ``seconds``."""
    script = workdir / "wrk.lua"
    script.write_text(SCRIPT % {"requests": ",\n".join(item.lua() for item in requests)}, encoding="utf-8")
    command = [
        wrk_path(), "--threads", "1", "--connections", str(connections), "--duration", f"{seconds:g}s",
        "--timeout", "10s", "--script", str(script), base,
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    match = re.search(r"^FIGURES (.+)$", finished.stdout, re.MULTILINE)
    if match is None or finished.stderr:
        raise RuntimeError(f"wrk printed no figures:\n{finished.stdout}{finished.stderr}")
    count, micros, socket_errors, status, timeouts, p50, p99, slowest = (int(v) for v in match[1].split())
    return Throughput(
        operation,
        count,
        micros / 1e6,
        socket_errors + status + timeouts,
        p50 / 1000,
        p99 / 1000,
        slowest / 1000,
    )


@contextmanager
def served(url: str, secret: str, workers: int, workdir: Path) -> Iterator[str]:
    """``civicgrid serve`` on ``url`` with ``workers`` processes and no background jobs: its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "CIVICGRID_DATABASE_URL": url,
        "CIVICGRID_SECRET_KEY": secret,
        "CIVICGRID_ENVIRONMENT": "development",
        "CIVICGRID_TOKEN_HOURS": "24",
        "CIVICGRID_UPLOAD_DIR": str(workdir / "uploads"),
    }
    command = [sys.executable, "-m", "civicgrid.cli", "serve", "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers), "--no-worker"]
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://{HOST}:{port}"
    try:
        _wait_until_up(base, server, limit=120)  # a large store is optimized at start
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def operations(
    base: str, password: str, new_case: dict[str, object], case_numbers: list[str], street_dispatcher: str
) -> dict[str, list[Request]]:
    """Each operation's rotation of requests, with tokens signed in on the server at ``base``."""
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as client:

        def sign_in(username: str) -> str:
            answer = client.post("/api/v1/auth/token", json={"username": username, "password": password})
            answer.raise_for_status()
            return str(answer.json()["access_token"])

        leader, operator, dispatcher = sign_in("leader"), sign_in("operator"), sign_in(street_dispatcher)
    return {
        "/healthz (trivial)": [Request("GET", "/healthz")],
        "register a case": [Request("POST", "/api/v1/cases", operator, new_case)],
        "case file + timeline": [Request("GET", f"/api/v1/cases/{n}", leader) for n in case_numbers],
        "case lists (3 kinds)": [
            Request("GET", "/api/v1/cases", leader),
            Request("GET", "/api/v1/cases?light=red", leader),
            Request("GET", "/api/v1/cases", dispatcher),
        ],
    }


def measure_throughput(
    url: str,
    secret: str,
    password: str,
    new_case: dict[str, object],
    case_numbers: list[str],
    street_dispatcher: str,
    workers: int,
    connections: int,
    seconds: float,
    warm_up: float = 3,
) -> list[Throughput]:
    """Serve the store at ``url`` and drive each operation in turn: what each sustained."""
    with tempfile.TemporaryDirectory(prefix="civicgrid-throughput-") as scratch:
        workdir = Path(scratch)
        with served(url, secret, workers, workdir) as base:
            rotation = operations(base, password, new_case, case_numbers, street_dispatcher)
            results = []
            for operation, requests in rotation.items():
                run_wrk(base, operation, requests, connections, min(warm_up, seconds), workdir)
                result = run_wrk(base, operation, requests, connections, seconds, workdir)
                print(
                    f"  {operation}: {result.per_second:,.0f} req/s, p99 {result.p99_ms:.0f} ms, "
                    f"{result.errors} errors",
                    flush=True,
                )
                results.append(result)
        errors = [line for line in (workdir / "server.log").read_text(errors="replace").splitlines()
                  if "Traceback" in line or " 500 " in line]  # fmt: skip
        if errors:
            print(f"  server log: {len(errors)} tracebacks or 500s, e.g. {errors[0][:160]}", flush=True)
    return results
