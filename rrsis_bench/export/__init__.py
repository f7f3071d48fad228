"""Exporters: a built dataset as the files existing model code reads.

- ``refer``: ``<name>/refs(unc).p`` + ``<name>/instances.json`` + images (LAVT, RMSIN, FIANet);
- ``grefer``: ``<name>/grefs(unc).json`` + ``<name>/instances.json`` + images (G_REFER, ReLA);
- ``coco``: COCO instances per split + a referring-results example.

Readers hard-code dataset names and image folders; ``preset`` (``--as``) writes exactly what
they expect:

| preset     | format | folder      | images                           | splits           |
|------------|--------|-------------|----------------------------------|------------------|
| ``rrsisd`` | refer  | ``rrsisd``  | ``images/rrsisd/JPEGImages``     | train/val/test   |
| ``refcoco``| refer  | ``refcoco`` | ``images/mscoco/images/train2014`` | train/val/test |
| ``grefcoco``| grefer | ``grefcoco``| ``images/train2014``            | test -> testA    |

Every export is written to a temporary sibling folder and swapped in when complete; its top
folder holds ``rrsis_bench_export.json`` (what was written, what was left out, and the map from
the export's integer sentence ids back to rrsis-bench sample ids).

Example:
    >>> from rrsis_bench.export import export                          # doctest: +SKIP
    >>> r = export("rrsis-d", "refer", "~/data/refer", preset="rrsisd")  # doctest: +SKIP
    >>> r.skipped, r.counts["test"]                                     # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rrsis_bench.errors import UnknownNameError
from rrsis_bench.export.common import EXPORT_MARKER, ExportPlan, ExportResult, atomic_output
from rrsis_bench.expressions import ExpressionView
from rrsis_bench.store import open_dataset
from rrsis_bench.validate import dumps

FORMATS: tuple[str, ...] = ("refer", "grefer", "coco")
SEGMENTATION_MODES: tuple[str, ...] = ("rle", "polygon")


@dataclass(frozen=True)
class Preset:
    """The names and paths one existing reader hard-codes."""

    format: str
    name: str
    image_dir: str
    split_names: dict[str, str] = field(default_factory=dict)
    reader: str = ""


PRESETS: dict[str, Preset] = {
    "rrsisd": Preset(
        "refer", "rrsisd", "images/rrsisd/JPEGImages", reader="RMSIN refer/refer.py REFER"
    ),
    "refcoco": Preset(
        "refer", "refcoco", "images/mscoco/images/train2014", reader="LAVT refer/refer.py REFER"
    ),
    "grefcoco": Preset(
        "grefer",
        "grefcoco",
        "images/train2014",
        {"test": "testA"},
        reader="gRefCOCO grefer.py G_REFER and ReLA register_grefcoco",
    ),
}

__all__ = ["FORMATS", "PRESETS", "ExportResult", "Preset", "export"]


def _default_name(dataset: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", dataset) or "dataset"


def export(
    dataset: str | Path,
    format: str | None,
    out: str | Path,
    *,
    preset: str | None = None,
    splits: Sequence[str] | None = None,
    name: str | None = None,
    segmentation: str | None = None,
    split_names: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export a built dataset to REFER, gRefCOCO or COCO files.

    Args:
        dataset: A registered dataset name or a build folder.
        format: ``refer``, ``grefer`` or ``coco``; may be ``None`` when ``preset`` is given.
        out: The export folder (created; replaced only with ``overwrite``).
        preset: ``rrsisd``, ``refcoco`` or ``grefcoco``: the names and paths that reader expects.
        splits: Splits to export (default: every split of the build).
        name: Dataset folder name inside the export (default: the preset's, else the dataset's).
        segmentation: ``rle`` (one RLE per annotation) or ``polygon`` (exact rectangles);
            default ``rle`` for refer, ``polygon`` for grefer (ReLA's loader needs polygons).
        split_names: Rename splits in the export (``{"test": "testA"}``).
        overwrite: Replace an earlier export at ``out``.

    Returns:
        What was written, with counts per split and the expressions left out.

    Raises:
        UnknownNameError: For an unknown format, preset, segmentation mode or split.
        OutputExistsError: If ``out`` holds something and ``overwrite`` is false.
        DatasetNotFoundError: If the build does not exist.
    """
    p = None
    if preset is not None:
        if preset not in PRESETS:
            raise UnknownNameError("--as preset", preset, list(PRESETS))
        p = PRESETS[preset]
        if format is not None and format != p.format:
            raise UnknownNameError(f"format for --as {preset}", format, [p.format])
        format = p.format
    if format not in FORMATS:
        raise UnknownNameError("export format", str(format), FORMATS)
    mode = segmentation or ("polygon" if format == "grefer" else "rle")
    if mode not in SEGMENTATION_MODES:
        raise UnknownNameError("segmentation", mode, SEGMENTATION_MODES)
    ds = open_dataset(dataset)
    wanted = [ds.check_split(s) for s in splits] if splits else list(ds.splits)
    folder = name or (p.name if p else _default_name(ds.name))
    image_dir = (
        p.image_dir
        if p
        else ("images/train2014" if format == "grefer" else f"images/{folder}/JPEGImages")
    )
    renames = dict(p.split_names if p else {})
    renames.update(split_names or {})
    plan = ExportPlan(ExpressionView(ds, wanted))
    out_path = Path(out).expanduser()
    with atomic_output(out_path, overwrite) as tmp:
        if format == "refer":
            from rrsis_bench.export.refer import write_refer

            result = write_refer(plan, tmp, folder, image_dir, mode=mode, split_names=renames)
        elif format == "grefer":
            from rrsis_bench.export.grefer import write_grefer

            result = write_grefer(plan, tmp, folder, image_dir, mode=mode, split_names=renames)
        else:
            from rrsis_bench.export.coco import write_coco

            result = write_coco(plan, tmp)
        if renames and format != "coco":
            renamed = ", ".join(f"{a} -> {b}" for a, b in sorted(renames.items()) if a in wanted)
            if renamed:
                result.notes.append(f"splits renamed for the reader: {renamed}")
        if p is not None:
            result.notes.append(f"names and paths as {p.reader} expects")
        marker = {
            "schema": "rrsis-bench/export/1",
            "dataset": ds.name,
            "segmentation": mode if format != "coco" else "rle",
            "preset": preset,
            "splits": wanted,
            **result.to_dict(),
        }
        (tmp / EXPORT_MARKER).write_text(dumps(marker), encoding="utf-8")
    result.path = out_path.absolute()
    return result
