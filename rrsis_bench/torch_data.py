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

Example:
    >>> from torch.utils.data import DataLoader                     # doctest: +SKIP
    >>> from rrsis_bench.torch_data import RRSISDataset, collate    # doctest: +SKIP
    >>> ds = RRSISDataset("rrsis-d", split="train")                 # doctest: +SKIP
    >>> loader = DataLoader(ds, batch_size=8, num_workers=2, collate_fn=collate)  # doctest: +SKIP
    >>> batch = next(iter(loader)); batch["image"].shape            # doctest: +SKIP
    torch.Size([8, 3, 800, 800])
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rrsis_bench.expressions import ExpressionView
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
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
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


def _stack(values: list[Any]) -> Any:
    """Stack equal-shaped tensors with one contiguous copy, keeping their memory layout.

    Images are channels-first views of channels-last pixels and masks are column-major (as they
    decode); stacking such views element by element is several times slower than decoding. When
    every tensor is a permutation of a contiguous block with the same strides, the blocks are
    copied side by side (into shared memory inside a DataLoader worker, as ``default_collate``
    does) and the batch is the same permutation of that block: an image batch is
    ``[B, 3, H, W]`` in ``torch.channels_last`` memory format.
    """
    first = values[0]
    order = sorted(range(first.dim()), key=lambda d: -first.stride(d))
    if (
        first.device.type != "cpu"
        or first.dtype not in (torch.uint8, torch.float32, torch.int64)
        or not all(v.stride() == first.stride() and v.dtype == first.dtype for v in values)
        or not first.permute(order).is_contiguous()
    ):
        return default_collate(values)
    blocks = [v.permute(order) for v in values]
    shape = (len(values), *blocks[0].shape)
    if get_worker_info() is not None:
        numel = int(np.prod(shape))
        storage = first._typed_storage()._new_shared(numel, device=first.device)
        out = first.new(storage).resize_(shape)
    else:
        out = torch.empty(shape, dtype=first.dtype)
    np.stack([b.numpy() for b in blocks], out=out.numpy())
    return out.permute([0, *[order.index(d) + 1 for d in range(first.dim())]])


def collate(samples: Sequence[Sample]) -> dict[str, Any]:
    """Batch sample dicts: tensors of one shape are stacked, anything else becomes a list.

    An image batch is ``[B, 3, H, W]`` in channels-last memory format (call ``.contiguous()`` for
    the default layout); masks are ``[B, H, W]``.

    Example:
        >>> import torch
        >>> b = collate([{"mask": torch.zeros(2, 2), "text": "a"}, {"mask": torch.ones(2, 2), "text": "b"}])
        >>> b["mask"].shape, b["text"]
        (torch.Size([2, 2, 2]), ['a', 'b'])
    """
    if not samples:
        return {}
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if all(isinstance(v, torch.Tensor) for v in values) and (
            len({tuple(v.shape) for v in values}) == 1
        ):
            out[key] = _stack(values)
        else:
            out[key] = values
    return out
