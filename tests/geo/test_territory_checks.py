"""The checks of a territory file, one test per error, and the repairs of --repair."""

from __future__ import annotations

from typing import Any

import pytest

from civicgrid.geo.territory_checks import Checked, check_territory
from civicgrid.geo.territory_file import read_territory
from tests.geo.territory_data import box, encoded, feature, small_territory, spoiled


def checked(document: dict[str, Any], tolerance: float = 1.0, repair: bool = False) -> Checked:
    return check_territory(read_territory(encoded(document), "t.geojson", 10**8), tolerance, repair)


def errors(document: dict[str, Any], **options: Any) -> list[str]:
    return [str(problem) for problem in checked(document, **options).errors]


def with_features(*extra: dict[str, Any]) -> dict[str, Any]:
    document = small_territory()
    document["features"].extend(extra)
    return document


def test_the_small_territory_passes_every_check() -> None:
    result = checked(small_territory())
    assert (result.errors, result.warnings, result.repairs) == ([], [], [])


@pytest.mark.parametrize(
    ("index", "changes", "expected"),
    [
        (4, {"level": "block"}, "unknown level 'block': give one of district, street, community, grid"),
        (4, {"kind": "special"}, "unknown kind 'special': give one of comprehensive, dedicated, overlay"),
        (4, {"kind": None}, "unknown kind None"),
        (4, {"code": ""}, "no code"),
        (4, {"name": " "}, "no name"),
        (4, {"parent": None}, "a grid needs a parent (community)"),
        (4, {"parent": "nowhere"}, "unknown parent 'nowhere': no feature of the file has that code"),
        (4, {"parent": "990201001"}, "parent '990201001' is a street; a grid's is a community"),
        (0, {"parent": "990201001"}, "parent '990201001' leads back to '990201': a cycle"),
        (2, {"kind": "comprehensive"}, "kind, overlay_group, inspectors and leader belong to grids"),
        (4, {"geometry": None}, "a grid needs a boundary (geometry is null)"),
        (4, {"name": 12.5}, "name must be text, not float"),
    ],
    ids=[
        "unknown-level",
        "unknown-kind",
        "no-kind",
        "no-code",
        "no-name",
        "no-parent",
        "unknown-parent",
        "wrong-parent-level",
        "cycle",
        "kind-on-region",
        "grid-without-boundary",
        "property-type",
    ],
)
def test_each_error_names_the_feature(index: int, changes: dict[str, Any], expected: str) -> None:
    found = errors(spoiled(index, **changes))
    assert any(e.startswith(f"feature {index} (") and expected in e for e in found), found


def test_a_district_with_a_parent_is_an_error() -> None:
    document = with_features(feature("990202", "另一区", "district", None, box(121.50, 31.20, 121.52, 31.22)))
    document["features"][0]["properties"]["parent"] = "990202"
    assert "feature 0 (990201): a district is the top of the tree and has no parent" in errors(document)


def test_duplicate_codes_name_both_features() -> None:
    found = errors(spoiled(5, code="990201001001-01"))
    assert "feature 5 (990201001001-01): duplicate code: feature 4 has it too" in found


def test_coordinates_outside_china_are_likely_swapped() -> None:
    swapped = {
        "type": "Polygon",
        "coordinates": [[[y, x] for x, y in box(121.40, 31.20, 121.41, 31.22)["coordinates"][0]]],
    }
    found = errors(spoiled(4, geometry=swapped))
    assert any(
        e.startswith("feature 4 (990201001001-01): coordinates from (31.2, 121.4)") and "swapped?" in e
        for e in found
    ), found
    far = errors(spoiled(4, geometry=box(-70.0, 40.0, -69.9, 40.1)))
    assert any("outside China" in e and "swapped" not in e for e in far)


BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[121.40, 31.20], [121.41, 31.22], [121.41, 31.20], [121.40, 31.22], [121.40, 31.20]]],
}


def test_a_self_intersecting_polygon_is_an_error() -> None:
    found = errors(spoiled(4, geometry=BOWTIE))
    assert any(e.startswith("feature 4 (990201001001-01): invalid polygon: Self-intersection") for e in found)


def test_repair_refuses_to_split_a_one_area_grid_in_two() -> None:
    found = errors(spoiled(4, geometry=BOWTIE), repair=True)
    assert any("made valid it would fall into 2 separate areas" in e for e in found), found


def test_repair_makes_a_spiked_polygon_valid_and_reports_it() -> None:
    # A ring that doubles back along its south edge: invalid, and one area once made valid.
    ring = [
        [121.40, 31.20],
        [121.405, 31.20],
        [121.403, 31.20],
        [121.41, 31.20],
        [121.41, 31.22],
        [121.40, 31.22],
        [121.40, 31.20],
    ]
    result = checked(spoiled(4, geometry={"type": "Polygon", "coordinates": [ring]}), repair=True)
    assert result.errors == []
    assert len(result.repairs) == 1 and result.repairs[0].code == "990201001001-01"
    assert "made valid" in result.repairs[0].message
    assert result.features[4].geometry.is_valid


def test_a_grid_not_inside_its_community_is_an_error_beyond_the_tolerance() -> None:
    # 0.0001° of longitude is about 9.5 m at 31.2° N.
    wide = spoiled(4, geometry=box(121.3999, 31.20, 121.41, 31.22))
    found = errors(wide)
    assert any(
        e.startswith("feature 4 (990201001001-01): not inside its parent '990201001001'")
        and "m² lie outside" in e
        for e in found
    ), found
    assert not any("not inside" in e for e in errors(wide, tolerance=20.0))
    assert not any(
        "not inside" in e for e in errors(spoiled(4, geometry=box(121.399995, 31.20, 121.41, 31.22)))
    )


def test_overlapping_comprehensive_grids_are_an_error_with_the_area() -> None:
    # Grid 2 reaches 0.001° (about 95 m) into grid 1 along its 2.2 km height.
    result = checked(spoiled(5, geometry=box(121.409, 31.20, 121.42, 31.22)))
    overlaps = [p for p in result.errors if "overlaps" in p.message]
    assert len(overlaps) == 1 and overlaps[0].index == 5
    assert "overlaps '990201001001-01' (feature 4)" in overlaps[0].message
    assert overlaps[0].area_m2 == pytest.approx(0.001 * 95_100 * 0.02 * 111_195, rel=0.01)


def test_a_sliver_narrower_than_the_tolerance_is_no_overlap() -> None:
    assert errors(spoiled(5, geometry=box(121.409995, 31.20, 121.42, 31.22))) == []


def test_dedicated_and_overlay_grids_may_overlap_the_cover() -> None:
    assert errors(spoiled(7, geometry=box(121.405, 31.205, 121.415, 31.215))) == []


def test_overlapping_regions_of_one_level_are_an_error() -> None:
    found = checked(spoiled(3, geometry=box(121.41, 31.20, 121.44, 31.22))).errors
    assert any(p.index == 3 and "overlaps '990201001001' (feature 2)" in p.message for p in found), found


def test_repair_gives_an_overlap_to_the_larger_neighbour() -> None:
    result = checked(spoiled(5, geometry=box(121.409, 31.20, 121.42, 31.22)), repair=True)
    assert [p.message for p in result.errors] == []
    (repair,) = result.repairs
    assert (repair.index, repair.code) == (4, "990201001001-01")  # the smaller one is cut
    assert "given to '990201001001-02', cut from '990201001001-01'" in repair.message
    assert repair.area_m2 == pytest.approx(0.001 * 95_100 * 0.02 * 111_195, rel=0.01)
    assert result.features[4].geometry.bounds[2] == pytest.approx(121.409, abs=1e-9)


def test_repair_gives_an_equal_overlap_to_the_first_listed() -> None:
    document = spoiled(5, geometry=box(121.409, 31.20, 121.419, 31.22))
    document["features"][4]["geometry"] = box(121.40, 31.20, 121.41, 31.22)
    result = checked(document, repair=True)
    assert [r.code for r in result.repairs] == ["990201001001-02"]


def test_a_gap_in_the_cover_is_a_warning_with_its_area() -> None:
    result = checked(spoiled(5, geometry=box(121.41, 31.20, 121.42, 31.21)))
    assert result.errors == []
    (gap,) = result.warnings
    assert (gap.index, gap.code) == (2, "990201001001")
    assert "its comprehensive grids leave" in gap.message
    assert gap.area_m2 == pytest.approx(0.01 * 95_100 * 0.01 * 111_195, rel=0.01)


def test_regions_without_boundaries_pass_the_geometric_checks() -> None:
    document = {"type": "FeatureCollection", "features": [f for f in small_territory()["features"][:4]]}
    for region in document["features"]:
        region["geometry"] = None
    assert checked(document).errors == []


def test_a_polygon_with_no_area_is_an_error_that_repair_cannot_fix() -> None:
    flat = {
        "type": "Polygon",
        "coordinates": [[[121.40, 31.20], [121.41, 31.21], [121.405, 31.205], [121.40, 31.20]]],
    }
    found = errors(spoiled(4, geometry=flat), repair=True)
    assert any(
        e.startswith("feature 4 (990201001001-01): the polygon has no area to speak of") for e in found
    )
    back_and_forth = [[121.40, 31.20], [121.41, 31.20], [121.40, 31.20], [121.41, 31.20], [121.40, 31.20]]
    found = errors(spoiled(4, geometry={"type": "Polygon", "coordinates": [back_and_forth]}), repair=True)
    assert any("nothing polygonal is left once made valid" in e for e in found), found


def test_repair_leaves_an_overlap_that_would_split_a_grid_as_an_error() -> None:
    # Grid 2, the larger, crosses grid 1 from side to side: cutting it would leave two pieces.
    result = checked(spoiled(5, geometry=box(121.40, 31.205, 121.42, 31.216)), repair=True)
    assert result.repairs == []
    assert any(p.index == 5 and "overlaps '990201001001-01'" in p.message for p in result.errors)


def test_a_file_without_a_district_is_refused() -> None:
    found = checked({"type": "FeatureCollection", "features": []}).errors
    assert [str(p) for p in found] == ["the file has no district: a territory is a tree under a district"]
    assert found[0].as_dict() == {"index": None, "code": None, "message": found[0].message}
