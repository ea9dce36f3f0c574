"""The sharding plan for Citus (docs/scale-out.md) checked against the schema the models declare.

Citus shards a distributed table by one column and keeps the rows of co-located tables with
the same value on the same node. It can only enforce what one shard can check on its own:
every primary key and unique constraint of a distributed table must include the distribution
column, and so must every foreign key between distributed tables. Distributed tables may
point at reference tables (copied to every node); a reference table may not point at a
distributed one; tables kept on the coordinator alone (local) may not be tied to distributed
tables by a foreign key in either direction.

Today's schema has no district column yet, so it breaks these rules in known places. Each
one is listed in ``KNOWN_GAPS`` with the change the migration to Citus makes. The test fails
when the schema gains a violation that is not listed (a new table or constraint that would
make the move to Citus harder) and when a listed one is gone (the list must stay true).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import pytest
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

import civicgrid.store.models  # noqa: F401  (registers every table on the metadata)
from civicgrid.store.db import NAMING_CONVENTION, Base


@dataclass(frozen=True)
class ShardingPlan:
    """Where each table goes on a Citus cluster.

    ``distributed`` maps a table to its distribution column (all of them co-located with
    ``cases``); ``reference`` tables are copied whole to every node; ``local`` tables stay on
    the coordinator (Citus local tables)."""

    distributed: dict[str, str]
    reference: frozenset[str]
    local: frozenset[str] = field(default_factory=frozenset)


#: civicgrid's plan: a case and everything that hangs off it live on the shard of its district.
PLAN = ShardingPlan(
    distributed={
        "cases": "district_id",
        "case_events": "district_id",
        "case_tasks": "district_id",
        "attachments": "district_id",
        "case_overlay_grids": "district_id",
        # A partner's order number lives beside the case it made.
        "partner_orders": "district_id",
        # Numbers are given out per district, in the same single-shard transaction as the case.
        "case_number_counters": "district_id",
        # A case's alerts are written with its changes, and read beside it.
        "notifications": "district_id",
    },
    reference=frozenset(
        {
            "regions",
            "grids",
            "grid_staff",
            "territory_revision",
            "departments",
            "users",
            "categories",
            "calendar_days",
            # Read by every Open311 report (the key's hash), issued and revoked now and then.
            "api_keys",
            "partners",
            # Read by the minute job for every alert, edited now and then.
            "notification_settings",
        }
    ),
    # Written at every sign-in, read only by the sign-in path: no need to copy them to every node.
    # The outbox: written with the case, read by the one sender on the coordinator.
    # The live journal likewise (read by each server's feed), and the minute job's mark.
    # The portal's codes and failed lookups: like sign-in attempts, its throttle's own.
    # Published evaluations: a handful a month, read on their own, never joined with cases.
    # Briefings and their schedules: a few rows a day, written by the runner, read by staff.
    local=frozenset(
        {
            "api_tokens",
            "sign_in_attempts",
            "outbox",
            "phone_codes",
            "portal_lookup_failures",
            "live_changes",
            "job_marks",
            "published_evaluations",
            "briefing_schedules",
            "briefings",
            "briefing_files",
        }
    ),
)


class Violation(NamedTuple):
    """One place where the schema breaks a rule of the plan."""

    rule: str
    table: str
    subject: str


#: Each table of the metadata is in the plan, and each planned table exists.
UNPLANNED = "table not in the plan"
MISSING_TABLE = "planned table does not exist"
#: A distributed table has its distribution column.
NO_DISTRIBUTION_COLUMN = "no distribution column"
#: Co-located tables are distributed by columns of one type.
MIXED_COLUMN_TYPES = "distribution column of another type"
#: Each primary key, unique constraint and unique index of a distributed table includes the column.
UNIQUE_WITHOUT_KEY = "unique without the distribution column"
#: A foreign key between distributed tables pairs the two distribution columns.
FOREIGN_KEY_WITHOUT_KEY = "foreign key between distributed tables without the distribution column"
#: A reference table does not point at a distributed table.
REFERENCE_TO_DISTRIBUTED = "foreign key from a reference table to a distributed table"
#: A local table and a distributed table are not tied by a foreign key.
LOCAL_AND_DISTRIBUTED = "foreign key between a local and a distributed table"


def violations(metadata: MetaData, plan: ShardingPlan) -> set[Violation]:
    """Every place where the tables of ``metadata`` break Citus' rules under ``plan``."""
    found: set[Violation] = set()
    tables = metadata.tables
    planned = set(plan.distributed) | plan.reference | plan.local
    found |= {Violation(UNPLANNED, name, name) for name in set(tables) - planned}
    found |= {Violation(MISSING_TABLE, name, name) for name in planned - set(tables)}

    column_types: dict[str, str] = {}
    for name, column in plan.distributed.items():
        if name not in tables:
            continue
        table = tables[name]
        if column not in table.c:
            found.add(Violation(NO_DISTRIBUTION_COLUMN, name, column))
        else:
            column_types[name] = str(table.c[column].type)
        for constraint in table.constraints:
            if isinstance(constraint, ForeignKeyConstraint):
                found |= _foreign_key(constraint, plan)
            elif isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint):
                found |= _unique(name, str(constraint.name), constraint.columns.keys(), column)
            # A CHECK constraint looks at one row at a time: any shard can check it.
        for index in table.indexes:
            if index.unique:
                found |= _unique(name, str(index.name), index.columns.keys(), column)
    if len(set(column_types.values())) > 1:
        first = column_types[min(column_types)]
        found |= {
            Violation(MIXED_COLUMN_TYPES, name, f"{plan.distributed[name]} {kind}")
            for name, kind in column_types.items()
            if kind != first
        }

    for name in (plan.reference | plan.local) & set(tables):
        for constraint in tables[name].foreign_key_constraints:
            if constraint.referred_table.name in plan.distributed:
                rule = REFERENCE_TO_DISTRIBUTED if name in plan.reference else LOCAL_AND_DISTRIBUTED
                found.add(Violation(rule, name, str(constraint.name)))
    return found


def _unique(table: str, name: str, columns: list[str], key: str) -> set[Violation]:
    if key in columns:
        return set()
    return {Violation(UNIQUE_WITHOUT_KEY, table, name)}


def _foreign_key(constraint: ForeignKeyConstraint, plan: ShardingPlan) -> set[Violation]:
    table = constraint.table.name
    referred = constraint.referred_table.name
    if referred in plan.local:
        return {Violation(LOCAL_AND_DISTRIBUTED, table, str(constraint.name))}
    if referred not in plan.distributed:
        return set()  # distributed → reference: every node has the referred rows
    pairs = {(element.parent.name, element.column.name) for element in constraint.elements}
    if (plan.distributed[table], plan.distributed[referred]) in pairs:
        return set()
    return {Violation(FOREIGN_KEY_WITHOUT_KEY, table, str(constraint.name))}


#: Today's violations, each with the change the migration to Citus makes (docs/scale-out.md).
KNOWN_GAPS: dict[Violation, str] = {
    Violation(NO_DISTRIBUTION_COLUMN, "cases", "district_id"): (
        "add cases.district_id, backfilled from the root of the case's region path"
    ),
    Violation(NO_DISTRIBUTION_COLUMN, "case_events", "district_id"): (
        "add case_events.district_id, copied from the event's case"
    ),
    Violation(NO_DISTRIBUTION_COLUMN, "case_tasks", "district_id"): (
        "add case_tasks.district_id, copied from the task's case"
    ),
    Violation(NO_DISTRIBUTION_COLUMN, "attachments", "district_id"): (
        "add attachments.district_id, copied from the attachment's case"
    ),
    Violation(NO_DISTRIBUTION_COLUMN, "case_overlay_grids", "district_id"): (
        "add case_overlay_grids.district_id, copied from the case"
    ),
    Violation(NO_DISTRIBUTION_COLUMN, "case_number_counters", "district_id"): (
        "add case_number_counters.district_id: one counter per district, prefix and day"
    ),
    Violation(NO_DISTRIBUTION_COLUMN, "partner_orders", "district_id"): (
        "add partner_orders.district_id, copied from the order's case"
    ),
    Violation(UNIQUE_WITHOUT_KEY, "partner_orders", "pk_partner_orders"): "primary key (district_id, id)",
    Violation(UNIQUE_WITHOUT_KEY, "partner_orders", "uq_partner_orders_partner_id"): (
        "unique (district_id, partner_id, order_number): a partner's order is received once per district"
    ),
    Violation(FOREIGN_KEY_WITHOUT_KEY, "partner_orders", "fk_partner_orders_case_id_cases"): (
        "(district_id, case_id) → cases (district_id, id)"
    ),
    Violation(UNIQUE_WITHOUT_KEY, "cases", "pk_cases"): "primary key (district_id, id)",
    Violation(UNIQUE_WITHOUT_KEY, "cases", "uq_cases_number"): (
        "unique (district_id, number); the district's own number prefix keeps numbers unique province-wide"
    ),
    Violation(UNIQUE_WITHOUT_KEY, "cases", "uq_cases_channel"): (
        "unique (district_id, channel, external_id): a partner's order is registered once per district"
    ),
    Violation(UNIQUE_WITHOUT_KEY, "case_events", "pk_case_events"): "primary key (district_id, id)",
    Violation(UNIQUE_WITHOUT_KEY, "case_events", "uq_case_events_case_id"): (
        "unique (district_id, case_id, seq)"
    ),
    Violation(UNIQUE_WITHOUT_KEY, "case_tasks", "pk_case_tasks"): "primary key (district_id, id)",
    Violation(UNIQUE_WITHOUT_KEY, "attachments", "pk_attachments"): "primary key (district_id, id)",
    Violation(UNIQUE_WITHOUT_KEY, "case_overlay_grids", "pk_case_overlay_grids"): (
        "primary key (district_id, case_id, grid_id)"
    ),
    Violation(UNIQUE_WITHOUT_KEY, "case_number_counters", "pk_case_number_counters"): (
        "primary key (district_id, prefix, day)"
    ),
    Violation(FOREIGN_KEY_WITHOUT_KEY, "cases", "fk_cases_merged_into_id_cases"): (
        "(district_id, merged_into_id) → cases (district_id, id): a case merges only within its district"
    ),
    Violation(FOREIGN_KEY_WITHOUT_KEY, "case_events", "fk_case_events_case_id_cases"): (
        "(district_id, case_id) → cases (district_id, id)"
    ),
    Violation(FOREIGN_KEY_WITHOUT_KEY, "case_tasks", "fk_case_tasks_case_id_cases"): (
        "(district_id, case_id) → cases (district_id, id)"
    ),
    Violation(FOREIGN_KEY_WITHOUT_KEY, "case_tasks", "fk_case_tasks_event_id_case_events"): (
        "(district_id, event_id) → case_events (district_id, id)"
    ),
    Violation(FOREIGN_KEY_WITHOUT_KEY, "attachments", "fk_attachments_case_id_cases"): (
        "(district_id, case_id) → cases (district_id, id)"
    ),
    Violation(FOREIGN_KEY_WITHOUT_KEY, "attachments", "fk_attachments_event_id_case_events"): (
        "(district_id, event_id) → case_events (district_id, id)"
    ),
    Violation(FOREIGN_KEY_WITHOUT_KEY, "case_overlay_grids", "fk_case_overlay_grids_case_id_cases"): (
        "(district_id, case_id) → cases (district_id, id)"
    ),
    Violation(NO_DISTRIBUTION_COLUMN, "notifications", "district_id"): (
        "add notifications.district_id, copied from the notification's case"
    ),
    Violation(UNIQUE_WITHOUT_KEY, "notifications", "pk_notifications"): "primary key (district_id, id)",
    Violation(UNIQUE_WITHOUT_KEY, "notifications", "uq_notifications_user_id"): (
        "unique (district_id, user_id, kind, case_id, occasion)"
    ),
    Violation(FOREIGN_KEY_WITHOUT_KEY, "notifications", "fk_notifications_case_id_cases"): (
        "(district_id, case_id) → cases (district_id, id)"
    ),
}


def _listed(found: set[Violation]) -> str:
    return "\n".join(f"  {v.rule}: {v.table} ({v.subject})" for v in sorted(found))


def test_the_schema_breaks_no_rule_beyond_the_known_gaps() -> None:
    new = violations(Base.metadata, PLAN) - set(KNOWN_GAPS)
    assert not new, (
        "the schema breaks Citus' rules where the plan has no answer yet; include the "
        "distribution column, or list the change in KNOWN_GAPS and docs/scale-out.md:\n" + _listed(new)
    )


def test_every_known_gap_still_exists() -> None:
    closed = set(KNOWN_GAPS) - violations(Base.metadata, PLAN)
    assert not closed, "these gaps are closed; take them off KNOWN_GAPS and the doc:\n" + _listed(closed)


def test_the_plan_puts_every_table_in_one_place() -> None:
    kinds = [set(PLAN.distributed), PLAN.reference, PLAN.local]
    assert all(not (a & b) for i, a in enumerate(kinds) for b in kinds[i + 1 :])
    assert {"district_id"} == set(PLAN.distributed.values())


# The rules themselves, each shown to fail on a small schema that breaks it.

TOY_PLAN = ShardingPlan(
    distributed={"cases": "district_id", "events": "district_id"},
    reference=frozenset({"regions"}),
    local=frozenset({"tokens"}),
)


def _toy(**breaks: bool) -> MetaData:
    """A schema that keeps every rule of ``TOY_PLAN``, but for the ones named in ``breaks``."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    Table(
        "regions",
        metadata,
        Column("id", Integer, primary_key=True),
        *([Column("case_id", Integer)] if breaks.get("reference_to_distributed") else []),
        *(
            [ForeignKeyConstraint(["case_id"], ["cases.id"])]
            if breaks.get("reference_to_distributed")
            else []
        ),
    )
    Table(
        "cases",
        metadata,
        Column(
            "district_id",
            String(10) if breaks.get("mixed_types") else Integer,
            primary_key=not breaks.get("primary_key"),
        ),
        Column("id", Integer, primary_key=True),
        Column("number", String(32)),
        Column("region_id", Integer),
        Column("token_id", Integer),
        UniqueConstraint(*(["number"] if breaks.get("unique") else ["district_id", "number"])),
        # Checked row by row, so it needs no distribution column.
        CheckConstraint("id > 0", name="id_positive"),
        Index(
            "ix_cases_number",
            *(["number"] if breaks.get("unique_index") else ["district_id", "number"]),
            unique=True,
        ),
        ForeignKeyConstraint(["region_id"], ["regions.id"]),
        *([ForeignKeyConstraint(["token_id"], ["tokens.id"])] if breaks.get("distributed_to_local") else []),
    )
    # Without its district column, the events table can only point at the case by id.
    by_id_alone = breaks.get("foreign_key") or breaks.get("no_column")
    case_key = (
        (["case_id"], ["cases.id"])
        if by_id_alone
        else (["district_id", "case_id"], ["cases.district_id", "cases.id"])
    )
    Table(
        "events",
        metadata,
        *([] if breaks.get("no_column") else [Column("district_id", Integer, primary_key=True)]),
        Column("id", Integer, primary_key=True),
        Column("case_id", Integer),
        ForeignKeyConstraint(*case_key),
    )
    Table(
        "tokens",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("region_id", Integer),
        Column("case_id", Integer),
        ForeignKeyConstraint(["region_id"], ["regions.id"]),
        *([ForeignKeyConstraint(["case_id"], ["cases.id"])] if breaks.get("local_to_distributed") else []),
    )
    if breaks.get("unplanned"):
        Table("notes", metadata, Column("id", Integer, primary_key=True))
    return metadata


def test_a_schema_that_keeps_the_rules_has_no_violations() -> None:
    assert violations(_toy(), TOY_PLAN) == set()


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ("unplanned", Violation(UNPLANNED, "notes", "notes")),
        ("no_column", Violation(NO_DISTRIBUTION_COLUMN, "events", "district_id")),
        ("mixed_types", Violation(MIXED_COLUMN_TYPES, "events", "district_id INTEGER")),
        ("primary_key", Violation(UNIQUE_WITHOUT_KEY, "cases", "pk_cases")),
        ("unique", Violation(UNIQUE_WITHOUT_KEY, "cases", "uq_cases_number")),
        ("unique_index", Violation(UNIQUE_WITHOUT_KEY, "cases", "ix_cases_number")),
        ("foreign_key", Violation(FOREIGN_KEY_WITHOUT_KEY, "events", "fk_events_case_id_cases")),
        (
            "reference_to_distributed",
            Violation(REFERENCE_TO_DISTRIBUTED, "regions", "fk_regions_case_id_cases"),
        ),
        ("local_to_distributed", Violation(LOCAL_AND_DISTRIBUTED, "tokens", "fk_tokens_case_id_cases")),
        ("distributed_to_local", Violation(LOCAL_AND_DISTRIBUTED, "cases", "fk_cases_token_id_tokens")),
    ],
)
def test_each_rule_fails_on_a_schema_that_breaks_it(broken: str, expected: Violation) -> None:
    assert expected in violations(_toy(**{broken: True}), TOY_PLAN)


def test_a_planned_table_that_does_not_exist_is_a_violation() -> None:
    plan = ShardingPlan(
        distributed={**TOY_PLAN.distributed, "gone": "district_id"},
        reference=TOY_PLAN.reference,
        local=TOY_PLAN.local,
    )
    assert violations(_toy(), plan) == {Violation(MISSING_TABLE, "gone", "gone")}
