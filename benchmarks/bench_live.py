"""Live delivery under load: one server process (``civicgrid serve --workers 1``) holds N
connected event streams (default 200) while cases are registered at R per second (default
50); each stream's user sees every one of them. Measures, for every (stream, case), the time
from the moment the write was sent to the moment the stream delivered its ``case`` event,
and counts deliveries that never came.

Writers: ``api`` (default) registers through the same server's API, so the write and the
delivery share the one process; ``process`` writes from a separate process through the case
service (its own engine), so delivery crosses processes: NOTIFY on PostgreSQL, the journal
poll on SQLite (CIVICGRID_LIVE_POLL_SECONDS).

The clients are plain asyncio sockets in this process (a minimal HTTP/1.1 and chunked
reader), so that the clients' own cost stays small beside the server's.

    python benchmarks/bench_live.py [--clients 200] [--rate 50] [--seconds 20]
                                    [--backend sqlite|postgresql] [--database-url postgresql+psycopg://…]
                                    [--writers api|process]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from benchmarks.bench_store import server_for, store_of
from benchmarks.filler import prepare
from civicgrid.demo import DEMO_PASSWORD
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings

#: Demo staff whose scope holds the whole street the cases are registered in.
WATCHERS = ("operator", "operator2", "dispatcher", "dispatcher_qu", "supervisor", "leader", "admin")
POINT = (120.1493, 30.2771)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user and system) a process has used so far (Linux: /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Client:
    """One event stream over a raw socket; records (case number, time received)."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.received: list[tuple[str, float]] = []
        self.opened = asyncio.Event()

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(
            (
                f"GET /live/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status = await reader.readline()
        assert b" 200 " in status, status
        while (await reader.readline()).strip():
            pass  # the headers (the body is chunked)
        self.opened.set()
        pending = b""
        try:
            while True:
                size = int((await reader.readline()).strip() or b"0", 16)
                if size == 0:
                    return
                chunk = await reader.readexactly(size + 2)
                pending += chunk[:-2]
                *lines, pending = pending.split(b"\n")
                now = time.time()
                for line in lines:
                    start = line.find(b'"number":"')
                    if line.startswith(b"data:") and start >= 0:
                        end = line.index(b'"', start + 10)
                        self.received.append((line[start + 10 : end].decode(), now))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()


WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from sqlalchemy import select
    from civicgrid.schemas import CaseCreate
    from civicgrid.services.cases import CentreRules, create_case
    from civicgrid.settings import Settings
    from civicgrid.store.db import make_engine, make_session_factory, session_scope
    from civicgrid.store.models import User

    url, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    engine = make_engine(url)
    factory = make_session_factory(engine)
    rules = CentreRules.from_settings(Settings(database_url=url))
    start = time.time()
    for n in range(int(rate * seconds)):
        time.sleep(max(0.0, start + n / rate - time.time()))
        sent = time.time()
        with session_scope(factory) as session:
            operator = session.scalars(select(User).where(User.username == "operator")).one()
            data = CaseCreate(channel="hotline_12345", category_code="C0101", title=f"压测 {n}", lng=120.1493, lat=30.2771)
            number = create_case(session, operator, data, rules, datetime.now(UTC)).number
        print(number, sent, time.time(), flush=True)
    """
)


async def _write_by_api(port: int, token: str, rate: float, seconds: float) -> dict[str, tuple[float, float]]:
    """Register cases through the server's API at ``rate`` per second: number → (sent, done)."""
    done: dict[str, tuple[float, float]] = {}
    body = {"channel": "hotline_12345", "category_code": "C0101", "lng": POINT[0], "lat": POINT[1]}
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, limits=limits
    ) as client:

        async def one(n: int) -> None:
            sent = time.time()
            reply = await client.post("/api/v1/cases", json={**body, "title": f"压测 {n}"}, timeout=30)
            if reply.status_code == 201:
                done[reply.json()["number"]] = (sent, time.time())

        tasks = []
        start = time.monotonic()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
    return done


async def _run(port: int, tokens: list[str], args: argparse.Namespace, url: str, server_pid: int) -> None:
    clients = [Client(port, tokens[i % len(tokens)]) for i in range(args.clients)]
    readers = [asyncio.create_task(client.run()) for client in clients]
    await asyncio.wait_for(asyncio.gather(*(client.opened.wait() for client in clients)), 60)
    print(
        f"{args.clients} streams open; writing {args.rate:g} cases/s for {args.seconds:g} s ({args.writers})"
    )
    cpu_before, began = _cpu_seconds(server_pid), time.monotonic()
    if args.writers == "api":
        writes = await _write_by_api(port, tokens[0], args.rate, args.seconds)
    else:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, url, str(args.rate), str(args.seconds),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await process.communicate()
        writes = {n: (float(s), float(d)) for n, s, d in (line.split() for line in out.decode().splitlines())}
    await asyncio.sleep(3)  # the last deliveries
    cpu_after, lasted = _cpu_seconds(server_pid), time.monotonic() - began
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)

    latencies, after_ack = [], []
    delivered = 0
    for client in clients:
        first: dict[str, float] = {}
        for number, at in client.received:
            first.setdefault(number, at)
        for number, (sent, acked) in writes.items():
            if number in first:
                delivered += 1
                latencies.append(first[number] - sent)
                after_ack.append(first[number] - acked)
    expected = len(writes) * len(clients)
    writes_ms = [(d - s) * 1000 for s, d in writes.values()]
    achieved = len(writes) / args.seconds
    print(
        json.dumps(
            {
                "backend": args.backend,
                "writers": args.writers,
                "clients": args.clients,
                "cases written": len(writes),
                "write rate achieved per s": round(achieved, 1),
                "write ms p50": round(statistics.median(writes_ms), 1),
                "deliveries": delivered,
                "missing": expected - delivered,
            },
            ensure_ascii=False,
        )
    )
    ms = [x * 1000 for x in latencies]
    print(f"delivery latency from the write sent, ms: p50 {_percentile(ms, 0.5):.0f}, p95 {_percentile(ms, 0.95):.0f}, "
          f"p99 {_percentile(ms, 0.99):.0f}, max {max(ms):.0f}")  # fmt: skip
    if cpu_before is not None and cpu_after is not None:
        used = cpu_after - cpu_before
        print(
            f"server process CPU: {used:.1f} s in {lasted:.0f} s ({used / lasted:.0%} of a core), "
            f"{used / max(delivered, 1) * 1e6:.0f} µs per delivery all in"
        )
    ack = [x * 1000 for x in after_ack]
    print(
        f"delivery after the write's answer, ms: p50 {_percentile(ack, 0.5):.0f}, p95 {_percentile(ack, 0.95):.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50, help="cases registered per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: a throw-away cluster)")
    parser.add_argument("--writers", choices=("api", "process"), default="api")
    args = parser.parse_args()
    with server_for(args.backend, args.database_url) as server, store_of(0, server) as (engine, url):
        rules = CentreRules.from_settings(Settings(database_url=url))
        prepare(engine, rules, datetime.now(UTC), demo_cases=20)
        engine.dispose()
        port = _free_port()
        environment = {
            **os.environ,
            "CIVICGRID_DATABASE_URL": url,
            "CIVICGRID_ENVIRONMENT": "development",
            "CIVICGRID_LIVE_CONNECTION_SECONDS": "3600",
            # The benchmark signs in 7 users once; the sign-in throttle is not what is measured.
            "CIVICGRID_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000",
        }
        command = [sys.executable, "-m", "civicgrid.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", "1", "--no-worker"]  # fmt: skip
        with tempfile.TemporaryFile(mode="w+") as log:
            server_process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=log)
            try:
                _serve_and_measure(port, args, url, server_process.pid)
            except BaseException:
                log.seek(0)
                print("".join(line for line in log if not line.startswith("INFO:")), file=sys.stderr)
                raise
            finally:
                server_process.terminate()
                server_process.wait(30)


def _serve_and_measure(port: int, args: argparse.Namespace, url: str, server_pid: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)
    tokens = []
    for username in WATCHERS:
        reply = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/token",
            json={"username": username, "password": DEMO_PASSWORD},
        )
        tokens.append(reply.json()["access_token"])
    asyncio.run(_run(port, tokens, args, url, server_pid))


if __name__ == "__main__":
    main()
