"""``civicgrid import-orders`` and ``civicgrid partner`` on a real SQLite file: the example
spreadsheet, xlsx and CSV, the dry run, idempotency, and every bad file or row refused with
its line and reason and nothing stored."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from civicgrid.cli import app
from civicgrid.geo.index import GridIndex, territory_index
from civicgrid.settings import get_settings
from civicgrid.store.db import make_engine
from civicgrid.store.geo import territory_mark
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Case, OutboxMessage, Partner, PartnerOrder
from tests.exchange.helpers import add_partner
from tests.factories import build_world

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
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
]
GOOD = [
    "GD-1",
    "2026-11-26 08:12:05",
    "井盖缺失",
    "井盖缺失",
    "望江路12号",
    "120.005",
    "30.005",
    "王先生",
    "13800000001",
    "2026-11-27 17:30",
]


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A migrated SQLite file with the test world (no partner yet)."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    monkeypatch.setenv("CIVICGRID_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        build_world(session)
        session.commit()
    yield engine
    engine.dispose()
    get_settings.cache_clear()


@pytest.fixture
def partner(database: Engine) -> Engine:
    with Session(database) as session:
        add_partner(session, datetime.now(UTC))
        session.commit()
    return database


def counts(engine: Engine) -> tuple[int, ...]:
    with Session(engine) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(m)) or 0
            for m in (Case, PartnerOrder, OutboxMessage)
        )


def csv_file(path: Path, rows: list[list[str]], header: list[str] = HEADER, encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(",".join(row) for row in [header, *rows]) + "\n", encoding=encoding)
    return path


def test_the_example_spreadsheet_imports_once_with_the_example_category_map(database: Engine) -> None:
    added = runner.invoke(
        app,
        [
            "partner",
            "add",
            "12345-city",
            "市12345热线",
            "--webhook-url",
            "http://127.0.0.1:9/hook",
            "--category-map",
            str(EXAMPLES / "12345-category-map.csv"),
        ],
    )
    assert added.exit_code == 0, added.output
    assert "shared secret (shown once): " in added.output
    example = str(EXAMPLES / "12345-orders.csv")
    check = runner.invoke(app, ["import-orders", example, "--check"])
    assert check.exit_code == 0, check.output
    assert "line 2 (GD202611260001): would become a new case" in check.output and "dry run" in check.output
    assert counts(database) == (0, 0, 0)
    first = runner.invoke(app, ["import-orders", example])
    assert first.exit_code == 0, first.output
    assert "5 rows: 5 new, 0 received before, 0 bad; imported for partner 12345-city" in first.output
    assert counts(database) == (5, 5, 5)
    again = runner.invoke(app, ["import-orders", example, "--check"])
    assert "is case JD-" in again.output and "0 new, 5 received before" in again.output
    assert runner.invoke(app, ["import-orders", example]).exit_code == 0
    assert counts(database) == (5, 5, 5)
    listed = runner.invoke(app, ["partner", "list"])
    assert "12345-city\t市12345热线\thotline_12345\thttp://127.0.0.1:9/hook\tactive" in listed.output


def test_an_xlsx_export_with_excel_values_imports(partner: Engine, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(
        [
            202611260001.0,
            datetime(2026, 11, 26, 8, 12),
            "垃圾满溢",
            "菜场北门垃圾满溢",
            "菜场北门",
            120.015,
            30.005,
            "赵先生",
            13800000003,
            datetime(2026, 11, 26, 18, 0),
        ]
    )
    sheet.append([None] * len(HEADER))  # an empty row is skipped
    path = tmp_path / "orders.xlsx"
    book.save(path)
    result = runner.invoke(app, ["import-orders", str(path), "--partner", "12345-city"])
    assert result.exit_code == 0, result.output
    with Session(partner) as session:
        case = session.scalar(select(Case))
        assert case is not None and case.external_id == "202611260001" and case.grid is not None
        assert case.grid.code == "T010102-01" and case.reporter_phone == "13800000003"
        assert case.external_deadline_at == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def test_a_bad_row_among_good_ones_is_named_and_nothing_is_imported(partner: Engine, tmp_path: Path) -> None:
    rows = [
        GOOD,
        ["GD-2", "2026-11-26", "天上掉馅饼", "内容", "", "", "", "", "", ""],
        ["GD-3", "2026-11-26", "井盖缺失", "内容", "", "", "", "", "", "明天"],
        ["GD-4", "2026-11-26", "井盖缺失", "", "", "", "", "", "", ""],
        ["GD-5", "2026-11-26", "井盖缺失", "内容", "", "120.0", "", "", "", ""],
        [*GOOD[:1], *GOOD[1:]],  # GD-1 again: received before, not an error
    ]
    result = runner.invoke(app, ["import-orders", str(csv_file(tmp_path / "orders.csv", rows))])
    assert result.exit_code == 1
    assert "line 3 (GD-2): category '天上掉馅饼'" in result.output
    assert "line 4 (GD-3): deadline (办理时限): '明天' is not a time" in result.output
    assert "line 5 (GD-4): content: Field required" in result.output
    assert "line 6 (GD-5): row: Value error, give both lng and lat, or neither" in result.output
    assert "6 rows: 1 new, 1 received before, 4 bad; nothing imported" in result.output
    assert counts(partner) == (0, 0, 0)


def test_an_order_received_before_is_not_checked_again(partner: Engine, tmp_path: Path) -> None:
    assert runner.invoke(app, ["import-orders", str(csv_file(tmp_path / "a.csv", [GOOD]))]).exit_code == 0
    since_renamed = [GOOD[0], GOOD[1], "天上掉馅饼", *GOOD[3:]]  # its category no longer maps
    result = runner.invoke(app, ["import-orders", str(csv_file(tmp_path / "b.csv", [since_renamed]))])
    assert result.exit_code == 0, result.output
    assert "1 rows: 0 new, 1 received before, 0 bad" in result.output


def test_the_rows_points_are_placed_in_one_batch_as_one_by_one(
    partner: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    points = {
        "GD-1": (120.005, 30.005),
        "GD-2": (120.015, 30.005),
        "GD-3": (120.105, 30.005),
        "GD-4": (120.5, 30.5),
    }
    rows = [[number, *GOOD[1:5], str(lng), str(lat), *GOOD[7:]] for number, (lng, lat) in points.items()]
    with Session(partner) as session:
        territory = territory_index(session, territory_mark(session))
        expected = {n: territory.grids.place(lng, lat).grid for n, (lng, lat) in points.items()}

    def one_at_a_time(*args: object) -> None:
        raise AssertionError("an import places its rows in a batch")

    monkeypatch.setattr(GridIndex, "place", one_at_a_time)
    result = runner.invoke(app, ["import-orders", str(csv_file(tmp_path / "orders.csv", rows))])
    assert result.exit_code == 0, result.output
    with Session(partner) as session:
        grids = {number: grid for number, grid in session.execute(select(Case.external_id, Case.grid_id))}
    assert grids == {n: grid.id if grid else None for n, grid in expected.items()}
    assert [g.code if g else None for g in expected.values()] == [
        "T010101-01",
        "T010102-01",
        "T010201-01",
        None,
    ]


def test_a_spreadsheet_with_a_missing_column_is_refused(partner: Engine, tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "诉求内容"]
    result = runner.invoke(app, ["import-orders", str(csv_file(tmp_path / "o.csv", [GOOD[:-1]], header))])
    assert result.exit_code == 1
    assert "missing column 诉求内容 (content)" in result.output and "nothing imported" in result.output
    assert counts(partner) == (0, 0, 0)


def test_a_centre_s_own_column_map_and_a_gb18030_file(partner: Engine, tmp_path: Path) -> None:
    column_map = tmp_path / "columns.csv"
    column_map.write_text("field,headers\norder_number,编号\ncontent,内容\ncategory,类型\n", encoding="utf-8")
    orders = csv_file(
        tmp_path / "o.csv", [["A-1", "井盖缺失", "井盖缺失"]], ["编号", "内容", "类型"], encoding="gb18030"
    )
    result = runner.invoke(app, ["import-orders", str(orders), "--map", str(column_map)])
    assert result.exit_code == 0, result.output
    assert counts(partner) == (1, 1, 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("field,headers\ncolour,颜色\n", "unknown field 'colour'"),
        ("field,headers\norder_number,编号\n", "names no header for content, category"),
        ("a,b\n", "a column map has the columns field,headers"),
    ],
)
def test_a_bad_column_map_is_refused(partner: Engine, tmp_path: Path, content: str, message: str) -> None:
    column_map = tmp_path / "columns.csv"
    column_map.write_text(content, encoding="utf-8")
    result = runner.invoke(
        app, ["import-orders", str(csv_file(tmp_path / "o.csv", [GOOD])), "--map", str(column_map)]
    )
    assert result.exit_code == 1 and message in result.output


def test_files_that_are_no_spreadsheet_are_refused(partner: Engine, tmp_path: Path) -> None:
    broken = tmp_path / "orders.xlsx"
    broken.write_bytes(b"not a zip")
    result = runner.invoke(app, ["import-orders", str(broken)])
    assert result.exit_code == 1 and "not a readable xlsx workbook" in result.output
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    result = runner.invoke(app, ["import-orders", str(empty)])
    assert result.exit_code == 1 and "the file is empty" in result.output


def test_the_partner_must_be_clear(database: Engine, tmp_path: Path) -> None:
    orders = str(csv_file(tmp_path / "o.csv", [GOOD]))
    result = runner.invoke(app, ["import-orders", orders])
    assert result.exit_code == 1 and "partners: none (add one with civicgrid partner add)" in result.output
    with Session(database) as session:
        add_partner(session, datetime.now(UTC), code="a")
        add_partner(session, datetime.now(UTC), code="b")
        session.commit()
    result = runner.invoke(app, ["import-orders", orders])
    assert result.exit_code == 1 and "name the partner with --partner; partners: a, b" in result.output
    result = runner.invoke(app, ["import-orders", orders, "--partner", "c"])
    assert result.exit_code == 1 and "no partner 'c'" in result.output
    assert runner.invoke(app, ["import-orders", orders, "--partner", "b"]).exit_code == 0
    with Session(database) as session:
        case = session.scalar(select(Case))
        partner_b = session.scalar(select(Partner).where(Partner.code == "b"))
        assert case is not None and partner_b is not None and case.partner_id == partner_b.id


def test_partner_add_refuses_bad_input(database: Engine) -> None:
    result = runner.invoke(app, ["partner", "add", "x", "上级", "--channel", "web"])
    assert result.exit_code == 1 and "not web" in result.output
    result = runner.invoke(app, ["partner", "add", "x y", "上级", "--secret", "short"])
    assert result.exit_code == 1 and "code:" in result.output and "secret:" in result.output
    assert runner.invoke(app, ["partner", "add", "x", "上级", "--channel", "upper_level"]).exit_code == 0
    result = runner.invoke(app, ["partner", "add", "x", "上级"])
    assert result.exit_code == 1 and "exists already" in result.output


def test_the_worker_command_runs_until_it_is_stopped(database: Engine) -> None:
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    previous = signal.getsignal(signal.SIGTERM)
    timer.start()
    result = runner.invoke(app, ["worker"])
    timer.join()
    assert result.exit_code == 0, result.output
    assert "delivering the outbox" in result.output and "stopped" in result.output
    assert signal.getsignal(signal.SIGTERM) == previous


def test_the_worker_stops_with_an_error_when_one_of_its_jobs_fails(
    database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object, stop: threading.Event) -> None:
        raise RuntimeError("the minute job broke")

    monkeypatch.setattr("civicgrid.live.lights.LightJob.run", broken)
    result = runner.invoke(app, ["worker"])
    assert result.exit_code == 1, result.output
    assert "civicgrid-lights ended unexpectedly" in result.output
    assert not any(t.name.startswith("civicgrid-") for t in threading.enumerate())  # the others stopped


def test_serve_runs_the_sender_beside_the_server_unless_told_not_to(
    database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    senders: list[bool] = []
    monkeypatch.setattr(
        "uvicorn.run",
        lambda *a, **k: senders.append(any(t.name == "civicgrid-sender" for t in threading.enumerate())),
    )
    assert runner.invoke(app, ["serve", "--workers", "1"]).exit_code == 0
    assert runner.invoke(app, ["serve", "--workers", "1", "--no-worker"]).exit_code == 0
    assert senders == [True, False]
    assert not any(t.name == "civicgrid-sender" for t in threading.enumerate())  # stopped with the server
