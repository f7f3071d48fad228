"""scoring.score / compare on tiny built datasets: alignment, options, breakdowns, reports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from data.scoring.data import GtCase, PredCase, edge_cases, write_gt_dataset
from PIL import Image

import rrsis_bench
from rrsis_bench.errors import (
    DatasetNotFoundError,
    FormatError,
    PredictionError,
    UnknownNameError,
)
from rrsis_bench.predictions import write_predictions
from rrsis_bench.scoring import compare, score
from rrsis_bench.store import open_dataset


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("scoring")
    gts, preds = edge_cases(seed=0)
    ds = write_gt_dataset(root / "ds", gts)
    items = [p.as_item() for p in preds]
    return {
        "root": root,
        "ds": ds,
        "gts": gts,
        "preds": preds,
        "jsonl": write_predictions(items, root / "p.jsonl"),
        "coco": write_predictions(items, root / "p.json", "coco"),
        # PNG cannot carry no_target: write only the samples without an explicit flag
        "png": write_predictions([i for i in items if "no_target" not in i], root / "png", "png"),
    }


def _box(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[1 : h // 2, 1 : w // 2] = 1
    return m


def test_every_alignment_problem_is_reported(tmp_path: Path) -> None:
    gts = [GtCase(f"s{k}", _box(10, 12)) for k in range(6)]
    ds = write_gt_dataset(tmp_path / "ds", gts)
    pngs = write_predictions({f"s{k}": _box(10, 12) for k in (0, 3)}, tmp_path / "png", "png")
    Image.fromarray(_box(20, 12) * 255).save(pngs / "s1.png")  # wrong size
    Image.fromarray(_box(10, 12) * np.uint8(3) + np.eye(10, 12, dtype=np.uint8)).save(
        pngs / "s2.png"
    )
    (pngs / "s4.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    Image.fromarray(_box(10, 12) * 255).save(pngs / "zz-unknown.png")
    with pytest.raises(PredictionError) as exc:
        score(pngs, ds, "test", n_boot=0)
    assert exc.value.problems == [
        (
            "s1",
            "wrong size: the prediction is 20x12 (height x width), expected 10x12 (the ground-truth "
            "mask); pass --resize-predictions to resize with nearest neighbour",
        ),
        ("s2", "not binary: holds 4 values (0, 1, 3, 4); a mask may hold only {0, v}"),
        ("s4", exc.value.problems[2][1]),
        ("s5", "missing: no prediction for this sample"),
        ("zz-unknown", "unknown sample id: not in the scored ground truth"),
    ]
    assert exc.value.problems[2][1].startswith("unreadable: cannot decode s4.png")
    assert str(exc.value).startswith(
        f"{pngs}: predictions do not match the ground truth (1 wrong size, 1 not binary, "
        "1 unreadable, 1 missing, 1 unknown sample id) (5 problems: s1: wrong size"
    )


def test_missing_only_suggests_allow_missing_and_scores_wrong(edge) -> None:
    items = [p.as_item() for p in edge["preds"] if p.sample_id not in ("exact", "nt-empty")]
    pj = write_predictions(items, edge["root"] / "missing.jsonl", overwrite=True)
    with pytest.raises(PredictionError) as exc:
        score(pj, edge["ds"], "test", n_boot=0)
    assert str(exc.value) == (
        f"{pj}: predictions do not match the ground truth (2 missing); pass --allow-missing to "
        "score missing predictions as wrong (2 problems: exact: missing: no prediction for this "
        "sample; nt-empty: missing: no prediction for this sample)"
    )
    full = score(edge["jsonl"], edge["ds"], "test", n_boot=0)
    r = score(pj, edge["ds"], "test", n_boot=0, allow_missing=True)
    assert r.missing == 2
    # exact (targeted, a TN) becomes an FP; nt-empty (a TP) becomes an FN
    assert r.counts["fp"] == full.counts["fp"] + 1 and r.counts["tn"] == full.counts["tn"] - 1
    assert r.counts["tp"] == full.counts["tp"] - 1 and r.counts["fn"] == full.counts["fn"] + 1
    rows = {row["sample_id"]: row for row in r.per_sample_rows()}
    assert rows["exact"]["iou"] == 0.0 and rows["exact"]["missing"] is True
    assert rows["nt-empty"]["iou"] == 0.0
    # missing under segearth-r1 (where an empty union scores 1) is still wrong
    seg = score(pj, edge["ds"], "test", "segearth-r1", n_boot=0, allow_missing=True)
    assert {r["sample_id"]: r["iou"] for r in seg.per_sample_rows()}["nt-empty"] == 0.0


def test_wrong_size_rle_and_resize_predictions(tmp_path: Path) -> None:
    g = _box(10, 12)
    ds = write_gt_dataset(tmp_path / "ds", [GtCase("a", g)])
    big = np.kron(g, np.ones((2, 2), np.uint8))
    pj = write_predictions({"a": big}, tmp_path / "p.jsonl")
    with pytest.raises(PredictionError) as exc:
        score(pj, ds, "test", n_boot=0)
    assert exc.value.problems == [
        (
            "a",
            "wrong size: the prediction is 20x24 (height x width), expected 10x12 (the ground-truth "
            "mask); pass --resize-predictions to resize with nearest neighbour",
        )
    ]
    r = score(pj, ds, "test", n_boot=0, resize_predictions=True)
    assert r.metrics["oiou"] == 100.0
    assert r.notes == ["predictions of another size were resized to the GT size (PIL NEAREST)"]


def test_compat_accepts_grid_sized_predictions(tmp_path: Path) -> None:
    from rrsis_bench.masks import resize_nearest

    g = _box(800, 640)
    ds = write_gt_dataset(tmp_path / "ds", [GtCase("a", g)])
    at_grid = write_predictions({"a": resize_nearest(g, 480, 480)}, tmp_path / "grid.jsonl")
    at_gt = write_predictions({"a": g}, tmp_path / "gt.jsonl")
    for pj in (at_grid, at_gt):
        r = score(pj, ds, "test", "lavt", n_boot=0)
        assert r.metrics["oiou"] == 100.0
        assert r.table.counts.g[0] == int(resize_nearest(g, 480, 480).sum())
    wrong = write_predictions({"a": np.zeros((100, 100))}, tmp_path / "w.jsonl")
    with pytest.raises(PredictionError) as exc:
        score(wrong, ds, "test", "lavt", n_boot=0)
    assert (
        "expected 800x640 (the ground-truth mask) or 480x480 (the lavt grid)"
        in exc.value.problems[0][1]
    )


def test_size_mismatch_mask_scored_at_its_own_size(tmp_path: Path) -> None:
    g = _box(16, 16)
    ds = write_gt_dataset(
        tmp_path / "ds", [GtCase("m", g, image_size=(20, 24), flags=("size_mismatch",))]
    )
    ok = write_predictions({"m": g}, tmp_path / "ok.jsonl")
    assert score(ok, ds, "test", n_boot=0).metrics["oiou"] == 100.0
    bad = write_predictions({"m": np.zeros((20, 24))}, tmp_path / "bad.jsonl")
    with pytest.raises(PredictionError, match="expected 16x16 \\(the ground-truth mask\\)"):
        score(bad, ds, "test", n_boot=0)


def test_png_coco_jsonl_and_num_proc_agree(edge) -> None:
    ds = edge["ds"]
    flagged = {p.sample_id for p in edge["preds"] if p.no_target is not None}
    jsonl = score(edge["jsonl"], ds, "test", n_boot=0)
    coco = score(edge["coco"], ds, "test", n_boot=0)
    assert coco.metrics == jsonl.metrics
    png1 = score(edge["png"], ds, "test", n_boot=0, allow_missing=True, by=())
    png2 = score(edge["png"], ds, "test", n_boot=0, allow_missing=True, by=(), num_proc=2)
    assert png1.missing == len(flagged) == 3
    assert png1.metrics == png2.metrics
    assert png1.per_sample_rows() == png2.per_sample_rows()
    for proto in ("lavt", "segearth-r1"):
        a = score(edge["png"], ds, "test", proto, n_boot=0, allow_missing=True, by=())
        b = score(edge["png"], ds, "test", proto, n_boot=0, allow_missing=True, by=(), num_proc=2)
        assert a.metrics == b.metrics


def test_breakdowns_and_json(edge) -> None:
    r = score(edge["jsonl"], edge["ds"], "test", n_boot=200, seed=3)
    d = json.loads(r.dumps())
    assert d["schema"] == "rrsis-bench/score/1"
    assert set(d) >= {
        "toolkit_version",
        "created",
        "protocol",
        "dataset",
        "metrics",
        "undefined",
        "ci",
        "breakdowns",
        "missing",
        "counts",
    }
    # scored at each ground-truth mask's own size: no grid side
    assert d["protocol"]["name"] == "native" and d["protocol"]["resolution"] is None
    assert d["protocol"]["resize"] == "none"
    assert d["protocol"]["pr_rule"] == ">=" and d["protocol"]["thresholds"] == [
        0.5,
        0.6,
        0.7,
        0.8,
        0.9,
    ]
    # {split: sha} whether one split is scored or several
    assert d["dataset"]["gt_sha256"] == {
        "test": open_dataset(edge["ds"]).manifest["splits"]["test"]["gt_sha256"]
    }
    assert d["dataset"]["n_samples"] == 24 and d["dataset"]["split"] == "test"
    assert d["ci"]["seed"] == 3 and d["ci"]["n_boot"] == 200
    assert d["ci"]["oiou"][0] <= d["metrics"]["oiou"] <= d["ci"]["oiou"][1]
    tt = d["breakdowns"]["target_type"]
    assert list(tt) == ["single", "multi", "none"]
    assert [tt[k]["n"] for k in tt] == [19, 1, 4]
    assert tt["none"]["metrics"]["n_acc"] == 50.0
    # per group: T-acc where the group has targeted samples, N-acc where it has no-target ones
    assert (tt["single"]["metrics"]["n_acc"], tt["single"]["metrics"]["t_acc"]) == (
        None,
        100 * 16 / 19,
    )
    assert tt["single"]["undefined"] == {"n_acc": "this group has no no-target sample"}
    assert tt["none"]["metrics"]["t_acc"] is None
    assert tt["none"]["undefined"] == {"t_acc": "this group has no targeted sample"}
    size = d["breakdowns"]["size"]
    assert size["bins"] == ["<0.1%", "0.1-1%", "1-10%", ">=10%", "none"]
    assert sum(size[b]["n"] for b in size["bins"] if b in size) == 24
    assert size["none"]["n"] == 4
    cat = d["breakdowns"]["category"]
    # "multi" has vehicle and ship: counted in both; the 4 no-target samples have no category
    assert cat["(none)"]["n"] == 4
    assert sum(cat[k]["n"] for k in cat if k != "note") == 25
    assert d["undefined"] == {}


def test_json_never_holds_nan(edge) -> None:
    r = score(edge["jsonl"], edge["ds"], "test", "caris", n_boot=50)

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in the JSON report")

    d = json.loads(r.dumps(), parse_constant=no_constants)
    assert d["metrics"]["miou"] is None
    assert d["undefined"]["miou"].startswith("4 sample(s) have U = 0")
    assert d["ci"]["miou"] is None
    assert d["protocol"]["resolution"] == 448 and d["protocol"]["dtype"] == "float32"
    assert (
        d["notes"][0]
        == "compat protocol: reproduces lsa1997/CARIS eval.py batch_IoU() / batch_evaluate()"
    )


def test_per_sample_files(edge, tmp_path: Path) -> None:
    r = score(edge["jsonl"], edge["ds"], "test", n_boot=0)
    r.write_per_sample(tmp_path / "s.csv")
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert len(rows) == 24
    multi = next(x for x in rows if x["sample_id"] == "multi")
    assert multi["category"] == "vehicle|ship" and multi["target_type"] == "multi"
    thr = next(x for x in rows if x["sample_id"] == "thr-0.7")
    assert (thr["i"], thr["u"], thr["pred_area"], thr["gt_area"], thr["iou"]) == (
        "7",
        "10",
        "7",
        "10",
        "0.7",
    )
    r.write_per_sample(tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text())[0].keys() == rows[0].keys()
    r.write_per_sample(tmp_path / "s.jsonl")
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 24
    with pytest.raises(FormatError, match="cannot write per-sample rows as '.parquet'"):
        r.write_per_sample(tmp_path / "s.parquet")
    assert not (tmp_path / "s.parquet").exists()


@pytest.mark.parametrize(
    "protocol", ["native", "gres", "lavt", "lgce", "caris", "segearth-r1", "rsrefseg"]
)
def test_per_sample_contributions_add_up_to_the_report(edge, tmp_path: Path, protocol) -> None:
    r = score(edge["jsonl"], edge["ds"], "test", protocol, n_boot=0, by=())
    r.write_per_sample(tmp_path / "s.csv")
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    sum_i = sum(int(x["sum_i"]) for x in rows)
    sum_u = sum(int(x["sum_u"]) for x in rows)
    assert (sum_i, sum_u) == (r.counts["sum_i"], r.counts["sum_u"])
    if protocol in ("native", "gres", "lavt"):
        assert r.metrics["oiou"] == sum_i * 100.0 / sum_u
    else:  # float32 arithmetic, or SegEarth-R1's ΣI / (ΣU + 1e-10)
        assert r.metrics["oiou"] == pytest.approx(sum_i * 100.0 / sum_u, rel=1e-6)
    if r.protocol.no_target_rule == "separate":
        row = {x["sample_id"]: {k: int(x[k]) for k in ("i", "u", "sum_i", "sum_u")} for x in rows}
        # a perfect mask flagged no_target: true adds I = 0 but still its union
        u = row["tgt-flag-nt"]["u"]
        assert u > 0 and row["tgt-flag-nt"] == {"i": u, "u": u, "sum_i": 0, "sum_u": u}
        # a no-target sample rightly flagged no_target: true adds nothing despite stray pixels
        assert row["nt-flag-fp"]["u"] > 0
        assert (row["nt-flag-fp"]["sum_i"], row["nt-flag-fp"]["sum_u"]) == (0, 0)


def test_several_splits_exclusions_and_policy(tmp_path: Path) -> None:
    g = _box(10, 10)
    gts = [
        GtCase("v1", g, split="val"),
        GtCase("v2", g, split="val", flags=("excluded_dicor",)),
        GtCase("t1", g, ref_key="r1"),
        GtCase("t1-2", g, ref_key="r1"),  # second sentence of ref r1
        GtCase("t2", g, flags=("excluded_rsrefseg2", "excluded_dicor")),
    ]
    ds = write_gt_dataset(tmp_path / "ds", gts)
    preds = {"v1": g, "t1": g, "t1-2": np.zeros_like(g)}
    pj = write_predictions(preds, tmp_path / "p.jsonl")
    r = score(pj, ds, "val,test", exclude="dicor", n_boot=0)
    assert r.dataset["split"] == "val,test" and r.dataset["n_samples"] == 3
    manifest = open_dataset(ds).manifest["splits"]
    assert r.dataset["gt_sha256"] == {s: manifest[s]["gt_sha256"] for s in ("val", "test")}
    assert r.dataset["excluded"] == {"dicor": {"flag": "excluded_dicor", "n_samples": 2}}
    assert list(r.breakdowns["split"]) == ["val", "test"]
    assert r.breakdowns["split"]["test"]["n"] == 2
    assert r.metrics["miou"] == pytest.approx(100 * 2 / 3)
    # the first sentence of each ref only: t1-2 is not scored, its prediction is ignored
    pt = write_predictions({"t1": g, "t1-2": g}, tmp_path / "t.jsonl")
    s = score(pt, ds, "test", "segearth-r1", exclude=["rsrefseg2"], n_boot=0)
    assert s.table.sample_ids == ["t1"]
    assert s.ignored == {"sample_policy": 1, "excluded": 1}
    with pytest.raises(PredictionError, match="v1: unknown sample id"):
        score(pj, ds, "test", n_boot=0)
    with pytest.raises(
        UnknownNameError,
        match="Expected exclusion list to be one of rsrefseg2, dicor, but got 'refcoco'",
    ):
        score(pj, ds, "test", exclude="refcoco")
    with pytest.raises(
        DatasetNotFoundError, match="the build has no split 'train'; it has val, test"
    ):
        score(pj, ds, "train")
    with pytest.raises(UnknownNameError, match="Expected breakdown to be one of"):
        score(pj, ds, "test", by=["colour"])


def test_a_folder_per_split_files_each_sample_under_its_split(tmp_path: Path) -> None:
    g = _box(10, 10)
    gts = [GtCase("v1", g, split="val"), GtCase("t1", g), GtCase("t2", g)]
    ds = write_gt_dataset(tmp_path / "ds", gts)
    preds = tmp_path / "preds"
    write_predictions({"v1": g}, preds / "val" / "predictions.jsonl")
    write_predictions({"t1": g, "t2": g}, preds / "test", "png")
    r = score(preds, ds, "val,test", n_boot=0)
    assert r.metrics["oiou"] == 100.0 and r.dataset["n_samples"] == 3
    assert r.predictions == {"path": str(preds), "format": "jsonl"}
    # a sample filed under another split's folder, and one filed twice
    write_predictions({"v1": g, "t2": g}, preds / "val" / "predictions.jsonl", overwrite=True)
    with pytest.raises(PredictionError) as exc:
        score(preds, ds, "val,test", n_boot=0)
    assert exc.value.problems == [
        ("t2", "duplicate prediction: in val/ and in test/"),
    ]
    (preds / "test" / "t2.png").unlink()
    with pytest.raises(PredictionError) as exc:
        score(preds, ds, "val,test", n_boot=0)
    assert exc.value.problems == [
        ("t2", "wrong split: its prediction is in val/, but the sample is in test"),
    ]
    # scoring val alone: t2 is no val sample
    with pytest.raises(PredictionError, match="t2: unknown sample id"):
        score(preds, ds, "val", n_boot=0)
    # only the scored splits' folders are read
    (preds / "val" / "predictions.jsonl").write_text("{not json\n")
    r = score(preds, ds, "test", n_boot=0, allow_missing=True)
    assert r.missing == 1 and r.dataset["n_samples"] == 2


def test_compare_paired(edge, tmp_path: Path) -> None:
    perfect = [
        PredCase(g.sample_id, g.mask, True if g.target_type == "none" else None)
        for g in edge["gts"]
    ]
    pb = write_predictions([p.as_item() for p in perfect], tmp_path / "b.jsonl")
    rep = compare(edge["jsonl"], pb, edge["ds"], "test", top=3, n_boot=200)
    d = json.loads(rep.dumps())
    assert d["schema"] == "rrsis-bench/compare/1"
    assert d["b"]["metrics"]["miou"] == pytest.approx(
        100 * 22 / 24
    )  # union0 twice scores 0 under native
    assert d["difference"]["miou"] == pytest.approx(
        d["b"]["metrics"]["miou"] - d["a"]["metrics"]["miou"]
    )
    assert d["ci"]["miou"][0] > 0
    assert [c["delta"] for c in d["changed_most"]] == sorted(
        (c["delta"] for c in d["changed_most"]), key=abs, reverse=True
    )
    assert len(d["changed_most"]) == 3 and d["changed_most"][0]["delta"] == 1.0
    assert d["summary"]["n"] == 24
    assert d["summary"]["improved"] + d["summary"]["worse"] + d["summary"]["same"] == 24


def test_top_level_score_api(edge) -> None:
    r = rrsis_bench.score(edge["jsonl"], edge["ds"], split="test", protocol="rmsin", n_boot=0)
    assert r.protocol.name == "lavt" and r.requested_protocol == "rmsin"
    assert r.to_json()["protocol"]["requested_as"] == "rmsin"


def _perfect_predictions(ds_path: Path, split: str, out: Path) -> tuple[Path, list[dict]]:
    ds = open_dataset(ds_path)
    rows = [e for r in ds.iter_rows(split, columns=["expressions"]) for e in r["expressions"]]
    items = [{"sample_id": e["sample_id"], "mask": e["mask"]} for e in rows]
    return write_predictions(items, out), rows


def test_scores_a_refsegrs_build(tmp_path: Path) -> None:
    from data.refsegrs.data import write_refsegrs

    from rrsis_bench.builders import build

    raw = tmp_path / "raw"
    write_refsegrs(raw)
    ds = build("refsegrs", raw, tmp_path / "refsegrs").path
    pj, rows = _perfect_predictions(ds, "val", tmp_path / "p.jsonl")
    r = score(pj, ds, "val", n_boot=0)
    n_empty = sum("empty_mask" in e["flags"] for e in rows)
    assert n_empty == 1  # RefSegRS 472: a targeted expression with an empty mask
    assert r.dataset["n_samples"] == len(rows)
    assert r.metrics["oiou"] == 100.0
    assert r.metrics["miou"] == pytest.approx(100 * (len(rows) - n_empty) / len(rows))
    assert r.counts["fp"] == n_empty  # an empty prediction says "no target"


def test_exclude_dicor_on_a_risbench_build(tmp_path: Path) -> None:
    from data.risbench.data import write_risbench

    from rrsis_bench.builders import build

    raw = tmp_path / "raw"
    write_risbench(raw)
    ds = build("risbench", raw, tmp_path / "risbench").path
    pj, rows = _perfect_predictions(ds, "train", tmp_path / "p.jsonl")
    flagged = {e["sample_id"] for e in rows if "excluded_dicor" in e["flags"]}
    assert flagged
    r = score(pj, ds, "train", exclude="dicor", n_boot=0)
    assert r.dataset["excluded"] == {"dicor": {"flag": "excluded_dicor", "n_samples": len(flagged)}}
    assert r.dataset["n_samples"] == len(rows) - len(flagged)
    assert r.ignored == {"excluded": len(flagged)}
    assert not flagged & set(r.table.sample_ids)
