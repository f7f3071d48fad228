from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from data.interop.data import write_built
from PIL import Image

from rrsis_bench import masks
from rrsis_bench.errors import PredictionError
from rrsis_bench.expressions import ExpressionView
from rrsis_bench.viz import plot_grid, plot_sample, plot_score_report, read_prediction

REPORT = {
    "schema": "rrsis-bench/score/1",
    "dataset": {"name": "tiny", "split": "test", "n_samples": 3},
    "protocol": {"name": "native"},
    "metrics": {
        "oiou": 61.5,
        "miou": 55.0,
        "pr@0.5": 66.7,
        "pr@0.6": 66.7,
        "pr@0.7": 33.3,
        "pr@0.8": 33.3,
        "pr@0.9": 0.0,
    },
    "breakdowns": {
        "category": {"airport": {"oiou": 80.0, "miou": 80.0}, "ship": {"oiou": 0.0, "miou": 0.0}},
        "size": {
            "bins": ["<0.1%", "0.1-1%", "1-10%", ">=10%", "none"],
            "1-10%": {"oiou": 70.0, "miou": 65.0},
            "none": {"oiou": None, "miou": 100.0},
        },
        "target_type": {"single": {"oiou": 61.5, "miou": 40.0}, "none": {"miou": 100.0}},
    },
}


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> ExpressionView:
    return ExpressionView(write_built(tmp_path_factory.mktemp("viz")))


def test_plot_sample_with_and_without_prediction(view: ExpressionView, tmp_path: Path):
    item = view.by_sample_id("2")
    fig = plot_sample(item)
    assert len(fig.axes) == 1
    assert fig.axes[0].get_title() == "ground truth (multi)"
    assert "“all vehicles”" in fig._suptitle.get_text()
    assert "target: multi" in fig._suptitle.get_text()
    assert len(fig.axes[0].collections) == 2  # one outline per referred object
    fig.savefig(tmp_path / "one.png")
    pred = view.by_sample_id("3-0").rle
    fig2 = plot_sample(item, pred)
    assert len(fig2.axes) == 2
    inter = int((item.mask & masks.decode(pred)).sum())
    union = int((item.mask | masks.decode(pred)).sum())
    assert fig2.axes[1].get_title() == f"prediction, IoU {inter / union:.3f}"
    fig2.savefig(tmp_path / "two.png")
    assert Image.open(tmp_path / "two.png").size[0] > Image.open(tmp_path / "one.png").size[0]


def test_plot_sample_no_target_and_sample_dict(view: ExpressionView):
    item = view.by_sample_id("5")
    fig = plot_sample(item, np.zeros((48, 64), np.uint8))
    assert fig.axes[1].get_title() == "prediction: no target (correct)"
    d = {
        "image": np.zeros((3, 48, 64), np.uint8),
        "mask": np.ones((48, 64)),
        "text": "x",
        "target_type": "single",
        "sample_id": "s",
    }
    assert len(plot_sample(d).axes) == 1


def test_contact_sheet_has_one_axes_per_sample(view: ExpressionView, tmp_path: Path):
    fig = plot_grid(view[:7], ncols=3)
    assert len(fig.axes) == 7
    fig.savefig(tmp_path / "grid.png")
    with pytest.raises(ValueError, match="Expected at least one sample"):
        plot_grid([])


def test_score_report_panels(tmp_path: Path):
    fig = plot_score_report(REPORT)
    assert [ax.get_title() for ax in fig.axes] == [
        "precision at IoU thresholds",
        "by category",
        "by object size",
        "by target type",
    ]
    size_axis = fig.axes[2]
    assert [t.get_text() for t in size_axis.get_xticklabels()] == ["1-10%", "none"]
    fig.savefig(tmp_path / "report.png")
    only_pr = {k: v for k, v in REPORT.items() if k != "breakdowns"}
    assert len(plot_score_report(only_pr).axes) == 1
    with pytest.raises(
        ValueError, match="Expected a score report of schema rrsis-bench/score/1, but got 'x'"
    ):
        plot_score_report({"schema": "x"})


def test_read_prediction_formats(tmp_path: Path):
    m = np.zeros((4, 5), np.uint8)
    m[1:3, 1:4] = 1
    Image.fromarray(m * 255).save(tmp_path / "s1.png")
    assert np.array_equal(read_prediction(tmp_path / "s1.png", "s1", (4, 5)), m)
    assert np.array_equal(read_prediction(tmp_path, "s1", (4, 5)), m)
    lines = [{"sample_id": "s1", "mask": masks.encode(m)}, {"sample_id": "s2", "no_target": True}]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert np.array_equal(read_prediction(tmp_path / "p.jsonl", "s1", (4, 5)), m)
    assert read_prediction(tmp_path / "p.jsonl", "s2", (4, 5)).sum() == 0
    half = m.copy()
    half[:, 3:] = 0
    rest = m - half
    coco = [
        {"sample_id": "s1", "segmentation": masks.encode(half), "score": 0.9},
        {"sample_id": "s1", "segmentation": masks.encode(rest), "score": 0.8},
    ]
    (tmp_path / "r.json").write_text(json.dumps(coco))
    assert np.array_equal(read_prediction(tmp_path / "r.json", "s1", (4, 5)), m)
    with pytest.raises(PredictionError, match="p.jsonl: no prediction for sample 's9'"):
        read_prediction(tmp_path / "p.jsonl", "s9", (4, 5))
    with pytest.raises(PredictionError, match="no prediction for sample 's9'"):
        read_prediction(tmp_path, "s9", (4, 5))
    Image.fromarray(np.stack([m * 255] * 3, axis=-1)).save(tmp_path / "rgb.png")
    with pytest.raises(PredictionError, match="sample 'rgb': mode RGB is not a binary mask"):
        read_prediction(tmp_path / "rgb.png", "rgb", (4, 5))


def test_report_of_the_real_scorer_plots(tmp_path: Path):
    from rrsis_bench.export import export
    from rrsis_bench.scoring import score

    built = write_built(tmp_path)
    export(built, "coco", tmp_path / "coco")
    report = score(
        tmp_path / "coco/annotations/results_example_train.json", built, "train", n_boot=10
    ).to_json()
    assert report["metrics"]["oiou"] == 100.0 and report["metrics"]["n_acc"] == 100.0
    fig = plot_score_report(report)
    assert [ax.get_title() for ax in fig.axes] == [
        "precision at IoU thresholds",
        "by category",
        "by object size",
        "by target type",
    ]
    labels = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    assert labels == ["(none)", "airport", "ship", "vehicle"]
    fig.savefig(tmp_path / "report.png")


def test_category_labels_do_not_overlap_with_twenty_categories():
    dior = (
        "airplane airport baseballfield basketballcourt bridge chimney dam "
        "expressway-service-area expressway-toll-station golffield groundtrackfield harbor "
        "overpass ship stadium storagetank tenniscourt trainstation vehicle windmill"
    ).split()
    report = dict(REPORT)
    report["breakdowns"] = {
        "category": {c: {"n": 10, "oiou": 50.0 + i, "miou": 40.0 + i} for i, c in enumerate(dior)}
    }
    fig = plot_score_report(report)
    assert fig.get_figwidth() == pytest.approx(5.0 + 0.3 * 20 + 1.0)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # lays the figure out
    renderer = canvas.get_renderer()
    labels = fig.axes[1].get_xticklabels()
    assert [t.get_text() for t in labels] == dior
    boxes = [t.get_window_extent(renderer) for t in labels]
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(boxes))
    panel = fig.axes[1].get_window_extent(renderer)
    assert all(b.x1 <= panel.x1 + 1 for b in boxes)  # no label runs past its panel
