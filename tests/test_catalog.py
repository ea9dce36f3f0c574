"""The category file: the shipped default tree, and the faults a centre's own file is refused for."""

from __future__ import annotations

import pytest

from civicgrid.catalog import (
    COLUMNS,
    CatalogError,
    CategorySpec,
    default_categories_path,
    load_categories,
    parse_categories,
)
from civicgrid.domain.limits import parse_limit
from civicgrid.domain.vocabulary import CaseKind, DepartmentFunction, Stage, Urgency

HEADER = (
    "big_code,big_name,code,name,kind,department_function,closure_standard,"
    "verify_limit,dispatch_limit,handle_limit,check_limit,"
    "urgent_verify_limit,urgent_dispatch_limit,urgent_handle_limit,urgent_check_limit"
)

GOOD_ROW = {
    "big_code": "C01",
    "big_name": "公用设施",
    "code": "C0101",
    "name": "上水井盖",
    "kind": "component",
    "department_function": "municipal",
    "closure_standard": "井盖已补齐",
    "verify_limit": "1h",
    "dispatch_limit": "30min",
    "handle_limit": "1wd",
    "check_limit": "2h",
    "urgent_verify_limit": "30min",
    "urgent_dispatch_limit": "10min",
    "urgent_handle_limit": "2h",
    "urgent_check_limit": "1h",
}


def row(**changes: str) -> str:
    """One CSV line: the good row with ``changes`` applied."""
    values = {**GOOD_ROW, **changes}
    return ",".join(values[column] for column in COLUMNS)


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join((header, *rows)) + "\n"


def refused(text: str) -> CatalogError:
    with pytest.raises(CatalogError) as info:
        parse_categories(text)
    return info.value


@pytest.fixture(scope="module")
def shipped() -> list[CategorySpec]:
    return load_categories(default_categories_path())


# --- the shipped file -------------------------------------------------------------------


def test_shipped_file_has_the_agreed_header() -> None:
    first_line = default_categories_path().read_text(encoding="utf-8").splitlines()[0]
    assert first_line == HEADER
    assert ",".join(COLUMNS) == HEADER


def test_shipped_file_parses_into_a_full_tree(shipped: list[CategorySpec]) -> None:
    assert 50 <= len(shipped) <= 100
    assert len({spec.code for spec in shipped}) == len(shipped)
    assert [spec.line for spec in shipped] == list(range(2, len(shipped) + 2))
    big_codes = {spec.big_code for spec in shipped}
    assert {"C01", "C02", "C03", "C04", "C05", "C06"} <= big_codes
    assert {"E01", "E02", "E03", "E04", "E05", "E06", "E07", "E08", "E09"} <= big_codes


def test_shipped_kinds_follow_the_code_prefix(shipped: list[CategorySpec]) -> None:
    for spec in shipped:
        expected = CaseKind.COMPONENT if spec.code.startswith("C") else CaseKind.EVENT
        assert spec.kind is expected, spec.code
        assert spec.code.startswith(spec.big_code), spec.code


def test_shipped_rows_name_a_valid_department_and_a_closure_standard(shipped: list[CategorySpec]) -> None:
    for spec in shipped:
        assert isinstance(spec.department_function, DepartmentFunction), spec.code
        assert spec.closure_standard, spec.code
    used = {spec.department_function for spec in shipped}
    assert {DepartmentFunction.URBAN_MANAGEMENT, DepartmentFunction.COMPREHENSIVE_GOVERNANCE} <= used


def test_shipped_limits_are_complete_and_parse(shipped: list[CategorySpec]) -> None:
    for spec in shipped:
        assert set(spec.limits) == {"normal", "urgent"}
        for urgency in Urgency:
            assert set(spec.limits[urgency.value]) == {stage.value for stage in Stage}
            for stage in Stage:
                parse_limit(spec.limit(stage, urgency))


@pytest.mark.parametrize(
    "keyword",
    [
        "井盖",
        "路灯",
        "道路破损",
        "暴露垃圾",
        "积存垃圾渣土",
        "垃圾满溢",
        "违法建设",
        "占道经营",
        "流动摊贩",
        "户外广告",
        "小广告",
        "群租",
        "无照",
        "安全隐患",
        "施工噪声",
        "社会生活噪声",
        "商业噪声",
        "纠纷",
        "消防栓",
        "交通信号灯",
        "护栏",
        "绿地",
        "行道树",
        "乱堆物堆料",
        "道路积水",
        "非机动车乱停放",
        "油烟",
        "渣土撒漏",
        "违规装修",
    ],
)
def test_shipped_file_covers_the_common_problems(shipped: list[CategorySpec], keyword: str) -> None:
    assert any(keyword in spec.name for spec in shipped), keyword


def test_shipped_manhole_covers_are_urgent_in_hours(shipped: list[CategorySpec]) -> None:
    covers = [spec for spec in shipped if "井盖" in spec.name]
    for utility in ("上水", "污水", "雨水", "电力", "通信"):
        assert any(spec.name.startswith(utility) for spec in covers), utility
    for spec in covers:
        assert spec.kind is CaseKind.COMPONENT
        assert spec.limit(Stage.HANDLE, Urgency.URGENT) in {"1h", "2h"}
        assert spec.limit(Stage.HANDLE, Urgency.NORMAL) != spec.limit(Stage.HANDLE, Urgency.URGENT)


def test_shipped_illegal_construction_takes_working_days(shipped: list[CategorySpec]) -> None:
    (spec,) = [spec for spec in shipped if spec.name == "违法建设"]
    assert spec.department_function is DepartmentFunction.URBAN_MANAGEMENT
    assert spec.limit(Stage.HANDLE).endswith("wd")


def test_shipped_disputes_go_to_mediation(shipped: list[CategorySpec]) -> None:
    disputes = [spec for spec in shipped if spec.name.endswith("纠纷")]
    assert len(disputes) >= 3
    assert any(spec.department_function is DepartmentFunction.COMPREHENSIVE_GOVERNANCE for spec in disputes)


# --- parsing a centre's own file --------------------------------------------------------


def test_a_good_row_becomes_a_spec() -> None:
    (spec,) = parse_categories(csv_text(row()))
    assert spec == CategorySpec(
        big_code="C01",
        big_name="公用设施",
        code="C0101",
        name="上水井盖",
        kind=CaseKind.COMPONENT,
        department_function=DepartmentFunction.MUNICIPAL,
        closure_standard="井盖已补齐",
        limits={
            "normal": {"verify": "1h", "dispatch": "30min", "handle": "1wd", "check": "2h"},
            "urgent": {"verify": "30min", "dispatch": "10min", "handle": "2h", "check": "1h"},
        },
        line=2,
    )


def test_blank_urgent_limits_take_the_normal_ones_and_blank_function_is_none() -> None:
    text = csv_text(
        row(
            department_function="",
            urgent_verify_limit="",
            urgent_dispatch_limit="",
            urgent_handle_limit="",
            urgent_check_limit="15min",
        )
    )
    (spec,) = parse_categories(text)
    assert spec.department_function is None
    assert spec.limits["urgent"] == {"verify": "1h", "dispatch": "30min", "handle": "1wd", "check": "15min"}


def test_load_accepts_a_byte_order_mark_and_quoted_commas(tmp_path) -> None:
    path = tmp_path / "categories.csv"
    path.write_text(csv_text(row(closure_standard='"补齐, 平整"')), encoding="utf-8-sig")
    (spec,) = load_categories(path)
    assert spec.code == "C0101"
    assert spec.closure_standard == "补齐, 平整"


def test_line_numbers_count_blank_lines_and_multiline_fields() -> None:
    text = csv_text(row(), "", row(code="C0102", closure_standard='"一行\n两行"'), row(code="C0103"))
    specs = parse_categories(text)
    assert [(spec.code, spec.line) for spec in specs] == [("C0101", 2), ("C0102", 4), ("C0103", 6)]
    assert specs[1].closure_standard == "一行\n两行"


# --- faults -----------------------------------------------------------------------------


def test_missing_header_column() -> None:
    header = HEADER.replace(",urgent_check_limit", "")
    error = refused(csv_text(header=header))
    assert error.line == 1
    assert str(error).startswith("line 1: ")
    assert "'urgent_check_limit'" in str(error)


def test_unknown_header_column() -> None:
    error = refused(csv_text(header=HEADER + ",remark"))
    assert error.line == 1
    assert str(error).startswith("line 1: ")
    assert "'remark'" in str(error)


def test_empty_file() -> None:
    error = refused("")
    assert error.line == 1


@pytest.mark.parametrize("column", ["code", "name", "big_code", "big_name"])
def test_empty_identifying_field(column: str) -> None:
    error = refused(csv_text(row(), row(**{"code": "C0102", column: ""})))
    assert error.line == 3
    assert error.column == column
    assert str(error).startswith(f"line 3: column '{column}'")


def test_unknown_kind() -> None:
    error = refused(csv_text(row(), row(code="C0102", kind="thing")))
    assert error.line == 3
    assert error.column == "kind"
    assert str(error).startswith("line 3: ")
    assert "'thing'" in str(error)


def test_unknown_department_function() -> None:
    error = refused(csv_text(row(code="C0102", department_function="fire_brigade")))
    assert error.line == 2
    assert error.column == "department_function"
    assert str(error).startswith("line 2: ")
    assert "'fire_brigade'" in str(error)


def test_duplicate_code() -> None:
    error = refused(csv_text(row(), row(code="C0102"), row(code="C0101", name="污水井盖")))
    assert error.line == 4
    assert error.column == "code"
    assert str(error).startswith("line 4: ")
    assert "'C0101'" in str(error)
    assert "line 2" in str(error)


@pytest.mark.parametrize("code", ["C0201", "C01"])
def test_code_must_extend_its_big_code(code: str) -> None:
    error = refused(csv_text(row(), row(code=code)))
    assert error.line == 3
    assert error.column == "code"
    assert f"'{code}'" in str(error)


def test_one_big_code_with_two_names() -> None:
    error = refused(csv_text(row(), row(code="C0102"), row(code="C0103", big_name="市政设施")))
    assert error.line == 4
    assert error.column == "big_name"
    assert str(error).startswith("line 4: ")
    assert "'市政设施'" in str(error)


def test_same_big_name_under_two_codes_is_fine() -> None:
    text = csv_text(
        row(big_code="C03", big_name="市容环境", code="C0301"),
        row(big_code="E01", big_name="市容环境", code="E0101", kind="event"),
    )
    assert [spec.kind for spec in parse_categories(text)] == [CaseKind.COMPONENT, CaseKind.EVENT]


@pytest.mark.parametrize(
    ("column", "value"),
    [("handle_limit", "3days"), ("verify_limit", "0h"), ("urgent_check_limit", "fast")],
)
def test_limit_that_does_not_parse(column: str, value: str) -> None:
    error = refused(csv_text(row(), row(**{"code": "C0102", column: value})))
    assert error.line == 3
    assert error.column == column
    assert str(error).startswith(f"line 3: column '{column}'")
    assert repr(value) in str(error)


def test_empty_normal_limit() -> None:
    error = refused(csv_text(row(dispatch_limit="")))
    assert error.line == 2
    assert error.column == "dispatch_limit"


def test_wrong_field_count() -> None:
    error = refused(csv_text(row(), row(code="C0102") + ",extra"))
    assert error.line == 3
    assert "16 fields" in str(error)
