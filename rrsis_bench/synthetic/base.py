"""What every synthetic layout shares: scene tasks, ground truth records and the layout interface.

A layout turns scenes into one raw release layout. Generation has two stages so that it can run
in several processes and stay byte-identical whatever their number:

1. :meth:`Layout.plan` (main process) fixes every name and id in advance from the seed;
2. :meth:`Layout.scene` (any process) draws one scene from its own seeded generator, writes that
   scene's image and mask files and returns small metadata;
3. :meth:`Layout.finish` (main process) writes the annotation files from the metadata, in
   scene order.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rrsis_bench.schema import Rle
from rrsis_bench.synthetic.categories import Category
from rrsis_bench.synthetic.grammar import Phrase, describe
from rrsis_bench.synthetic.scene import Scene, compose

DEFAULT_SPLIT_FRACTIONS: tuple[float, float, float] = (0.6, 0.2, 0.2)


@dataclass(frozen=True)
class SceneTask:
    """One scene to generate: its index, split, size and the names fixed for it in advance."""

    index: int
    split: str
    seed: int
    size: int
    names: dict[str, Any] = field(default_factory=dict)

    def rng(self, attempt: int = 0) -> np.random.Generator:
        """The scene's own generator (independent of every other scene and of the process)."""
        return np.random.default_rng([self.seed, self.index, attempt])


@dataclass(frozen=True)
class TruthExpression:
    """What the generator knows about one expression of the release it wrote.

    Attributes:
        split: ``train``, ``val`` or ``test``.
        image: Path of the image file the expression is about, relative to the release root.
        key: The layout's own key of the sample (RefSegRS / RISBench id, RRSIS-D ref id, or
            NWPU-Refer ``<image_id>``).
        text: The sentence exactly as written.
        language: ``en`` or ``zh``.
        target_type: ``single``, ``multi`` or ``none`` as the grammar selected it.
        mask: Union of the selected objects' masks (empty for no-target).
        object_ids: Ids of the selected objects in the layout's own numbering.
        categories: Category names of the selected objects (sorted, unique).
        mentions: Category names the sentence names (also for no-target sentences).
        rule: The grammar rule (``colour``, ``relation``, ``absent``, ...).
    """

    split: str
    image: str
    key: str
    text: str
    language: str
    target_type: str
    mask: Rle
    object_ids: tuple[str, ...]
    categories: tuple[str, ...]
    mentions: tuple[str, ...]
    rule: str

    def to_json(self) -> dict[str, Any]:
        """Plain-data form (one line of ``--truth`` JSONL)."""
        return {
            "split": self.split,
            "image": self.image,
            "key": self.key,
            "text": self.text,
            "language": self.language,
            "target_type": self.target_type,
            "mask": dict(self.mask),
            "object_ids": list(self.object_ids),
            "categories": list(self.categories),
            "mentions": list(self.mentions),
            "rule": self.rule,
        }


@dataclass
class SceneOutput:
    """What one scene job returns to the main process (small: no pixels)."""

    task: SceneTask
    width: int
    height: int
    records: dict[str, Any]
    truth: list[TruthExpression]


class Layout(abc.ABC):
    """A raw release layout the generator can write.

    Subclasses set ``name``, ``categories``, ``default_size`` and ``description``; ``subdir``
    is the release's top folder inside ``--out`` (``RefSegRS``), empty when files lie directly
    in it.
    """

    name: ClassVar[str]
    subdir: ClassVar[str] = ""
    categories: ClassVar[tuple[Category, ...]]
    default_size: ClassVar[int]
    description: ClassVar[str]
    hypernyms: ClassVar[bool] = False
    max_attempts: ClassVar[int] = 8

    def plan(self, n_images: int, splits: list[str], seed: int, size: int) -> list[SceneTask]:
        """Fix every scene's split and names (ids, file names) from the seed."""
        return [SceneTask(i, split, seed, size) for i, split in enumerate(splits)]

    @abc.abstractmethod
    def scene(self, task: SceneTask, root: Path) -> SceneOutput:
        """Draw one scene, write its image and mask files under ``root``, return metadata."""

    @abc.abstractmethod
    def finish(self, root: Path, outputs: list[SceneOutput]) -> list[TruthExpression]:
        """Write the annotation files from every scene's metadata; return the final truth.

        Ids assigned only here (NWPU-Refer's ann, ref and sentence ids) are filled into the
        truth records returned.
        """

    def draw(
        self, task: SceneTask, choose: Any, attempts: int | None = None
    ) -> tuple[Scene, Any, np.random.Generator]:
        """Compose scenes until ``choose(scene, phrases, rng)`` returns a non-empty choice.

        Each attempt uses a generator derived from the task and the attempt number, so the
        result depends on the seed and the scene index only.
        """
        last: tuple[Scene, Any, np.random.Generator] | None = None
        for attempt in range(attempts or self.max_attempts):
            rng = task.rng(attempt)
            scene = compose(self.categories, rng, task.size, task.size)
            phrases = describe(scene, rng, hypernyms=self.hypernyms)
            chosen = choose(scene, phrases, rng)
            last = (scene, chosen, rng)
            if chosen:
                return last
        assert last is not None
        return last


def pick(
    phrases: list[Phrase], rng: np.random.Generator, used: set[str], key: str = "en"
) -> Phrase | None:
    """Pick a phrase whose rule is drawn uniformly among the rules available, text not used yet."""
    fresh = [p for p in phrases if getattr(p, key) not in used]
    if not fresh:
        return None
    rules = sorted({p.rule for p in fresh})
    rule = rules[int(rng.integers(0, len(rules)))]
    among = [p for p in fresh if p.rule == rule]
    chosen = among[int(rng.integers(0, len(among)))]
    used.add(getattr(chosen, key))
    return chosen


def split_plan(
    n_images: int, fractions: tuple[float, float, float] = DEFAULT_SPLIT_FRACTIONS
) -> list[str]:
    """Split of each scene: contiguous train, val, test blocks (each non-empty).

    Example:
        >>> split_plan(5)
        ['train', 'train', 'train', 'val', 'test']
    """
    if n_images < 3:
        raise ValueError(f"Expected at least 3 images (one per split), but got {n_images}")
    n_val = max(1, round(n_images * fractions[1]))
    n_test = max(1, round(n_images * fractions[2]))
    n_train = n_images - n_val - n_test
    if n_train < 1:
        n_train, n_val, n_test = n_images - 2, 1, 1
    return ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
