"""A torch ``Dataset`` over the expression view (needs the optional ``torch`` extra).

Each item is a sample dict, the shape torchgeo uses::

    {"image": uint8 tensor [3, H, W] (a channels-first view of the decoded HWC pixels),
     "mask": uint8 tensor [H, W] (0/1),
     "text": str, "target_type": "single" | "multi" | "none", "sample_id": str,
     "image_id": str, "categories": list[str]}

A ``transform`` receives that dict and returns the dict the model gets (resize, normalise,
tokenise...). The dataset is map-style and deterministic: item ``i`` is the same expression in
every process, so ``DistributedSampler`` and ``DataLoader(num_workers=N)`` shard it without
overlap; :meth:`RRSISDataset.shard` gives explicit contiguous parts. Shard files are opened
lazily in each worker process. :func:`collate` stacks equal-sized tensors and keeps strings as
lists.

Inside ``DataLoader`` workers, :func:`collate` stacks each batch into one of a few blocks of
shared memory that the worker reuses, instead of the fresh shared memory torch allocates for
every batch (without a ``transform``, the dataset's ``__getitems__`` decodes a batch of
equal-sized images and masks straight into such a block, so nothing is stacked at all); the main process receives tensors that are views of that block, and the block is
reused once the last of them is gone. The batch reaches your loop as a plain dict, exactly as
without it. A worker keeps at most 8 such blocks (each about one batch; set
``RRSIS_BENCH_WORKER_SLOTS`` to change that, 0 turns reuse off); when all are in use, for
example because the loop keeps every batch, batches go through fresh shared memory.

Example:
    >>> from torch.utils.data import DataLoader                     # doctest: +SKIP
    >>> from rrsis_bench.torch_data import RRSISDataset, collate    # doctest: +SKIP
    >>> ds = RRSISDataset("rrsis-d", split="train")                 # doctest: +SKIP
    >>> loader = DataLoader(ds, batch_size=8, num_workers=2, collate_fn=collate)  # doctest: +SKIP
    >>> batch = next(iter(loader)); batch["image"].shape            # doctest: +SKIP
    torch.Size([8, 3, 800, 800])
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rrsis_bench import masks
from rrsis_bench.expressions import ExpressionView
from rrsis_bench.images import open_image
from rrsis_bench.schema import Rle
from rrsis_bench.store import BuiltDataset

try:
    import torch
    from torch.utils.data import Dataset as _TorchDataset
    from torch.utils.data import default_collate, get_worker_info
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "rrsis_bench.torch_data needs torch: pip install 'rrsis-bench[torch]'"
    ) from _exc

Sample = dict[str, Any]
Transform = Callable[[Sample], Sample]

__all__ = ["RRSISDataset", "Sample", "Transform", "collate"]


def _decode_rgb(data: bytes) -> np.ndarray:

    with open_image(data) as im:
        rgb = im if im.mode == "RGB" else im.convert("RGB")
        return np.array(rgb)


def _decode_mask(rle: Rle) -> np.ndarray:
    """The mask as ``(h, w)`` uint8, left in the column-major order the RLE decodes to."""
    from pycocotools import mask as coco_mask

    counts = rle["counts"]
    raw = {"size": list(rle["size"]), "counts": counts.encode("ascii")}
    return np.asarray(coco_mask.decode(raw))


class RRSISDataset(_TorchDataset):
    """Referring expressions of a built dataset as torch samples.

    Args:
        name_or_path: A registered dataset name, a build folder, or an
            :class:`~rrsis_bench.expressions.ExpressionView` to wrap.
        split: ``train``, ``val`` or ``test``; ``None`` for every split.
        transform: Called on each sample dict; its return value is the item.
        target_types: Keep only these target types.
        categories: Keep expressions with at least one of these categories.
        languages: Keep only these languages.
    """

    def __init__(
        self,
        name_or_path: str | Path | BuiltDataset | ExpressionView,
        split: str | None = None,
        *,
        transform: Transform | None = None,
        target_types: Iterable[str] | None = None,
        categories: Iterable[str] | None = None,
        languages: Iterable[str] | None = None,
    ):
        if isinstance(name_or_path, ExpressionView):
            view = name_or_path.filter(
                target_types=target_types, categories=categories, languages=languages
            )
        else:
            view = ExpressionView(
                name_or_path,
                split,
                target_types=target_types,
                categories=categories,
                languages=languages,
            )
        self.view = view
        self.transform = transform

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, index: int) -> Sample:
        item = self.view[index]
        image = _decode_rgb(item.image_bytes)
        sample: Sample = {
            "image": torch.from_numpy(image).permute(2, 0, 1),
            "mask": torch.from_numpy(_decode_mask(item.rle)),
            "text": item.text,
            "target_type": item.target_type,
            "sample_id": item.sample_id,
            "image_id": item.image_id,
            "categories": item.categories,
        }
        if self.transform is not None:
            sample = self.transform(sample)
        return sample

    def __getitems__(self, indices: list[int]) -> list[Sample]:
        """The samples of one batch (``DataLoader`` calls this instead of ``__getitem__``).

        Inside a worker and without a transform, images and masks of equal size are decoded
        straight into a reusable shared-memory slot, which :func:`collate` then hands over
        without copying; otherwise this is ``[self[i] for i in indices]``.
        """
        indices = list(indices)  # a batch sampler may give an array or a tensor
        if self.transform is None and get_worker_info() is not None and len(indices) > 0:
            samples = _decode_into_slot(self.view, indices)
            if samples is not None:
                return samples
        return [self[i] for i in indices]

    @property
    def sample_ids(self) -> list[str]:
        """Sample ids in item order."""
        return self.view.sample_ids

    def shard(self, num_shards: int, index: int, contiguous: bool = True) -> RRSISDataset:
        """Deterministic part ``index`` of ``num_shards`` (parts differ in size by at most one)."""
        new = object.__new__(RRSISDataset)
        new.view = self.view.shard(num_shards, index, contiguous)
        new.transform = self.transform
        return new


def _stack_plan(values: list[Any]) -> tuple[list[int], tuple[int, ...]] | None:
    """How to stack ``values`` with one contiguous copy: (dimension order, block shape).

    ``None`` when the tensors do not all share one strided layout that is a permutation of a
    contiguous block (then ``default_collate`` stacks them).
    """
    first = values[0]
    order = sorted(range(first.dim()), key=lambda d: -first.stride(d))
    if (
        first.device.type != "cpu"
        or first.dtype not in (torch.uint8, torch.float32, torch.int64)
        or not all(v.stride() == first.stride() and v.dtype == first.dtype for v in values)
        or not first.permute(order).is_contiguous()
    ):
        return None
    return order, (len(values), *first.permute(order).shape)


def _fill(values: list[Any], order: list[int], out: Any) -> Any:
    """Copy ``values`` side by side into the contiguous block ``out``; the batch view of it."""
    np.stack([v.permute(order).numpy() for v in values], out=out.numpy())
    return out.permute([0, *[order.index(d) + 1 for d in range(len(order))]])


def _stack(values: list[Any], shared: bool = False) -> Any:
    """Stack equal-shaped tensors with one contiguous copy, keeping their memory layout.

    Images are channels-first views of channels-last pixels and masks are column-major (as they
    decode); stacking such views element by element is several times slower than decoding. When
    every tensor is a permutation of a contiguous block with the same strides, the blocks are
    copied side by side and the batch is the same permutation of that block: an image batch is
    ``[B, 3, H, W]`` in ``torch.channels_last`` memory format. ``shared`` puts the block in
    fresh shared memory, as ``default_collate`` does inside a DataLoader worker.
    """
    plan = _stack_plan(values)
    if plan is None:
        return default_collate(values)
    order, shape = plan
    first = values[0]
    if shared:
        storage = first._typed_storage()._new_shared(int(np.prod(shape)), device=first.device)
        out = first.new(storage).resize_(shape)
    else:
        out = torch.empty(shape, dtype=first.dtype)
    return _fill(values, order, out)


# --- Handing batches from DataLoader workers to the main process -------------------------------
#
# torch hands a worker's batch over in shared memory that it allocates afresh for every batch
# and frees once the main process drops the batch. Creating and freeing those pages costs more
# than decoding a third of the images (on a 2-core VM, 17 ms of CPU for an 8 x 800 x 800 image
# batch, against 2 ms to copy it into reused memory), so each worker keeps a few shared "slots"
# and reuses them. The worker stacks a batch into a free slot and marks it busy; the batch is
# pickled as (slot, generation, layout); unpickling in the main process makes the batch's
# tensors views of the slot, tied to a lease that counts itself in the slot's header and marks
# the slot free when the last lease's last tensor is gone. Nothing is copied on either side.
# A slot is reused only once its busy flag is cleared; an unpickler that finds another
# generation in the slot raises instead of returning someone else's pixels. When every slot is
# busy the batch goes the usual way (fresh shared memory).

_HEADER = 64  # slot header: byte 0 busy flag, bytes 4-7 leases (int32), bytes 8-15 generation
_ALIGN = 64
_MAX_SLOTS = 8  # per worker process, unless RRSIS_BENCH_WORKER_SLOTS says otherwise
SLOTS_ENV = "RRSIS_BENCH_WORKER_SLOTS"


def _max_slots() -> int:
    """Slots a worker may keep: ``$RRSIS_BENCH_WORKER_SLOTS`` (0 turns reuse off) or 8.

    Raises:
        ValueError: The variable is set to something other than a whole number >= 0.
    """
    value = os.environ.get(SLOTS_ENV)
    if value is None or value.strip() == "":
        return _MAX_SLOTS
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        raise ValueError(
            f"Expected {SLOTS_ENV} to be a whole number >= 0 (0 turns shared-memory reuse off), "
            f"but got {value!r}"
        )
    return n


class _Slot:
    """A block of shared memory a worker reuses for successive batches."""

    def __init__(self, nbytes: int):
        nbytes = -(-nbytes // _ALIGN) * _ALIGN  # any dtype can view any part of it
        storage = torch.UntypedStorage._new_shared(_HEADER + nbytes)
        self.buffer = torch.empty(0, dtype=torch.uint8).set_(storage)
        head = self.buffer[:_HEADER].numpy()
        self.flag = head[:1]
        self.generation = head[8:16].view(np.int64)
        self.capacity = nbytes

    def free(self) -> bool:
        return int(self.flag[0]) == 0

    def take(self) -> int:
        self.generation[0] += 1
        self.flag[0] = 1
        return int(self.generation[0])


_slots: list[_Slot] = []


def _take_slot(nbytes: int) -> tuple[_Slot, int] | None:
    """A free slot of at least ``nbytes`` (made when there is room), or ``None``."""
    free = [s for s in _slots if s.free()]
    fits = [s for s in free if s.capacity >= nbytes]
    if fits:
        slot = min(fits, key=lambda s: s.capacity)
    else:
        if len(_slots) >= _max_slots():
            if not free:
                return None
            _slots.remove(min(free, key=lambda s: s.capacity))
        slot = _Slot(nbytes)
        _slots.append(slot)
    return slot, slot.take()


class _Lease:
    """The main process's hold on a slot: numpy memory that frees the slot when collected.

    A batch's tensors are views of ``np.asarray(lease)``, so the lease lives exactly as long as
    the last of them; the last lease of a slot clears its busy flag when collected, and
    ``buffer`` (the mapped slot) is released after that.
    """

    def __init__(self, buffer: Any):
        self.buffer = buffer
        self.pid = os.getpid()
        self.leases = buffer[4:8].view(torch.int32)
        self.leases += 1
        self.__array_interface__ = {
            "data": (buffer.data_ptr(), False),
            "shape": (buffer.numel(),),
            "typestr": "|u1",
            "version": 3,
        }

    def __del__(self) -> None:
        if os.getpid() != self.pid:
            return  # a forked copy: the lease belongs to the process that unpickled the batch
        self.leases -= 1
        if int(self.leases[0]) == 0:
            self.buffer[0] = 0


@dataclass(frozen=True)
class _SlotView:
    """A tensor of a slot batch, as pickled: where it lies in the slot."""

    dtype: Any
    size: tuple[int, ...]
    stride: tuple[int, ...]
    offset: int  # storage offset, in elements of ``dtype``


def _map_leaves(value: Any, fn: Callable[[Any], Any]) -> Any:
    """``value`` with ``fn`` applied to every leaf of its nested dicts, lists and tuples."""
    if isinstance(value, dict):
        return {k: _map_leaves(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_map_leaves(v, fn) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return fn(value)


def _in_slot(value: Any, slot: _Slot) -> Any:
    """``value`` with every tensor that lives in ``slot`` replaced by its :class:`_SlotView`."""
    ptr = slot.buffer.untyped_storage().data_ptr()

    def spec(leaf: Any) -> Any:
        if (
            isinstance(leaf, torch.Tensor)
            and leaf.device.type == "cpu"
            and leaf.untyped_storage().data_ptr() == ptr
        ):
            return _SlotView(
                leaf.dtype, tuple(leaf.shape), tuple(leaf.stride()), int(leaf.storage_offset())
            )
        return leaf

    return _map_leaves(value, spec)


def _from_slot(value: Any, whole: Any) -> Any:
    """Undo :func:`_in_slot` on the receiving side: views of ``whole`` (the leased slot)."""

    def view(leaf: Any) -> Any:
        if isinstance(leaf, _SlotView):
            return whole.view(leaf.dtype).as_strided(leaf.size, leaf.stride, leaf.offset)
        return leaf

    return _map_leaves(value, view)


class _SlotBatch(dict[str, Any]):
    """A worker's batch whose stacked tensors live in a reusable slot (see above).

    Pickling sends every tensor that lives in the slot, wherever it is in the batch (also views
    a collate wrapper made of them), as a leased view. A batch that is collected in the worker
    without being pickled (a wrapper returned something else) retires its slot: views of it
    may have escaped, so it is never reused.
    """

    slot: _Slot
    generation: int
    pickled: list[bool]

    def __reduce__(self) -> tuple[Any, ...]:
        self.pickled[0] = True
        return (
            _batch_from_slot,
            (self.slot.buffer, self.generation, _in_slot(dict(self), self.slot)),
        )


def _retire(slot: _Slot, pickled: list[bool]) -> None:
    if not pickled[0] and slot in _slots:
        _slots.remove(slot)


def _batch_from_slot(buffer: Any, generation: int, batch: dict[str, Any]) -> dict[str, Any]:
    """Unpickle a slot batch: its tensors are views of the slot, which they lease."""
    if int(buffer[8:16].view(torch.int64)[0]) != generation:
        raise RuntimeError(
            "a DataLoader batch was unpickled after its worker reused its memory; "
            "unpickle each batch once, as DataLoader does"
        )
    return _from_slot(batch, torch.from_numpy(np.asarray(_Lease(buffer))))


def _collate_into_slot(samples: Sequence[Sample]) -> dict[str, Any] | None:
    """Inside a DataLoader worker: the batch stacked into a reusable slot, or ``None``."""
    plans = {}
    offset = 0
    for key in samples[0]:
        values = [s[key] for s in samples]
        if not all(isinstance(v, torch.Tensor) for v in values):
            continue
        if len({tuple(v.shape) for v in values}) != 1:
            continue
        plan = _stack_plan(values)
        if plan is None:
            continue
        order, shape = plan
        nbytes = int(np.prod(shape)) * values[0].element_size()
        plans[key] = (values, order, shape, offset, nbytes)
        offset += -(-nbytes // _ALIGN) * _ALIGN
    if not plans:
        return None
    taken = _take_slot(offset)
    if taken is None:
        return None
    slot, generation = taken
    batch = _SlotBatch()
    batch.slot, batch.generation, batch.pickled = slot, generation, [False]
    weakref.finalize(batch, _retire, slot, batch.pickled)
    for key in samples[0]:
        if key in plans:
            values, order, shape, start, nbytes = plans[key]
            raw = slot.buffer[_HEADER + start : _HEADER + start + nbytes]
            batch[key] = _fill(values, order, raw.view(values[0].dtype).view(shape))
        else:
            batch[key] = _collate_key([s[key] for s in samples])
    return batch


class _SlotSamples(list[Sample]):
    """Samples whose images and masks were decoded side by side into one slot.

    :func:`collate` claims the slot and stacks nothing; a batch that never reaches it (another
    collate function) retires the slot when these samples are collected, since views of it may
    have been handed on.
    """

    slot: _Slot
    generation: int
    images: Any  # [B, H, W, 3] uint8 in the slot
    masks: Any  # [B, W, H] uint8 in the slot (each mask column-major)
    originals: list[tuple[Any, Any]]
    claimed: list[bool]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))  # sent as they are (another collate_fn): a plain list


def _fill_mask(out: np.ndarray, counts: str) -> bool:
    """Decode compressed RLE ``counts`` into the contiguous column-major block ``out``."""
    runs = masks.rle_runs(counts)
    flat = out.reshape(-1)
    if runs is None or int(runs.sum()) != flat.size:
        return False
    if len(runs) > 4096:  # many runs: one vectorised pass
        values = np.zeros(len(runs), dtype=np.uint8)
        values[1::2] = 1
        flat[:] = np.repeat(values, runs)
        return True
    flat[:] = 0
    ends = np.cumsum(runs)
    for start, stop in zip((ends - runs)[1::2].tolist(), ends[1::2].tolist(), strict=True):
        flat[start:stop] = 1
    return True


def _decode_into_slot(view: ExpressionView, indices: list[int]) -> _SlotSamples | None:
    """A batch decoded into a slot, or ``None`` (sizes differ, no free slot, odd data)."""
    items = [view[i] for i in indices]
    h, w = items[0].height, items[0].width
    if any((it.height, it.width) != (h, w) or tuple(it.rle["size"]) != (h, w) for it in items):
        return None
    n = len(items)
    image_bytes = -(-(n * h * w * 3) // _ALIGN) * _ALIGN
    taken = _take_slot(image_bytes + n * h * w)
    if taken is None:
        return None
    slot, generation = taken
    images = slot.buffer[_HEADER : _HEADER + n * h * w * 3].view(n, h, w, 3)
    start = _HEADER + image_bytes
    masks_block = slot.buffer[start : start + n * w * h].view(n, w, h)
    pixels, columns = images.numpy(), masks_block.numpy()
    for k, it in enumerate(items):
        try:
            with open_image(it.image_bytes) as im:
                rgb = im if im.mode == "RGB" else im.convert("RGB")
                ok = rgb.size == (w, h) and _fill_mask(columns[k], it.rle["counts"])
                if ok:
                    np.copyto(pixels[k], np.asarray(rgb))
        except BaseException:
            slot.flag[0] = 0  # nothing of the slot was handed out: it can be used again
            raise
        if not ok:
            slot.flag[0] = 0
            return None
    out = _SlotSamples(
        {
            "image": images[k].permute(2, 0, 1),
            "mask": masks_block[k].t(),
            "text": it.text,
            "target_type": it.target_type,
            "sample_id": it.sample_id,
            "image_id": it.image_id,
            "categories": it.categories,
        }
        for k, it in enumerate(items)
    )
    out.slot, out.generation, out.images, out.masks = slot, generation, images, masks_block
    out.originals = [(s["image"], s["mask"]) for s in out]
    out.claimed = [False]
    weakref.finalize(out, _retire, slot, out.claimed)
    return out


def _claim(samples: _SlotSamples) -> _SlotBatch | None:
    """The batch of samples decoded into a slot, without copying; ``None`` if they changed."""
    if (
        samples.claimed[0]
        or len(samples) != len(samples.originals)
        or any(
            s.get("image") is not image or s.get("mask") is not mask
            for s, (image, mask) in zip(samples, samples.originals, strict=True)
        )
    ):
        return None
    samples.claimed[0] = True
    batch = _SlotBatch()
    batch.slot, batch.generation, batch.pickled = samples.slot, samples.generation, [False]
    weakref.finalize(batch, _retire, samples.slot, batch.pickled)
    for key in samples[0]:
        if key == "image":
            batch[key] = samples.images.permute(0, 3, 1, 2)
        elif key == "mask":
            batch[key] = samples.masks.permute(0, 2, 1)
        else:
            batch[key] = _collate_key([s[key] for s in samples])
    return batch


def _collate_key(values: list[Any]) -> Any:
    if all(isinstance(v, torch.Tensor) for v in values) and (
        len({tuple(v.shape) for v in values}) == 1
    ):
        return _stack(values, shared=get_worker_info() is not None)
    return values


def collate(samples: Sequence[Sample]) -> dict[str, Any]:
    """Batch sample dicts: tensors of one shape are stacked, anything else becomes a list.

    An image batch is ``[B, 3, H, W]`` in channels-last memory format (call ``.contiguous()`` for
    the default layout); masks are ``[B, H, W]``.

    A collate wrapper in a worker may change the returned dict and put views of its tensors in
    it; it should not also return one of those tensors outside the dict, which would not keep
    the worker from reusing its memory once the dict's tensors are gone.

    Example:
        >>> import torch
        >>> b = collate([{"mask": torch.zeros(2, 2), "text": "a"}, {"mask": torch.ones(2, 2), "text": "b"}])
        >>> b["mask"].shape, b["text"]
        (torch.Size([2, 2, 2]), ['a', 'b'])
    """
    if not samples:
        return {}
    if get_worker_info() is not None:
        if isinstance(samples, _SlotSamples):
            claimed = _claim(samples)
            if claimed is not None:
                return claimed
        batch = _collate_into_slot(samples)
        if batch is not None:
            return batch
    return {key: _collate_key([s[key] for s in samples]) for key in samples[0]}
