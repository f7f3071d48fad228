"""The dataset card (``README.md``) of a built dataset.

Its YAML header declares one ``configs`` entry whose splits point at the parquet shards, so
``datasets.load_dataset(<built dir>)`` returns the splits; the body states licence, citation,
counts, evaluation protocol and the validation summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from rrsis_bench.schema import FORMAT_VERSION, SPLITS, features

_SPDX_TO_HF = {"CC-BY-4.0": "cc-by-4.0", "CC-BY-NC-4.0": "cc-by-nc-4.0", "Apache-2.0": "apache-2.0"}


@dataclass(frozen=True)
class CardInfo:
    """What the card says about the source dataset."""

    name: str
    title: str
    licence: str
    citation: str
    homepage: str
    description: str
    protocol: str


def features_yaml() -> list[dict[str, Any]]:
    """The format-v1 features in the Hub's ``dataset_info`` YAML form."""
    yaml_list: list[dict[str, Any]] = features()._to_yaml_list()
    return yaml_list


def render_card(
    info: CardInfo,
    splits: Mapping[str, Mapping[str, Any]],
    validation: Mapping[str, Any],
    toolkit_version: str,
    config_name: str = "default",
    data_dir: str = "data",
) -> str:
    """Render the card text (deterministic for the same inputs).

    Args:
        info: Source dataset facts.
        splits: Per split: ``images``, ``expressions``, ``objects``, ``target_types``, ``num_bytes``.
        validation: ``{"summary": {...}, "rules": {...}}`` from the validation report.
        toolkit_version: rrsis-bench version that wrote the build.
        config_name: YAML config name (``default`` for a single build).
        data_dir: Folder of the shards, relative to the card.
    """
    ordered = [s for s in SPLITS if s in splits]
    licence = _SPDX_TO_HF.get(info.licence, "other")
    header: dict[str, Any] = {
        "pretty_name": info.title,
        "license": licence,
    }
    if licence == "other":
        header["license_name"] = info.licence
    header.update(
        {
            "task_categories": ["image-segmentation"],
            "tags": ["remote-sensing", "referring-segmentation", "rrsis", "rrsis-bench"],
            "configs": [
                {
                    "config_name": config_name,
                    "data_files": [
                        {"split": s, "path": f"{data_dir}/{s}-*.parquet"} for s in ordered
                    ],
                }
            ],
            "dataset_info": {
                "config_name": config_name,
                "features": features_yaml(),
                "splits": [
                    {
                        "name": s,
                        "num_bytes": int(splits[s].get("num_bytes", 0)),
                        "num_examples": int(splits[s]["images"]),
                    }
                    for s in ordered
                ],
            },
        }
    )
    front = yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=100)
    rows = "\n".join(
        f"| {s} | {splits[s]['images']:,} | {splits[s]['expressions']:,} | {splits[s]['objects']:,} | "
        + " / ".join(
            f"{splits[s]['target_types'].get(t, 0):,}" for t in ("single", "multi", "none")
        )
        + " |"
        for s in ordered
    )
    summary = validation.get("summary", {})
    rules = validation.get("rules", {})
    rule_rows = (
        "\n".join(f"| `{rid}` | {r['severity']} | {r['count']:,} |" for rid, r in rules.items())
        or "| (none) | | |"
    )
    return f"""---
{front}---

# {info.title} — rrsis-bench format v{FORMAT_VERSION}

{info.description}

Built from a raw release in the source's layout by rrsis-bench {toolkit_version}; the image files are stored
unchanged, annotations are converted to one row per image with nested `objects` and
`expressions` (masks as COCO RLE with string counts). See `manifest.json` for the sha256 of every
raw file read and every shard written, and `validation.json` for every validation finding.

- Source: {info.homepage}
- Licence of the source data: {info.licence}

## Counts

| split | images | expressions | objects | single / multi / none |
|---|---|---|---|---|
{rows}

## Evaluation protocol

{info.protocol}

Score predictions with `rrsis-bench score PRED --dataset <this folder> --split test`; the default
`native` protocol scores at each ground-truth mask's own size and prints oIoU (= cIoU) and
mIoU (= gIoU) with Pr@0.5–0.9.

## Validation summary

{summary.get("error", 0)} errors, {summary.get("warning", 0)} warnings, {summary.get("info", 0)} info.

| rule | severity | findings |
|---|---|---|
{rule_rows}

## Loading

```python
import rrsis_bench
ds = rrsis_bench.load("<this folder>")      # DatasetDict, no copy into the datasets cache
row = ds["{ordered[0] if ordered else "train"}"][0]
row["expressions"][0]["text"], row["expressions"][0]["mask"]
```

`datasets.load_dataset("<this folder>")` also works; it first copies the shards into its cache.

## Citation

```bibtex
{info.citation.strip()}
```
"""
