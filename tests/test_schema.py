from __future__ import annotations

import pytest

from rrsis_bench.errors import UnknownNameError
from rrsis_bench.schema import (
    FEATURES,
    SAMPLE_ID_PATTERN,
    detect_language,
    make_sample_id,
    natural_key,
    normalize_sentence,
    normalize_split,
    size_bin,
)


def test_features_columns_in_documented_order() -> None:
    assert list(FEATURES) == [
        "image_id",
        "image",
        "width",
        "height",
        "split",
        "file_name",
        "objects",
        "expressions",
    ]
    expr = FEATURES["expressions"].feature
    assert list(expr) == [
        "sample_id",
        "text",
        "language",
        "target_type",
        "ref_key",
        "object_ids",
        "categories",
        "mask",
        "area",
        "provenance",
        "flags",
    ]
    assert expr["target_type"].names == ["single", "multi", "none"]


def test_split_names() -> None:
    assert [normalize_split(s) for s in ("train", "Validation", "val", "TEST ")] == [
        "train",
        "val",
        "val",
        "test",
    ]
    with pytest.raises(
        UnknownNameError, match="Expected split to be one of train, val, test, but got 'testA'"
    ):
        normalize_split("testA")


def test_language_and_normalisation() -> None:
    assert detect_language("The vehicle on the left") == "en"
    assert detect_language("左边的车") == "zh"
    assert detect_language("左边的 car") == "mixed"
    assert detect_language("123 !") == "other"
    assert normalize_sentence(" all\u3000\u3000cars\r\n") == "all cars"
    assert normalize_sentence("ｃａｒ") == "car"  # NFKC folds full-width letters
    assert normalize_sentence("All Cars") == "All Cars"


def test_sample_ids() -> None:
    for sid in (make_sample_id("Train_14703_0"), make_sample_id(12, 3), make_sample_id("_x y")):
        assert SAMPLE_ID_PATTERN.match(sid), sid
    assert make_sample_id("_x y") == "x_x_y"
    assert sorted(["10", "9", "100-2", "100-10"], key=natural_key) == ["9", "10", "100-2", "100-10"]


def test_size_bins() -> None:
    assert size_bin(9, 100, 100) == "<0.1%"
    assert size_bin(10, 100, 100) == "0.1-1%"
    assert size_bin(100, 100, 100) == "1-10%"
    assert size_bin(1000, 100, 100) == ">=10%"
    assert size_bin(0, 100, 100, "none") == "none"
