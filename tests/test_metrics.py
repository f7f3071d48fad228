"""Metric tests: every protocol against an independent re-implementation (tests/data/scoring/reference.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from data.scoring import reference as ref
from data.scoring.data import GtCase, PredCase, edge_cases, write_gt_dataset

from rrsis_bench.errors import UnknownNameError
from rrsis_bench.metrics import (
    CountArrays,
    MetricAccumulator,
    SampleCounts,
    compute_metrics,
    count_masks,
    get_protocol,
    list_protocols,
)
from rrsis_bench.predictions import write_predictions
from rrsis_bench.scoring import score

PROTOCOL_CASES = [
    ("native", None),
    ("lavt", None),
    ("lavt", 896),
    ("lavt", 1024),
    ("lgce", None),
    ("caris", None),
    ("gres", None),
    ("segearth-r1", None),
    ("rsrefseg", None),
]
FLOAT32 = {"caris", "rsrefseg", "lgce"}


@pytest.fixture(scope="module")
def edge(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, list[GtCase], list[PredCase]]:
    root = tmp_path_factory.mktemp("edge")
    gts, preds = edge_cases(seed=0)
    ds = write_gt_dataset(root / "ds", gts)
    pj = write_predictions([p.as_item() for p in preds], root / "preds.jsonl")
    return ds, pj, gts, preds


def _ref_samples(gts: list[GtCase], preds: list[PredCase], order: list[str]) -> list[ref.RefSample]:
    by_id = {g.sample_id: (g, p) for g, p in zip(gts, preds, strict=True)}
    out = []
    for sid in order:
        g, p = by_id[sid]
        cat = g.categories[0] if g.categories else "none"
        out.append(ref.RefSample(g.mask, p.mask, g.target_type == "none", p.no_target, cat))
    return out


def _close(got: float | None, want: float | None, protocol: str) -> bool:
    if got is None or want is None:
        return got is None and want is None
    if protocol in FLOAT32:
        return math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-9)
    return abs(got - want) <= 1e-9


@pytest.mark.parametrize(("protocol", "resolution"), PROTOCOL_CASES)
def test_protocol_matches_reference(edge, protocol: str, resolution: int | None) -> None:
    ds, pj, gts, preds = edge
    report = score(pj, ds, "test", protocol, resolution=resolution, n_boot=0)
    assert report.dataset["n_samples"] == len(gts) == 24
    want = ref.reference(protocol, _ref_samples(gts, preds, report.table.sample_ids), resolution)
    printed = want.pop("printed_oiou", None)
    assert set(want) == set(report.metrics)
    for key, value in want.items():
        assert _close(report.metrics[key], value, protocol), (key, report.metrics[key], value)
    if printed is not None:
        assert f"'overall IoU = {printed:.2f}'" in report.notes[1]


def test_native_exact_values_on_edge_cases(edge) -> None:
    ds, pj, _, _ = edge
    r = score(pj, ds, "test", n_boot=0)
    c = r.counts
    # no-target: nt-empty (TP), nt-fp (FN), nt-flag-fp (TP: flag wins), nt-flag-false (FN: flag wins)
    assert (c["tp"], c["fn"]) == (2, 2)
    # targeted predicted as no-target: empty-pred and union0 (empty masks), tgt-flag-nt (flag)
    assert c["fp"] == 3 and c["tn"] == 17
    assert r.metrics["n_acc"] == 50.0
    assert r.metrics["t_acc"] == 100 * 17 / 20
    assert c["n"] == 24 and c["n_no_target"] == 4


def _threshold_dataset(tmp_path: Path, side: int) -> tuple[Path, Path]:
    gts, preds = [], []
    for thr in (5, 6, 7, 8, 9):
        g = np.zeros((side, side), np.uint8)
        g[0, :10] = 1
        p = np.zeros((side, side), np.uint8)
        p[0, :thr] = 1
        gts.append(GtCase(f"t{thr}", g))
        preds.append(PredCase(f"t{thr}", p).as_item())
    ds = write_gt_dataset(tmp_path / f"thr{side}", gts)
    return ds, write_predictions(preds, tmp_path / f"thr{side}.jsonl")


@pytest.mark.parametrize(
    ("protocol", "side", "expected"),
    [
        # IoU exactly 0.5 ... 0.9 on five samples; >= passes at t, > does not
        ("native", 20, {"pr@0.5": 100, "pr@0.6": 80, "pr@0.7": 60, "pr@0.8": 40, "pr@0.9": 20}),
        ("lavt", 480, {"pr@0.5": 100, "pr@0.6": 80, "pr@0.7": 60, "pr@0.8": 40, "pr@0.9": 20}),
        ("lgce", 480, {"pr@0.5": 100, "pr@0.6": 80, "pr@0.7": 60, "pr@0.8": 40, "pr@0.9": 20}),
        # float32 IoU compared with float32(t): 7/10 in float32 passes 0.7
        ("caris", 448, {"pr@0.5": 100, "pr@0.7": 60, "pr@0.9": 20}),
        ("gres", 480, {"pr@0.7": 60, "pr@0.8": 40, "pr@0.9": 20}),
        # I / (U + 1e-5) and strict >: a sample never passes its own threshold
        (
            "segearth-r1",
            1024,
            {"pr@0.5": 80, "pr@0.6": 60, "pr@0.7": 40, "pr@0.8": 20, "pr@0.9": 0},
        ),
        # float32 IoU > float32(t): 0.6 and 0.8 do not pass (they would in float64)
        ("rsrefseg", 20, {"pr@0.5": 80, "pr@0.6": 60, "pr@0.7": 40, "pr@0.8": 20, "pr@0.9": 0}),
    ],
)
def test_iou_exactly_at_threshold(tmp_path: Path, protocol: str, side: int, expected: dict) -> None:
    ds, pj = _threshold_dataset(tmp_path, side)
    r = score(pj, ds, "test", protocol, n_boot=0, by=())
    got = {k: v for k, v in r.metrics.items() if k.startswith("pr@")}
    assert got == pytest.approx(expected, rel=1e-6)


def test_list_protocols_and_aliases() -> None:
    assert list_protocols() == [
        "native",
        "lavt",
        "lgce",
        "caris",
        "gres",
        "segearth-r1",
        "rsrefseg",
    ]
    assert (get_protocol("rmsin").name, get_protocol("rmsin").resolution) == ("lavt", 480)
    assert get_protocol("remotesam").resolution == 896
    assert get_protocol("rs2sam2").resolution == 1024
    assert get_protocol("RELA").name == "gres"
    assert get_protocol("lisa").name == "segearth-r1"
    assert get_protocol("rsrefseg2").name == "rsrefseg"
    assert get_protocol("lavt", 1024).resolution == 1024


def test_protocol_errors() -> None:
    with pytest.raises(UnknownNameError) as exc:
        get_protocol("lavtt")
    assert str(exc.value) == (
        "Expected protocol to be one of native, lavt, lgce, caris, gres, segearth-r1, rsrefseg, "
        "rmsin, remotesam, rs2sam2, rela, lisa, rsrefseg2, but got 'lavtt'"
    )
    with pytest.raises(ValueError, match="protocol native scores at the ground-truth size"):
        get_protocol("native", 480)
    with pytest.raises(
        ValueError, match="protocol remotesam is lavt at 896; it cannot be combined"
    ):
        get_protocol("remotesam", 480)
    with pytest.raises(
        ValueError, match="Expected --resolution to be a positive integer, but got 0"
    ):
        get_protocol("lavt", 0)


def _arrays(*counts: SampleCounts) -> CountArrays:
    return CountArrays.from_counts(counts)


def test_undefined_values_have_reasons() -> None:
    # ΣU = 0: only no-target samples predicted correctly
    c = _arrays(SampleCounts(0, 0, 0, 0, True, True), SampleCounts(0, 0, 0, 0, True, True))
    r = compute_metrics(c, get_protocol("native"))
    assert r.values["oiou"] is None
    assert r.undefined["oiou"].startswith("ΣU = 0")
    assert r.values["miou"] == 100.0
    assert r.values["n_acc"] == 100.0
    assert r.values["t_acc"] is None and r.undefined["t_acc"] == "the split has no targeted sample"
    g = compute_metrics(c, get_protocol("gres"))
    assert g.values["pr@0.7"] is None
    assert g.undefined["pr@0.7"] == "no targeted sample: Pr@t is over targeted samples only"
    empty = compute_metrics(_arrays(), get_protocol("native"))
    assert all(v is None for v in empty.values.values())
    assert set(empty.undefined.values()) == {"no samples to score"}


def test_no_no_target_sample_native_null_gres_zero() -> None:
    c = _arrays(SampleCounts(3, 4, 3, 4))
    n = compute_metrics(c, get_protocol("native"))
    assert n.values["n_acc"] is None and n.values["t_acc"] is None
    assert n.undefined["n_acc"].startswith("the split has no no-target sample")
    g = compute_metrics(c, get_protocol("gres"))
    assert g.values["n_acc"] == 0.0 and g.values["t_acc"] == 0.0
    assert "the peer then sets N-acc and T-acc to 0" in g.notes[0]


def test_nt_acc_per_group_within_the_scored_split() -> None:
    tn, fp = SampleCounts(3, 4, 3, 4), SampleCounts(0, 4, 0, 4, pred_nt=True)
    tp = SampleCounts(0, 0, 0, 0, True, True)
    whole = _arrays(tn, fp, tp)
    targeted = compute_metrics(_arrays(tn, fp), get_protocol("native"), whole=whole)
    assert (targeted.values["n_acc"], targeted.values["t_acc"]) == (None, 50.0)
    assert targeted.undefined == {"n_acc": "this group has no no-target sample"}
    none = compute_metrics(_arrays(tp), get_protocol("gres"), whole=whole)
    assert (none.values["n_acc"], none.values["t_acc"]) == (100.0, None)
    assert none.undefined["t_acc"] == "this group has no targeted sample"
    # a split without no-target samples: the split's rule applies to every group
    alone = _arrays(tn, fp)
    n = compute_metrics(_arrays(tn), get_protocol("native"), whole=alone)
    assert (n.values["n_acc"], n.values["t_acc"]) == (None, None)
    assert n.undefined["t_acc"].startswith("the split has no no-target sample")
    g = compute_metrics(_arrays(tn), get_protocol("gres"), whole=alone)
    assert (g.values["n_acc"], g.values["t_acc"]) == (0.0, 0.0)


def test_segearth_int32_meters_wrap() -> None:
    big = 1 << 30
    c = _arrays(*[SampleCounts(big // 2, big, big // 2, big)] * 3)
    r = compute_metrics(c, get_protocol("segearth-r1"))
    # ΣU = 3·2^30 wraps to −2^30 in int32; ΣI = 1.5·2^30 does not wrap
    assert r.values["oiou"] == pytest.approx(100 * (3 * big // 2) / (-big + 1e-10))
    assert r.notes[0].startswith("ΣI or ΣU exceeds 2^31 and wraps")


def test_missing_samples_are_wrong_under_every_protocol() -> None:
    from rrsis_bench.metrics import missing_counts

    # a targeted sample with an empty GT would score 1 under segearth-r1 if it were an empty prediction
    c = _arrays(missing_counts(0, False), missing_counts(0, True), missing_counts(5, False))
    for name in list_protocols():
        r = compute_metrics(c, get_protocol(name))
        assert r.values["miou"] == 0.0, name
        assert all(v == 0.0 for k, v in r.values.items() if k.startswith("pr@")), name
    n = compute_metrics(c, get_protocol("native"))
    assert (n.counts["tp"], n.counts["fn"], n.counts["fp"], n.counts["tn"]) == (0, 1, 2, 0)


def test_count_masks_and_pred_nt() -> None:
    g = np.zeros((5, 5), np.uint8)
    g[1:3, 1:3] = 1
    assert count_masks(g * 255, g) == SampleCounts(4, 4, 4, 4, False, False)
    assert count_masks(np.zeros_like(g), g).pred_nt is True
    assert count_masks(g, g, no_target=True).pred_nt is True
    assert count_masks(np.zeros_like(g), g, no_target=False).pred_nt is False
    with pytest.raises(
        ValueError, match=r"Expected masks of one shape, but got \(5, 5\) and \(4, 4\)"
    ):
        count_masks(g, g[:4, :4])


@pytest.mark.parametrize("protocol", ["native", "lavt", "gres", "segearth-r1"])
def test_accumulator_matches_scoring_and_merges(edge, protocol: str) -> None:
    ds, pj, gts, preds = edge
    want = score(pj, ds, "test", protocol, n_boot=0, by=()).metrics
    whole, part_a, part_b = (MetricAccumulator(protocol) for _ in range(3))
    for k, (g, p) in enumerate(zip(gts, preds, strict=True)):
        pred = np.zeros_like(g.mask) if p.mask is None else p.mask
        for acc in (whole, part_a if k % 2 else part_b):
            acc.update(pred, g.mask, gt_empty=g.target_type == "none", no_target=p.no_target)
    merged = MetricAccumulator(protocol)
    merged.load_state_vector(part_a.state_vector() + part_b.state_vector())
    for got in (whole.compute(), merged.compute()):
        assert got.keys() == want.keys()
        for key in want:
            assert got[key] == pytest.approx(want[key], abs=1e-9), key


def test_accumulator_batch_and_errors() -> None:
    acc = MetricAccumulator("native")
    gt = np.zeros((3, 4, 4), np.uint8)
    gt[0, :2, :2] = 1
    gt[1, :, :] = 1
    pred = gt.copy()
    pred[2, 0, 0] = 1  # third: empty GT (no-target by default) with a false positive
    acc.update(pred, gt)
    m = acc.compute()
    assert (m["n_acc"], m["t_acc"]) == (0.0, 100.0)
    assert m["oiou"] == pytest.approx(100 * 20 / 21)
    with pytest.raises(ValueError, match=r"Expected pred and gt of shape \(H, W\) or \(B, H, W\)"):
        acc.update(np.zeros((2, 4, 4)), np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="Expected 3 per-sample flags, but got 2"):
        acc.update(pred, gt, gt_empty=[True, False])
    with pytest.raises(ValueError, match=r"Expected a state of shape \(17,\), but got \(3,\)"):
        acc.load_state_vector(np.zeros(3))
