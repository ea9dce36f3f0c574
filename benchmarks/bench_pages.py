"""The command-centre pages at scale: every role's queue pages and the case file, rendered
server-side through the app (signed in with the page session), on a store filled with
``benchmarks/filler.py``; prints p50 and p95 per page beside ``/healthz``.

    python benchmarks/bench_pages.py --cases 100000 [--repeat 30]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.filler import fill, prepare
from civicgrid.api.app import create_app
from civicgrid.demo import DEMO_PASSWORD
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine
from civicgrid.store.maintenance import optimize
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Case
from civicgrid.web.queues import WORKBENCHES

USERS = ("operator", "dispatcher", "handler_sz", "inspector01", "supervisor", "leader")


def _signed_in(app: object, username: str) -> TestClient:
    client = TestClient(app)  # type: ignore[arg-type]
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form)
    assert token
    reply = client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": DEMO_PASSWORD},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    return client


def _time(client: TestClient, url: str, repeat: int) -> tuple[float, float]:
    client.get(url)  # warm
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        reply = client.get(url)
        runs.append((time.perf_counter() - started) * 1000)
        assert reply.status_code == 200, (url, reply.status_code)
    runs.sort()
    return statistics.median(runs), runs[max(0, round(0.95 * len(runs)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'pages.db'}"
        settings = Settings(environment="development", database_url=url)
        engine = make_engine(url)
        upgrade(engine)
        rules = CentreRules.from_settings(settings)
        prepare(engine, rules, now)
        report = fill(engine, args.cases, rules, now)
        optimize(engine, after_bulk_load=True)
        print(f"{report.cases:,} cases, {report.events:,} events, filled in {report.seconds:.1f} s")
        app = create_app(settings, engine)
        with Session(engine) as session:
            number = session.scalars(select(Case.number).order_by(Case.id.desc()).limit(1)).one()
        print(f"{'page':58} {'p50 ms':>8} {'p95 ms':>8}")
        for username in USERS:
            client = _signed_in(app, username)
            if username == USERS[0]:
                p50, p95 = _time(client, "/healthz", args.repeat)
                print(f"{'/healthz (baseline)':58} {p50:8.1f} {p95:8.1f}")
            role = client.get("/workbench").text
            bench = next(b for b in WORKBENCHES.values() if f">{b.title}<" in role)
            for queue in bench.queues:
                p50, p95 = _time(client, f"/workbench?queue={queue.key}", args.repeat)
                print(f"{username + ' ' + queue.key:58} {p50:8.1f} {p95:8.1f}")
            if username == "leader":
                p50, p95 = _time(client, f"/cases/{number}", args.repeat)
                print(f"{'case file':58} {p50:8.1f} {p95:8.1f}")
                p50, p95 = _time(client, "/workbench?queue=all&q=路灯", args.repeat)
                print(f"{'leader all, text search':58} {p50:8.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
