"""Import a 12345 platform's work-order spreadsheet of N rows (xlsx, written here with the
shipped column headers) into the demo district on a fresh SQLite file, through
``civicgrid import-orders``' own code path: read, check, place, store, one transaction.
Prints the time to write the file, a dry run (``--check``), the import and a repeat (every
row received before). The target is 10,000 rows in under 60 s.

    python benchmarks/bench_import_orders.py [--rows 10000] [--csv]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func, select

from civicgrid.demo import EAST, NORTH, SOUTH, WEST, load_demo
from civicgrid.exchange.partners import create_partner
from civicgrid.exchange.schemas import PartnerIn
from civicgrid.exchange.spreadsheet import default_column_map_path, import_orders, load_column_map
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Case, Partner

HEADER = [
    "工单编号",
    "来电时间",
    "诉求类型",
    "诉求内容",
    "诉求地址",
    "经度",
    "纬度",
    "联系人",
    "联系电话",
    "办理时限",
    "诉求类别",
]
KINDS = {
    "井盖缺失": "C0101",
    "路灯不亮": "C0108",
    "垃圾满溢": "E0103",
    "乱堆物堆料": "E0105",
    "违规户外广告": "E0201",
}


def rows(count: int, seed: int = 1) -> list[list[object]]:
    """``count`` orders: nine in ten inside the street's grids, one in ten with no coordinate."""
    chance = random.Random(seed)
    start = datetime(2026, 11, 1, 8, 0)
    made: list[list[object]] = []
    for index in range(count):
        called = start + timedelta(minutes=3 * index)
        kind = chance.choice(list(KINDS))
        placed = chance.random() < 0.9
        made.append(
            [
                f"GD{20261101000000 + index}",
                called,
                kind,
                f"{kind}：第{index}号来电反映的问题，请尽快处理",
                f"江滨街道{chance.randint(1, 300)}号",
                round(chance.uniform(WEST, EAST), 6) if placed else None,
                round(chance.uniform(SOUTH, NORTH), 6) if placed else None,
                "市民",
                f"138{index:08d}",
                called + timedelta(days=3),
                chance.choice(["投诉", "求助", "建议"]),
            ]
        )
    return made


def write(path: Path, data: list[list[object]]) -> None:
    if path.suffix == ".csv":
        lines = [",".join(HEADER)]
        lines += [",".join("" if v is None else str(v) for v in row) for row in data]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for row in data:
        sheet.append(row)
    book.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--csv", action="store_true", help="a CSV file instead of xlsx")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    rules = CentreRules.from_settings(Settings(database_url=url))
    now = datetime.now(UTC)
    with session_scope(factory) as session:
        load_demo(session, rules, now, 0, seed=1)
        create_partner(
            session,
            None,
            PartnerIn(
                code="12345", name="市12345热线", webhook_url="http://127.0.0.1:9/hook", category_map=KINDS
            ),
            now,
        )
    path = folder / ("orders.csv" if args.csv else "orders.xlsx")
    began = time.perf_counter()
    write(path, rows(args.rows))
    print(f"wrote {args.rows:,} rows to {path.name}: {time.perf_counter() - began:.1f} s")
    columns = load_column_map(default_column_map_path())
    for label, commit in (
        ("dry run (--check)", False),
        ("import", True),
        ("again (all received before)", True),
    ):
        began, cpu = time.perf_counter(), time.process_time()
        with factory() as session:
            partner = session.scalar(select(Partner))
            assert partner is not None
            report = import_orders(session, partner, path, columns, rules, datetime.now(UTC))
            if commit and not report.errors:
                session.commit()
            else:
                session.rollback()
        took, cpu = time.perf_counter() - began, time.process_time() - cpu
        print(
            f"{label}: {took:.1f} s, {cpu:.1f} s of CPU ({args.rows / took:,.0f} rows/s); {report.count('created')} new, "
            f"{report.count('duplicate')} received before, {len(report.errors)} bad"
        )
    with factory() as session:
        print(f"cases stored: {session.scalar(select(func.count()).select_from(Case)):,}")


if __name__ == "__main__":
    main()
