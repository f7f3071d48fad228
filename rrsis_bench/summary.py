"""What a built dataset holds: counts, categories, target types, mask sizes, validation.

``rrsis-bench info <dataset or folder>`` prints this; it reads annotation columns only.

Example:
    >>> from rrsis_bench.summary import dataset_summary     # doctest: +SKIP
    >>> dataset_summary("refsegrs")["splits"]["val"]["expressions"]  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from rrsis_bench.schema import SIZE_BIN_LABELS, TARGET_TYPES, size_bin
from rrsis_bench.store import open_dataset


def dataset_summary(name_or_path: str | Path) -> dict[str, Any]:
    """Summarise a built dataset (annotation columns only; no image bytes are read).

    Returns:
        ``{"name", "path", "format_version", "toolkit_version", "splits": {split: {...}},
        "categories": {category: expressions}, "languages": {...}, "flags": {...},
        "validation": {"error", "warning", "info"}, "rules": {...}}``.
    """
    ds = open_dataset(name_or_path)
    splits: dict[str, Any] = {}
    categories: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    for split in ds.splits:
        tt: Counter[str] = Counter()
        sizes: Counter[str] = Counter()
        n_img = n_expr = n_obj = 0
        for row in ds.iter_rows(
            split, columns=["width", "height", "objects", "expressions"], batch_size=256
        ):
            n_img += 1
            n_obj += len(row["objects"])
            for obj in row["objects"]:
                flags.update(obj["flags"])
            for e in row["expressions"]:
                n_expr += 1
                ttype = TARGET_TYPES[e["target_type"]]
                tt[ttype] += 1
                h, w = e["mask"]["size"]
                sizes[size_bin(e["area"], h, w, ttype)] += 1
                categories.update(set(e["categories"]) or {"(none)"})
                languages[e["language"]] += 1
                flags.update(e["flags"])
        splits[split] = {
            "images": n_img,
            "expressions": n_expr,
            "objects": n_obj,
            "target_types": {t: tt.get(t, 0) for t in TARGET_TYPES},
            "mask_size": {b: sizes.get(b, 0) for b in SIZE_BIN_LABELS},
        }
    validation = ds.validation()
    return {
        "name": ds.name,
        "path": str(ds.path),
        "format_version": ds.manifest["format_version"],
        "toolkit_version": ds.manifest["toolkit_version"],
        "splits": splits,
        "categories": dict(sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))),
        "languages": dict(sorted(languages.items())),
        "flags": dict(sorted(flags.items())),
        "validation": validation.get("summary", {}),
        "rules": validation.get("rules", {}),
    }
