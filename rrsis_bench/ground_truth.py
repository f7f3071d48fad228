"""Ground truth for scoring: the scored expressions of a built dataset, streamed in dataset order.

Only the annotation columns are read (never image bytes), and only the sample being scored
holds its mask. Exclusion lists (``--exclude rsrefseg2|dicor``) and a protocol's sample policy
(first sentence of each ref) set samples aside; what was set aside is recorded.
:func:`verify_ground_truth` checks the scored splits' shards against the sha256 that the
manifest records, so a report's ``gt_sha256`` describes the ground truth actually scored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rrsis_bench.errors import DatasetNotFoundError, IntegrityError, UnknownNameError
from rrsis_bench.images import sha256_file
from rrsis_bench.progress import track
from rrsis_bench.schema import TARGET_TYPES, size_bin
from rrsis_bench.store import BuiltDataset

EXCLUSION_LISTS: dict[str, str] = {"rsrefseg2": "excluded_rsrefseg2", "dicor": "excluded_dicor"}
"""``--exclude`` name → the flag the builders set on the listed expressions."""

_GT_COLUMNS = ["image_id", "width", "height", "expressions"]


@dataclass(frozen=True)
class GtSample:
    """What scoring needs of one ground-truth expression (``rle`` is dropped once scored)."""

    sample_id: str
    split: str
    rle: dict[str, Any] | None
    target_type: str
    categories: tuple[str, ...]
    size_bin: str
    ref_key: str

    @property
    def gt_empty(self) -> bool:
        """True for a no-target expression."""
        return self.target_type == "none"

    @property
    def mask(self) -> dict[str, Any]:
        """The ground-truth RLE (only while the sample is being scored)."""
        if self.rle is None:
            raise ValueError(f"sample {self.sample_id}: its mask was dropped after scoring")
        return self.rle


@dataclass
class GroundTruth:
    """The scored samples (in dataset order), every id seen, and the ids set aside."""

    samples: list[GtSample] = field(default_factory=list)
    known_ids: set[str] = field(default_factory=set)
    set_aside: dict[str, str] = field(default_factory=dict)
    excluded: dict[str, Any] = field(default_factory=dict)


def iter_ground_truth(
    ds: BuiltDataset,
    splits: Sequence[str],
    gt: GroundTruth,
    *,
    exclude: Sequence[str] = (),
    sample_policy: str = "every-sentence",
) -> Iterator[GtSample]:
    """Stream the scored expressions of ``splits`` in dataset order (annotation columns only).

    ``gt`` is filled on the way: every id seen, the ids set aside (exclusion lists, sample
    policy) and the exclusion counts. Only the sample being yielded holds its mask.

    Args:
        ds: The built dataset.
        splits: Canonical split names.
        gt: Receives what is learnt while streaming (``samples`` is left to the caller).
        exclude: Exclusion lists (``rsrefseg2``, ``dicor``): expressions carrying the list's
            flag are set aside.
        sample_policy: ``first-sentence-per-ref`` keeps the first expression of each ``ref_key``.

    Raises:
        UnknownNameError: If an exclusion list is unknown.
    """
    for name in exclude:
        if name not in EXCLUSION_LISTS:
            raise UnknownNameError("exclusion list", name, list(EXCLUSION_LISTS))
    flags = {EXCLUSION_LISTS[name]: name for name in exclude}
    gt.excluded = {name: {"flag": EXCLUSION_LISTS[name], "n_samples": 0} for name in exclude}
    seen_refs: set[tuple[str, str]] = set()
    for split in splits:
        for row in ds.iter_rows(split, columns=_GT_COLUMNS):
            for e in row["expressions"]:
                sid = e["sample_id"]
                gt.known_ids.add(sid)
                hit = [flags[f] for f in e["flags"] if f in flags]
                if hit:
                    for name in hit:
                        gt.excluded[name]["n_samples"] += 1
                    gt.set_aside[sid] = f"excluded by --exclude {hit[0]}"
                    continue
                tt = e["target_type"]
                target_type = TARGET_TYPES[tt] if isinstance(tt, int) else str(tt)
                ref = (split, e["ref_key"] or sid)
                if sample_policy == "first-sentence-per-ref":
                    if ref in seen_refs:
                        gt.set_aside[sid] = "not the first sentence of its ref (sample policy)"
                        continue
                    seen_refs.add(ref)
                h, w = int(e["mask"]["size"][0]), int(e["mask"]["size"][1])
                yield GtSample(
                    sid,
                    split,
                    {"size": [h, w], "counts": e["mask"]["counts"]},
                    target_type,
                    tuple(e["categories"]),
                    size_bin(int(e["area"]), h, w, target_type),
                    ref[1],
                )


def read_ground_truth(
    ds: BuiltDataset,
    splits: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    sample_policy: str = "every-sentence",
) -> GroundTruth:
    """All scored expressions of ``splits`` with their masks (see :func:`iter_ground_truth`)."""
    gt = GroundTruth()
    gt.samples = list(
        iter_ground_truth(ds, splits, gt, exclude=exclude, sample_policy=sample_policy)
    )
    return gt


def verify_ground_truth(
    ds: BuiltDataset, splits: Sequence[str], *, progress: bool | None = None
) -> None:
    """Check every shard of ``splits`` against the sha256 recorded in the manifest.

    Each shard is hashed in chunks (image bytes included, since they share the file), and each
    split's ``gt_sha256`` is checked against the shard hashes it is made of.

    Args:
        ds: The built dataset.
        splits: Canonical split names.
        progress: Show a progress bar (``None``: the process-wide setting).

    Raises:
        IntegrityError: If a shard was modified or damaged since the build, or the manifest's
            hashes do not agree with each other (the message names the file).
        DatasetNotFoundError: If a shard is missing.
    """
    rebuild = f"rebuild it (`rrsis-bench build {ds.name} --raw DIR --out {ds.path} --overwrite`)"
    recorded: dict[str, str] = ds.manifest.get("shards", {})
    jobs: list[tuple[str, str, str]] = []
    for split in splits:
        rels = list(ds.manifest["splits"][split]["shards"])
        for rel in rels:
            if rel not in recorded:
                raise IntegrityError(
                    f"the manifest records no sha256 for shard {rel} of split {split}; {rebuild}",
                    ds.path / "manifest.json",
                )
            jobs.append((split, rel, recorded[rel]))
        joined = "\n".join(recorded[rel] for rel in rels).encode()
        if hashlib.sha256(joined).hexdigest() != ds.gt_sha256(split):
            raise IntegrityError(
                f"the gt_sha256 of split {split} does not match the sha256 of its shards, so the "
                f"manifest was edited; {rebuild}",
                ds.path / "manifest.json",
            )
    for split, rel, want in track(jobs, "verifying shards", len(jobs), progress):
        path = ds.path / rel
        if not path.is_file():
            raise DatasetNotFoundError(f"{path}: shard of split {split} is missing; {rebuild}")
        got = sha256_file(path)
        if got != want:
            raise IntegrityError(
                f"shard of split {split} was modified or damaged since the build (sha256 "
                f"{got[:12]}…, the manifest records {want[:12]}…); {rebuild}, or pass "
                "--no-verify to score it anyway",
                path,
            )
