"""Every protocol against the reference implementations on real RefSegRS masks.

The first 50 rows of ../shared/realdata/refsegrs/val.jsonl are built with the RefSegRS builder;
predictions are the real masks shifted by a seeded random offset (every 9th one empty).
Skipped when the folder is absent.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import SHARED_REALDATA
from data.refsegrs.data import write_refsegrs_from_rows
from data.scoring import reference as ref

from rrsis_bench import masks
from rrsis_bench.builders import build
from rrsis_bench.predictions import write_predictions
from rrsis_bench.scoring import score
from rrsis_bench.store import open_dataset

VAL = SHARED_REALDATA / "refsegrs" / "val.jsonl"

pytestmark = pytest.mark.skipif(not VAL.is_file(), reason=f"{VAL} is absent")


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory):
    rows = [json.loads(line) for line in VAL.read_text(encoding="ascii").splitlines()[:50]]
    raw = tmp_path_factory.mktemp("real_raw")
    write_refsegrs_from_rows(rows, raw)
    out = tmp_path_factory.mktemp("real_built") / "refsegrs"
    build("refsegrs", raw, out, splits="val")
    rng = np.random.default_rng(5)
    exprs = [
        e
        for r in open_dataset(out).iter_rows("val", columns=["expressions"])
        for e in r["expressions"]
    ]
    gts, preds = {}, {}
    for k, e in enumerate(exprs):
        g = masks.decode(e["mask"])
        dy, dx = (int(v) for v in rng.integers(-6, 7, size=2))
        p = np.zeros_like(g) if k % 9 == 0 else np.roll(np.roll(g, dy, 0), dx, 1)
        gts[e["sample_id"]] = (g, e)
        preds[e["sample_id"]] = p
    pj = write_predictions(preds, tmp_path_factory.mktemp("real_pred") / "p.jsonl")
    return out, pj, gts, preds


@pytest.mark.parametrize(
    "protocol", ["native", "lavt", "lgce", "caris", "gres", "segearth-r1", "rsrefseg"]
)
def test_real_masks_every_protocol(real, protocol: str) -> None:
    out, pj, gts, preds = real
    r = score(pj, out, "val", protocol, n_boot=0, by=())
    samples = [
        ref.RefSample(
            gts[sid][0],
            preds[sid],
            gts[sid][1]["target_type"] == 2,
            None,
            (gts[sid][1]["categories"] or ["none"])[0],
        )
        for sid in r.table.sample_ids
    ]
    want = ref.reference(protocol, samples)
    want.pop("printed_oiou", None)
    assert r.dataset["n_samples"] == len(gts) >= 45
    for key, value in want.items():
        got = r.metrics[key]
        if value is None or got is None:
            assert got is None and value is None, key
        elif protocol in ("caris", "rsrefseg", "lgce"):
            assert math.isclose(got, value, rel_tol=1e-5), (key, got, value)
        else:
            assert abs(got - value) <= 1e-9, (key, got, value)
