"""The same work order sent twice at the same moment is one case: the unique key on
(partner, order number) decides, and both answers name that case."""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from civicgrid.exchange.orders import receive_order
from civicgrid.exchange.schemas import InboundOrder, OrderResult
from civicgrid.services.cases import CentreRules
from civicgrid.store.db import make_session_factory, session_scope
from civicgrid.store.models import Case, OutboxMessage, Partner, PartnerOrder
from tests.exchange.helpers import ORDER, add_partner
from tests.factories import build_world


def test_two_threads_sending_one_order_make_one_case(
    fresh_engine: Engine, rules: CentreRules, now: datetime
) -> None:
    with Session(fresh_engine) as session:
        build_world(session)
        add_partner(session, now)
        session.commit()
    factory = make_session_factory(fresh_engine)
    start = threading.Barrier(2, timeout=30)
    answers: list[OrderResult] = []
    failures: list[BaseException] = []

    def send() -> None:
        try:
            # Lined up before either begins: on SQLite the first transaction holds the write
            # turn from its start, so the second waits for it in BEGIN, then sees its row.
            start.wait()
            with session_scope(factory) as session:
                partner = session.scalar(select(Partner))
                assert partner is not None
                answers.append(
                    receive_order(session, partner, InboundOrder.model_validate(ORDER), rules, now)
                )
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert sorted(a.created for a in answers) == [False, True]
    assert len({a.case_number for a in answers}) == 1
    with Session(fresh_engine) as session:
        counts = [
            session.scalar(select(func.count()).select_from(m)) for m in (Case, PartnerOrder, OutboxMessage)
        ]
    assert counts == [1, 1, 1]
