"""The geo benchmark runs end to end at a small size and checks its own answers."""

from __future__ import annotations

from benchmarks.bench_geo import Lattice, bench_index, create_side_by_side, prepare_store, resolution_step_us


def test_the_geo_benchmark_runs_at_a_small_size() -> None:
    result = bench_index(Lattice(130), 5000)  # a lattice whose last row is partly empty
    assert result["points"] == 5000 and result["outside"] > 0
    stores = [prepare_store(Lattice(4), 3), prepare_store(Lattice(130), 3)]
    assert all(resolution_step_us(store, 3) > 0 for store in stores)
    assert all(took > 0 for took in create_side_by_side(stores, 2))
