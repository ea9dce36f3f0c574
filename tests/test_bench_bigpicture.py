"""The benchmark of the map and the dashboard runs end to end at a small size."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_bigpicture import measure
from civicgrid.store.db import make_engine
from civicgrid.store.migrate import upgrade


def test_the_big_picture_benchmark_runs_at_a_small_size(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    try:
        rows = measure(engine, url, grids=40, cases=400, repeat=1)
    finally:
        engine.dispose()
    timed = {name.strip(): (p50, note) for name, p50, _, note in rows if p50 or note}
    assert timed["/healthz (baseline)"][0] > 0
    assert "40 grids" in timed["grids of the view"][1]
    assert timed["dashboard, district leader"][1].endswith("red")
    assert sum(name.strip() == "= map view" for name, *_ in rows) == 3
