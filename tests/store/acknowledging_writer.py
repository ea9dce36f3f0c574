"""A writer for the durability test, run as its own process: registers cases one commit at
a time and prints each case number once its commit has returned (acknowledged), until it is
killed.

    python -m tests.store.acknowledging_writer SQLITE_URL FULL|NORMAL
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from sqlalchemy import select, text

from civicgrid.domain.vocabulary import Channel
from civicgrid.schemas import CaseCreate
from civicgrid.services.cases import CentreRules, create_case
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.models import User


def main(url: str, synchronous: str) -> None:
    engine = make_engine(url, synchronous=synchronous)
    factory = make_session_factory(engine)
    rules = CentreRules.from_settings(Settings(database_url=url))
    with engine.connect() as connection:
        print("synchronous", connection.execute(text("PRAGMA synchronous")).scalar_one(), flush=True)
    data = CaseCreate(
        channel=Channel.HOTLINE_12345, category_code="C0101", title="井盖缺失", lng=120.005, lat=30.005
    )
    while True:
        with session_scope(factory) as session:
            operator = session.scalars(select(User).where(User.username == "operator")).one()
            number = create_case(session, operator, data, rules, datetime.now(UTC)).number
        print(number, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
