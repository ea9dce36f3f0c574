"""How long a territory import takes: a synthetic district of N grids (see
``synthetic_territory``) written as GeoJSON, then read, checked in full and stored in a fresh
database (a temporary SQLite file, or --database-url), imported again unchanged, and exported.
The target at 10,000 grids: the import with full validation under 30 s.

    python benchmarks/bench_territory.py [--grids 10000] [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# Run as a script from anywhere: the repository root holds the benchmarks package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic_territory import synthetic_territory
from civicgrid.geo.territory_checks import check_territory
from civicgrid.geo.territory_file import read_territory, write_geojson
from civicgrid.services.territory import TerritoryReport, export_features, import_territory
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.migrate import upgrade


def _timed(label: str, work):  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    result = work()
    print(f"{label:<44} {time.perf_counter() - began:8.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grids", type=int, default=10_000, help="grids in the synthetic territory")
    parser.add_argument(
        "--database-url", help="an empty database to import into (default: a temporary SQLite file)"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = options.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        factory = make_session_factory(engine)
        document = _timed(f"generate {options.grids} grids", lambda: synthetic_territory(options.grids))
        data = json.dumps(document, ensure_ascii=False).encode("utf-8")
        print(f"{len(document['features'])} features, {len(data) / 1e6:.1f} MB of GeoJSON")
        features = _timed("read the file", lambda: read_territory(data, "bench.geojson", len(data)))
        checked = _timed("check (full validation, no store)", lambda: check_territory(features))
        print(f"{len(checked.errors)} errors, {len(checked.warnings)} warnings")

        def load() -> TerritoryReport:
            with session_scope(factory) as session:
                return import_territory(
                    session, read_territory(data, "bench.geojson", len(data)), datetime.now(UTC)
                )

        began = time.perf_counter()
        report = load()
        total = time.perf_counter() - began
        print(f"{'import: read, check, store, commit':<44} {total:8.2f} s   ({report.summary()})")
        again = _timed("import again, unchanged", load)
        print(f"  {again.summary()}")
        with session_scope(factory) as session:
            _timed("export as GeoJSON", lambda: write_geojson(export_features(session)))
        engine.dispose()
        print(
            f"target: import under 30 s at 10,000 grids: {'met' if total < 30 else 'NOT met'} ({total:.1f} s)"
        )


if __name__ == "__main__":
    main()
