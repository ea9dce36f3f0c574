"""The command line on a real SQLite file: civicgrid evaluation publish|list|show and
civicgrid export cases|table|evaluation, each as a named user with their role and scope."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from civicgrid import cli_reports
from civicgrid.cli import app
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings, get_settings
from civicgrid.store.db import make_engine
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Case, User
from tests.factories import World, act, build_world, new_case
from tests.statistics_history import at, build_history

runner = CliRunner()


@pytest.fixture
def centre(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A SQLite file with the test world, October's history and a case handled on 28 October
    whose check is still to come; the commands' clock at 15 November 2026."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    monkeypatch.setenv("CIVICGRID_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        world = build_world(session)
        rules = CentreRules.from_settings(Settings(database_url=url))
        build_history(session, world, rules)
        late = new_case(session, world, rules, at(10, 28, 9), title="待核查井盖")
        act(session, world, rules, late, "operator", "register", at(10, 28, 9))
        act(session, world, rules, late, "dispatcher", "dispatch", at(10, 28, 9), department_code="D-SZ-E")
        act(session, world, rules, late, "handler_sz", "accept", at(10, 28, 9, 10))
        act(session, world, rules, late, "handler_sz", "handle", at(10, 28, 10), note="已处置")
        session.commit()
    engine.dispose()
    monkeypatch.setattr(cli_reports, "_now", lambda: at(11, 15, 12))
    yield tmp_path
    get_settings.cache_clear()


def fail_the_late_check(centre: Path) -> None:
    """On 16 November the check of the case handled on 28 October fails (返工)."""
    url = f"sqlite:///{centre / 'centre.db'}"
    engine = make_engine(url)
    with Session(engine) as session:
        world = World(users={user.username: user for user in session.scalars(select(User))})
        late = session.scalars(select(Case).where(Case.title == "待核查井盖")).one()
        rules = CentreRules.from_settings(Settings(database_url=url))
        act(session, world, rules, late, "inspector", "fail_check", at(11, 16, 9), note="井盖仍松动")
        session.commit()
    engine.dispose()


def test_publish_list_and_show(centre: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = runner.invoke(app, ["evaluation", "publish", "department", "2026-10", "--by", "leader"])
    assert first.exit_code == 0, first.output
    assert "published department 2026-10 (2026年10月) for T01 测试区: version 1, 2 ranked" in first.output
    again = runner.invoke(app, ["evaluation", "publish", "department", "2026-10", "--by", "leader"])
    assert again.exit_code == 1 and "already holds these figures" in again.output
    assert "nothing stored" in again.output

    fail_the_late_check(centre)
    monkeypatch.setattr(cli_reports, "_now", lambda: at(11, 16, 12))
    second = runner.invoke(
        app, ["evaluation", "publish", "department", "2026-10", "--by", "leader", "--note", "补录"]
    )
    assert second.exit_code == 0, second.output
    assert "version 2" in second.output and "changed D-SZ-E 东湖市政所" in second.output
    assert "1 unchanged" in second.output

    listed = runner.invoke(app, ["evaluation", "list", "--period", "2026-10"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert [line.split("\t")[3] for line in lines] == ["v2", "v1"] and lines[0].endswith("\tleader\t补录")
    shown = runner.invoke(
        app, ["evaluation", "show", "department", "2026-10", "1", "--region", "T01", "--changes"]
    )
    assert shown.exit_code == 1 and "version 1 is the first" in shown.output
    shown = runner.invoke(
        app, ["evaluation", "show", "department", "2026-10", "2", "--region", "T01", "--changes"]
    )
    assert shown.exit_code == 0, shown.output
    assert "version 2: published 2026-11-16T04:00:00+00:00 by leader" in shown.output
    assert "\n1\tD-SZ-E\t东湖市政所\t" in shown.output and "按期处置率" in shown.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["department", "2026-11", "--by", "leader"], "is not over"),
        (["department", "2026-10", "--by", "admin"], "the leader's decision"),
        (["department", "2026-10", "--by", "nobody"], "no active user 'nobody'"),
        (["planets", "2026-10", "--by", "leader"], "unknown kind of evaluation 'planets'"),
        (["department", "2026-10", "--by", "leader", "--region", "T02"], "unknown region code 'T02'"),
    ],
)
def test_a_refused_publication_stores_nothing(centre: Path, arguments: list[str], message: str) -> None:
    result = runner.invoke(app, ["evaluation", "publish", *arguments])
    assert result.exit_code == 1 and message in result.output, result.output
    assert runner.invoke(app, ["evaluation", "list"]).output.strip() == "no published evaluation"


def test_export_cases_as_the_users_scope(centre: Path) -> None:
    out = centre / "cases.xlsx"
    result = runner.invoke(app, ["export", "cases", "--as", "leader", "--format", "xlsx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{out}: 13 cases" in result.output
    book = openpyxl.load_workbook(out, read_only=True)
    rows = list(book["案件"].iter_rows(values_only=True))
    book.close()
    assert rows[0][0] == "案件编号" and len(rows) == 14
    east = centre / "east.csv"
    result = runner.invoke(
        app, ["export", "cases", "--as", "supervisor", "--state", "closed", "--out", str(east)]
    )
    assert result.exit_code == 0, result.output
    found = list(csv.DictReader(io.StringIO(east.read_text(encoding="utf-8-sig"))))
    assert (
        found
        and {row["街道/镇"] for row in found} == {"东湖街道"}
        and {row["状态"] for row in found} == {"结案"}
    )
    refused = runner.invoke(
        app, ["export", "cases", "--as", "leader", "--region", "NOWHERE", "--out", str(east)]
    )
    assert refused.exit_code == 1 and "unknown region code 'NOWHERE'; nothing written" in refused.output
    bad = runner.invoke(app, ["export", "cases", "--as", "leader", "--format", "pdf", "--out", str(east)])
    assert bad.exit_code == 2


def test_export_a_table_and_an_evaluation(centre: Path) -> None:
    table = centre / "table.csv"
    result = runner.invoke(
        app,
        ["export", "table", "--as", "leader", "--period", "month", "--date", "2026-10-01",
         "--group-by", "street", "--indicators", "closed,closure_rate", "--out", str(table)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert table.read_text(encoding="utf-8-sig").splitlines()[1] == "T0101,东湖街道,6,75.00%,6,8"
    outside = runner.invoke(
        app,
        [
            "export",
            "table",
            "--as",
            "supervisor",
            "--period",
            "month",
            "--region",
            "T0102",
            "--out",
            str(table),
        ],
    )
    assert outside.exit_code == 1 and "outside your scope" in outside.output
    no_period = runner.invoke(app, ["export", "table", "--as", "leader", "--out", str(table)])
    assert no_period.exit_code == 1 and "say which period" in no_period.output
    live = centre / "live.csv"
    result = runner.invoke(
        app, ["export", "evaluation", "department", "2026-10", "--as", "leader", "--out", str(live)]
    )
    assert result.exit_code == 0 and "2 ranked" in result.output, result.output
    assert (
        runner.invoke(app, ["evaluation", "publish", "department", "2026-10", "--by", "leader"]).exit_code
        == 0
    )
    frozen = centre / "frozen.xlsx"
    result = runner.invoke(
        app,
        ["export", "evaluation", "department", "2026-10", "--as", "leader", "--version", "1",
         "--format", "xlsx", "--out", str(frozen)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(openpyxl.load_workbook(frozen).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[1][:5] == (1, "D-SZ-E", "东湖市政所", 80.71, "B")
    assert live.read_text(encoding="utf-8-sig").splitlines()[1].startswith("1,D-SZ-E,东湖市政所,80.71,B,")
