"""Scoring one candidate (alerts.matching.scoring): names token by token."""

from __future__ import annotations

import pytest

from alerts.config import Links, Matching
from alerts.matching.scoring import _compare_tokens, _split_joined, _Tuned

TUNED = _Tuned(Matching(), Links())


def flat(_: str) -> float:
    return 4.0


def test_a_name_written_as_one_word_is_split_as_the_other_side_writes_it() -> None:
    assert _split_joined(("thanhtung", "nguyen"), ("thanh", "tung", "nguyen")) == (
        ("thanh", "tung", "nguyen"),
        ("thanh", "tung", "nguyen"),
    )
    assert _compare_tokens(("thanhtung", "nguyen"), ("thanh", "tung", "nguyen"), TUNED, flat).full == 3


def test_a_different_name_on_each_side_costs_more_than_a_dropped_middle_name() -> None:
    dropped = _compare_tokens(("ardit", "hoxha"), ("ardit", "besnik", "hoxha"), TUNED, flat)
    different = _compare_tokens(("kristi", "hoxha"), ("ardit", "hoxha"), TUNED, flat)
    assert not dropped.conflict and different.conflict
    weights = Matching().weights
    expected = 4.0 - weights.name_unmatched_reported - weights.name_unmatched_profile - weights.name_conflict
    assert different.points == pytest.approx(expected)


def test_a_short_form_pairs_for_part_of_the_name_bits() -> None:
    found = _compare_tokens(("jess", "smith"), ("jessica", "smith"), TUNED, flat)
    assert found.full == 2 and 4.0 < found.points < 8.0


def test_the_pairing_is_shared_but_the_bits_are_those_of_each_comparison() -> None:
    # The pairing of names is worked out once per pair of forms; what they earn is not: a name rare in
    # one nationality and common in another is paid each its own share.
    rare = _compare_tokens(("senait", "tesfay"), ("senait", "tesfay"), TUNED, lambda _: 6.0)
    common = _compare_tokens(("senait", "tesfay"), ("senait", "tesfay"), TUNED, lambda _: 1.0)
    assert rare.full == common.full == 2 and rare.pairs == common.pairs
    assert rare.points > common.points
    # Nor is the result shared between calls: one comparison's record is its own.
    rare.pairs.append(("x", "y", 1.0))
    assert _compare_tokens(("senait", "tesfay"), ("senait", "tesfay"), TUNED, flat).pairs == common.pairs


def test_a_vietnamese_van_or_thi_left_unpaired_on_either_side_costs_nothing() -> None:
    # Văn and Thị are middle names most Vietnamese boys and girls carry; records keep or drop them.
    full = _compare_tokens(("cuong", "nguyen"), ("cuong", "nguyen"), TUNED, flat)
    assert _compare_tokens(("cuong", "nguyen"), ("van", "cuong", "nguyen"), TUNED, flat).points == full.points
    trang = _compare_tokens(("trang", "dang"), ("trang", "dang"), TUNED, flat)
    assert _compare_tokens(("thi", "trang", "dang"), ("trang", "dang"), TUNED, flat).points == trang.points
    # In the place of another middle name it is a name like any other: a different name on each side.
    assert _compare_tokens(("duc", "tuan", "pham"), ("van", "tuan", "pham"), TUNED, flat).conflict
    # Any other middle name dropped still costs what it did.
    dropped = _compare_tokens(("cuong", "nguyen"), ("minh", "cuong", "nguyen"), TUNED, flat)
    assert dropped.points == pytest.approx(full.points - Matching().weights.name_unmatched_profile)
