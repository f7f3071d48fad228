from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from data.interop.data import expected_masks, write_built

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader, DistributedSampler  # noqa: E402

from rrsis_bench.expressions import ExpressionView  # noqa: E402
from rrsis_bench.torch_data import RRSISDataset, collate  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_built(tmp_path_factory.mktemp("torch"))


def test_sample_dict(built: Path, tmp_path: Path):
    ds = RRSISDataset(built, "train")
    assert len(ds) == 8
    s = ds[1]
    assert set(s) == {"image", "mask", "text", "target_type", "sample_id", "image_id", "categories"}
    assert s["image"].dtype == torch.uint8 and tuple(s["image"].shape) == (3, 48, 64)
    assert s["mask"].dtype == torch.uint8 and tuple(s["mask"].shape) == (48, 64)
    assert (s["sample_id"], s["text"], s["target_type"]) == ("2", "all vehicles", "multi")
    assert np.array_equal(s["mask"].numpy(), expected_masks(tmp_path)["2"])
    png = ds[ds.sample_ids.index("4")]  # image 2 is a PNG
    assert tuple(png["image"].shape) == (3, 48, 64)


def test_transform_hook_gets_and_returns_the_dict(built: Path):
    def transform(sample):
        return {
            "image": sample["image"].float() / 255,
            "mask": sample["mask"][::2, ::2],
            "text": sample["text"].upper(),
            "sample_id": sample["sample_id"],
        }

    ds = RRSISDataset(built, "val", transform=transform)
    s = ds[0]
    assert s["text"] == "BOTH CARS"
    assert s["image"].dtype == torch.float32 and float(s["image"].max()) <= 1.0
    assert tuple(s["mask"].shape) == (24, 32)


def test_two_workers_give_every_expression_once(built: Path):
    ds = RRSISDataset(built)
    single = [ds[i] for i in range(len(ds))]
    loader = DataLoader(ds, batch_size=3, num_workers=2, collate_fn=collate)
    batches = list(loader)
    ids = [sid for b in batches for sid in b["sample_id"]]
    assert ids == ds.sample_ids
    assert tuple(batches[0]["image"].shape) == (3, 3, 48, 64)
    assert batches[0]["image"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(batches[0]["image"], torch.stack([single[i]["image"] for i in range(3)]))
    assert tuple(batches[0]["mask"].shape) == (3, 48, 64)
    masks = torch.cat([b["mask"] for b in batches])
    assert torch.equal(masks, torch.stack([s["mask"] for s in single]))
    assert batches[0]["target_type"] == ["single", "multi", "single"]


def test_distributed_sampler_and_shard_partition(built: Path):
    ds = RRSISDataset(built, target_types=["single", "multi"])
    assert len(ds) == 10
    seen = []
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=7)
        seen.append([ds[i]["sample_id"] for i in sampler])
    assert len(seen[0]) == len(seen[1]) == 5
    assert sorted(seen[0] + seen[1]) == sorted(ds.sample_ids)
    again = [ds[i]["sample_id"] for i in DistributedSampler(ds, 2, 0, shuffle=True, seed=7)]
    assert again == seen[0]
    parts = [ds.shard(4, i).sample_ids for i in range(4)]
    assert [x for p in parts for x in p] == ds.sample_ids


def test_wraps_a_view_and_collates_uneven_sizes(built: Path):
    view = ExpressionView(built, "test")
    ds = RRSISDataset(view, target_types=["none"])
    assert ds.sample_ids == ["11"]
    batch = collate([{"mask": torch.zeros(2, 2)}, {"mask": torch.zeros(3, 3)}])
    assert isinstance(batch["mask"], list) and len(batch["mask"]) == 2
    assert collate([]) == {}


def test_core_imports_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import rrsis_bench, rrsis_bench.hf, rrsis_bench.expressions, rrsis_bench.export\n"
        "import rrsis_bench.publish, rrsis_bench.viz\n"
        "try:\n    import rrsis_bench.torch_data\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (
        out.stdout.strip() == "rrsis_bench.torch_data needs torch: pip install 'rrsis-bench[torch]'"
    )


def _pair() -> list[dict]:
    images = torch.arange(2 * 4 * 5 * 3, dtype=torch.uint8).reshape(2, 4, 5, 3)
    return [
        {
            "image": images[i].permute(2, 0, 1),
            "mask": torch.full((4, 5), i, dtype=torch.uint8),
            "text": f"t{i}",
        }
        for i in range(2)
    ]


def test_worker_batches_reuse_shared_slots(monkeypatch: pytest.MonkeyPatch):
    import gc
    import pickle
    from multiprocessing.reduction import ForkingPickler

    import torch.multiprocessing

    import rrsis_bench.torch_data as td

    samples = _pair()
    expected = collate(samples)  # outside a worker: private memory
    assert type(expected) is dict
    monkeypatch.setattr(td, "get_worker_info", lambda: object())
    monkeypatch.setattr(td, "_slots", [])
    monkeypatch.setattr(td, "_MAX_SLOTS", 2)

    first = collate(samples)
    assert type(first).__name__ == "_SlotBatch" and len(td._slots) == 1
    data = ForkingPickler.dumps(first)  # as a DataLoader worker sends it
    rebuild, args = first.__reduce__()
    del first
    got = pickle.loads(data)
    assert type(got) is dict and got["text"] == ["t0", "t1"]
    assert torch.equal(got["image"], expected["image"]) and torch.equal(
        got["mask"], expected["mask"]
    )
    assert got["image"].is_contiguous(memory_format=torch.channels_last)
    slot = td._slots[0]
    assert not slot.free()  # the main process still holds the batch
    second = collate(samples)
    assert second.slot is not slot and len(td._slots) == 2  # so the next batch took a new slot
    image = got["image"]
    del got
    gc.collect()
    assert not slot.free()  # one tensor of the batch is still alive
    del image
    gc.collect()
    assert slot.free()
    third = collate(samples)
    assert third.slot is slot and third.generation == 2
    with pytest.raises(RuntimeError) as exc:
        rebuild(*args)  # generation 1 was overwritten by the third batch
    assert str(exc.value) == (
        "a DataLoader batch was unpickled after its worker reused its memory; "
        "unpickle each batch once, as DataLoader does"
    )
    # both slots busy and no room for a third: the batch goes the usual way
    fallback = collate(samples)
    assert type(fallback) is dict and len(td._slots) == 2
    assert torch.equal(fallback["image"], expected["image"])
    # a batch collected in the worker without being sent (a collate wrapper returned something
    # else, which may hold views of the slot) retires its slot instead of freeing it
    retired = second.slot
    del second
    gc.collect()
    assert td._slots == [slot] and not retired.free()


def test_views_a_collate_wrapper_makes_keep_their_slot_leased(monkeypatch: pytest.MonkeyPatch):
    import gc

    import rrsis_bench.torch_data as td

    monkeypatch.setattr(td, "get_worker_info", lambda: object())
    monkeypatch.setattr(td, "_slots", [])
    samples = _pair()
    batch = collate(samples)
    batch["mask"] = batch["mask"].unsqueeze(1)  # a view of the slot, made in the worker
    batch["first"] = (batch["image"][0], {"column": batch["mask"][:, 0, :, 2]})
    batch["other"] = torch.arange(3)
    rebuild, args = batch.__reduce__()
    del batch
    got = rebuild(*args)
    images = torch.stack([s["image"] for s in samples])
    masks = torch.stack([s["mask"] for s in samples])
    assert torch.equal(got["mask"], masks.unsqueeze(1))
    assert torch.equal(got["first"][0], images[0])
    assert torch.equal(got["first"][1]["column"], masks[:, :, 2])
    assert torch.equal(got["other"], torch.arange(3))
    slot = td._slots[0]
    mask, column = got["mask"], got["first"][1]["column"]
    del got
    gc.collect()
    assert not slot.free()  # the views keep the slot leased
    del mask
    gc.collect()
    assert not slot.free()
    del column
    gc.collect()
    assert slot.free()


def test_batches_stay_intact_when_workers_run_out_of_slots(built: Path, monkeypatch):
    import rrsis_bench.torch_data as td

    monkeypatch.setattr(td, "_MAX_SLOTS", 1)  # inherited by the forked workers
    ds = RRSISDataset(built, "train")
    expected = [ds[i] for i in range(len(ds))]
    held = list(DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate))
    dropped = [
        (b["sample_id"], b["image"].clone(), b["mask"].clone())
        for b in DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate)
    ]
    for k, (batch, (ids, image, mask)) in enumerate(zip(held, dropped, strict=True)):
        want = expected[2 * k : 2 * k + 2]
        assert batch["sample_id"] == ids == [s["sample_id"] for s in want]
        for got_image, got_mask in ((batch["image"], batch["mask"]), (image, mask)):
            assert torch.equal(got_image, torch.stack([s["image"] for s in want]))
            assert torch.equal(got_mask, torch.stack([s["mask"] for s in want]))


def test_a_forked_copy_of_a_batch_does_not_free_its_slot(monkeypatch: pytest.MonkeyPatch):
    import gc

    import rrsis_bench.torch_data as td

    monkeypatch.setattr(td, "get_worker_info", lambda: object())
    monkeypatch.setattr(td, "_slots", [])
    batch = collate(_pair())
    rebuild, args = batch.__reduce__()
    del batch
    got = rebuild(*args)
    slot = td._slots[0]
    assert not slot.free()
    monkeypatch.setattr(td.os, "getpid", lambda: -1)  # as if collected in a forked child
    del got
    gc.collect()
    assert not slot.free()


def test_worker_slots_follow_the_environment(monkeypatch: pytest.MonkeyPatch):
    import rrsis_bench.torch_data as td

    monkeypatch.setattr(td, "get_worker_info", lambda: object())
    monkeypatch.setattr(td, "_slots", [])
    monkeypatch.setenv("RRSIS_BENCH_WORKER_SLOTS", "0")
    batch = collate(_pair())
    assert type(batch) is dict and td._slots == []  # reuse off: fresh shared memory
    assert batch["image"].is_shared()
    monkeypatch.setenv("RRSIS_BENCH_WORKER_SLOTS", "1")
    first, second = collate(_pair()), collate(_pair())
    assert type(first).__name__ == "_SlotBatch" and type(second) is dict
    monkeypatch.setenv("RRSIS_BENCH_WORKER_SLOTS", "many")
    monkeypatch.setattr(td, "_slots", [])
    with pytest.raises(ValueError) as info:
        collate(_pair())
    assert str(info.value) == (
        "Expected RRSIS_BENCH_WORKER_SLOTS to be a whole number >= 0 (0 turns shared-memory "
        "reuse off), but got 'many'"
    )


def test_worker_batches_decode_straight_into_a_slot(built: Path, monkeypatch: pytest.MonkeyPatch):
    import gc
    from types import SimpleNamespace

    import rrsis_bench.torch_data as td

    ds = RRSISDataset(built, "train")
    single = [ds[i] for i in range(4)]
    monkeypatch.setattr(td, "get_worker_info", lambda: object())
    monkeypatch.setattr(td, "_slots", [])
    samples = ds.__getitems__([0, 1, 2, 3])
    assert type(samples).__name__ == "_SlotSamples" and len(td._slots) == 1
    for got, want in zip(samples, single, strict=True):
        assert torch.equal(got["image"], want["image"]) and torch.equal(got["mask"], want["mask"])
        assert got["sample_id"] == want["sample_id"]
    batch = collate(samples)
    assert type(batch).__name__ == "_SlotBatch" and batch.slot is samples.slot
    assert len(td._slots) == 1  # nothing was copied into a second slot
    assert torch.equal(batch["image"], torch.stack([s["image"] for s in single]))
    assert batch["image"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(batch["mask"], torch.stack([s["mask"] for s in single]))
    rebuild, args = batch.__reduce__()
    del batch, samples
    gc.collect()
    got = rebuild(*args)
    assert torch.equal(got["mask"], torch.stack([s["mask"] for s in single]))
    slot = td._slots[0]
    del got
    gc.collect()
    assert slot.free()

    # samples another collate function takes: the slot is retired once they are gone
    unclaimed = ds.__getitems__([4, 5])
    assert unclaimed.slot is slot
    stacked = torch.utils.data.default_collate([{"mask": s["mask"]} for s in unclaimed])
    assert torch.equal(stacked["mask"], torch.stack([ds[4]["mask"], ds[5]["mask"]]))
    del unclaimed
    gc.collect()
    assert td._slots == []

    # samples a wrapper changed are stacked by copying; their own slot is retired
    changed = ds.__getitems__([0, 1])
    changed[0]["image"] = changed[0]["image"].clone()
    copied = collate(changed)
    assert copied.slot is not changed.slot
    assert torch.equal(copied["image"], torch.stack([single[0]["image"], single[1]["image"]]))
    first = changed.slot
    del changed
    gc.collect()
    assert td._slots == [copied.slot] and first not in td._slots

    # a size the batch does not share, or a mask of another size: one sample at a time
    items = [ds.view[i] for i in range(3)]
    odd = SimpleNamespace(**{k: getattr(items[2], k) for k in ("height", "text", "sample_id")})
    odd.width, odd.rle = 32, items[2].rle
    assert td._decode_into_slot([items[0], items[1], odd], [0, 1, 2]) is None
    assert len(td._slots) == 1  # refused before taking a slot
    # an image whose pixels are not the size the build recorded: the slot is given back unused
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, "PNG")
    liar = SimpleNamespace(height=items[2].height, width=items[2].width, rle=items[2].rle)
    liar.image_bytes = buf.getvalue()
    assert td._decode_into_slot([items[0], liar], [0, 1]) is None
    assert len(td._slots) == 2 and td._slots[1].free()
    plain = RRSISDataset(built, "train", transform=lambda s: s).__getitems__([0, 1])
    assert type(plain) is list


def test_fast_path_edge_cases(built: Path, monkeypatch: pytest.MonkeyPatch):
    from types import SimpleNamespace

    import rrsis_bench.torch_data as td

    ds = RRSISDataset(built, "train")
    want = [ds[i] for i in range(3)]
    monkeypatch.setattr(td, "get_worker_info", lambda: object())
    monkeypatch.setattr(td, "_slots", [])
    # indices as a numpy array (a batch sampler may give one)
    samples = ds.__getitems__(np.arange(3))
    assert [s["sample_id"] for s in samples] == [w["sample_id"] for w in want]
    # a wrapper that drops samples: stacked by copying, still correct
    del samples[2:]
    shorter = collate(samples)
    assert shorter.slot is not samples.slot
    assert torch.equal(shorter["mask"], torch.stack([want[0]["mask"], want[1]["mask"]]))
    # slot capacities are whole multiples of the alignment, so any dtype can view them
    assert td._Slot(217).capacity == 256
    # an image that cannot be decoded: the error surfaces and the slot is free again
    bad = SimpleNamespace(height=48, width=64, rle=ds.view[0].rle, image_bytes=b"not an image")
    with pytest.raises(Exception, match="cannot identify image file"):
        td._decode_into_slot([ds.view[0], bad], [0, 1])
    assert td._slots[-1].free()


def test_numpy_batch_sampler_with_workers(built: Path):
    ds = RRSISDataset(built, "train")
    batches = [np.arange(i, min(i + 3, len(ds))) for i in range(0, len(ds), 3)]
    loader = DataLoader(ds, batch_sampler=batches, num_workers=2, collate_fn=collate)
    got = [sid for b in loader for sid in b["sample_id"]]
    assert got == ds.sample_ids
