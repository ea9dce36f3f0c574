"""Every query for cases on behalf of a user goes through ``scoped``: this test reads the
source and fails when a new case query appears outside the places that are allowed."""

from __future__ import annotations

import re
from pathlib import Path

import civicgrid

PACKAGE = Path(civicgrid.__file__).parent
CASE_QUERY = re.compile(r"select\(\s*Case\b")

#: Files allowed to query cases, and why. Anything else must call ``scoped``.
ALLOWED = {
    "store/scoping.py": "the scope helper itself",
    "store/cases.py": "builds every user query through scoped()",
    # A duplicate external id must be found whoever registered the first case.
    "services/cases.py": "the channel-wide duplicate check (select(Case.number))",
    # The demo loader builds the district as the system, not as a user.
    "demo.py": "loads data, serves no user",
    # Replays every case after a restore, for the operator at the console.
    "store/history.py": "checks the whole store, serves no user",
    # A new year's arrangement moves every open case's deadline, whoever may see the case.
    "store/calendar.py": "recomputes open cases' clocks as the system, serves no user",
}


def test_case_queries_only_where_scope_is_applied() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in ALLOWED or "migrations" in relative:
            continue
        if CASE_QUERY.search(path.read_text(encoding="utf-8")):
            offenders.append(relative)
    assert offenders == [], f"case queries that bypass scoped(): {offenders}"


def test_user_queries_in_store_cases_all_go_through_scoped() -> None:
    source = (PACKAGE / "store/cases.py").read_text(encoding="utf-8")
    for match in CASE_QUERY.finditer(source):
        line = source[source.rfind("\n", 0, match.start()) + 1 : source.find("\n", match.end())]
        assert "scoped(" in line, f"store/cases.py: unscoped case query: {line.strip()}"


def test_the_lint_catches_an_unscoped_query(tmp_path: Path) -> None:
    sample = "rows = session.scalars(select(Case).where(Case.state == 'closed'))"
    assert CASE_QUERY.search(sample)
    assert "scoped(" not in sample
