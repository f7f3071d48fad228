"""Phrase-file layouts: RefSegRS and RISBench, with each release's quirks.

RefSegRS (``research/datasets.md`` §1)::

    <out>/RefSegRS/images/<id>.tif        RGB TIFF, one file per expression (the same tile
                                          repeats under several ids)
    <out>/RefSegRS/masks/<id>.tif         single-channel LZW TIFF, foreground 255
    <out>/RefSegRS/output_phrase_{train,val,test}.txt   ``<id> <expression>`` per line

Ids are decimal, unpadded and not contiguous; expressions are lower-case lexicon phrases; a
class word names every instance of the class (``vehicle``); synonyms (``vehicle``, ``car``,
``light-duty vehicle``) describe the same tile and mask under different ids.

RISBench (§4)::

    <out>/RISBench_dataset/img_rgb/<split>_<img>_<obj>.png    one image copy per object
    <out>/RISBench_dataset/mask/<split>_<img>_<obj>.png       L mode, 0 / 255
    <out>/RISBench_dataset/output_phrase_{train,val,test}.txt   ``<file.png> <sentence>``

Validation files are named ``train_*`` (val was carved from the train numbering); sentences are
long descriptions with the release's spacing noise (double spaces, `` .`` before the full stop).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rrsis_bench import masks
from rrsis_bench.schema import SPLITS
from rrsis_bench.synthetic import encode
from rrsis_bench.synthetic.base import Layout, SceneOutput, SceneTask, TruthExpression, pick
from rrsis_bench.synthetic.categories import REFSEGRS_CATEGORIES, RISBENCH_CATEGORIES
from rrsis_bench.synthetic.grammar import Phrase, region_words
from rrsis_bench.synthetic.scene import Scene

REFSEGRS_IDS_PER_SCENE = 8
"""Ids reserved per RefSegRS scene (at most this many expressions per tile)."""


def _union_array(scene: Scene, objects: tuple[int, ...]) -> tuple[np.ndarray, dict]:
    rle = masks.union([scene.objects[i].mask for i in objects], scene.height, scene.width)
    return masks.decode(rle), dict(rle)


def _write_phrase_files(root: Path, lines: dict[str, list[str]]) -> None:
    for split in SPLITS:
        text = "".join(f"{line}\n" for line in lines.get(split, []))
        (root / f"output_phrase_{split}.txt").write_text(text, encoding="utf-8")


class RefSegRSLayout(Layout):
    """RefSegRS: lexicon phrases, one TIFF image and mask per expression id."""

    name = "refsegrs"
    subdir = "RefSegRS"
    categories = REFSEGRS_CATEGORIES
    default_size = 512
    description = "RefSegRS layout: RefSegRS/images/<id>.tif, masks/<id>.tif, output_phrase_*.txt"
    hypernyms = True
    synonym_probability = 0.7

    def plan(self, n_images: int, splits: list[str], seed: int, size: int) -> list[SceneTask]:
        """Reserve a block of shuffled, unpadded, non-contiguous ids for every scene."""
        k = REFSEGRS_IDS_PER_SCENE
        rng = np.random.default_rng([seed, 1_000_033])
        perm = rng.permutation(n_images * k) + 1
        return [
            SceneTask(i, split, seed, size, {"ids": [int(v) for v in perm[i * k : (i + 1) * k]]})
            for i, split in enumerate(splits)
        ]

    def scene(self, task: SceneTask, root: Path) -> SceneOutput:
        """Draw a tile, choose 2 to 4 expressions (plus synonyms), write images and masks."""

        def choose(
            scene: Scene, phrases: list[Phrase], rng: np.random.Generator
        ) -> list[tuple[str, Phrase]]:
            targeted = [p for p in phrases if p.objects]
            classes = [p for p in targeted if p.rule in ("all", "category")]
            others = [p for p in targeted if p.rule not in ("all", "category", "pair")]
            used: set[str] = set()
            out: list[tuple[str, Phrase]] = []
            for _ in range(int(rng.integers(2, 5))):
                pool = classes if rng.random() < 0.5 else others
                p = pick(pool, rng, used, key="core") or pick(targeted, rng, used, key="core")
                if p is None:
                    break
                out.append((self.text(p), p))
                if p.rule in ("all", "category") and rng.random() < self.synonym_probability:
                    for q in classes:
                        if q.objects == p.objects and q.core not in used:
                            used.add(q.core)
                            out.append((self.text(q), q))
            return out[:REFSEGRS_IDS_PER_SCENE]

        scene, chosen, _ = self.draw(task, choose)
        ids = task.names["ids"]
        image_bytes = encode.tiff_rgb(scene.image)
        lines = []
        truth = []
        for k, (text, p) in enumerate(chosen):
            sid = str(ids[k])
            mask, rle = _union_array(scene, p.objects)
            encode.write(root / "images" / f"{sid}.tif", image_bytes)
            encode.write(root / "masks" / f"{sid}.tif", encode.mask_tiff(mask))
            lines.append(f"{sid} {text}")
            truth.append(
                TruthExpression(
                    split=task.split,
                    image=f"images/{sid}.tif",
                    key=sid,
                    text=text,
                    language="en",
                    target_type=p.target_type,
                    mask=rle,  # type: ignore[arg-type]
                    object_ids=tuple(str(i) for i in p.objects),
                    categories=tuple(sorted({scene.objects[i].category.name for i in p.objects})),
                    mentions=p.mentions,
                    rule=p.rule,
                )
            )
        return SceneOutput(task, scene.width, scene.height, {"lines": lines}, truth)

    @staticmethod
    def text(p: Phrase) -> str:
        """RefSegRS wording: no determiner, class words in the singular (``vehicle``)."""
        if p.rule in ("all", "category"):
            return p.head
        return p.core_singular or p.core

    def finish(self, root: Path, outputs: list[SceneOutput]) -> list[TruthExpression]:
        """Write ``output_phrase_{train,val,test}.txt`` (lines in id order within a split)."""
        lines: dict[str, list[tuple[int, str]]] = {}
        for out in outputs:
            for line in out.records["lines"]:
                lines.setdefault(out.task.split, []).append((int(line.split(" ", 1)[0]), line))
        root.mkdir(parents=True, exist_ok=True)
        _write_phrase_files(root, {s: [ln for _, ln in sorted(v)] for s, v in lines.items()})
        return [t for out in outputs for t in out.truth]


class RISBenchLayout(Layout):
    """RISBench: one long single-target sentence per object, PNG images and masks."""

    name = "phrase"
    subdir = "RISBench_dataset"
    categories = RISBENCH_CATEGORIES
    default_size = 512
    description = "RISBench phrase layout: RISBench_dataset/img_rgb, mask, output_phrase_*.txt"
    noise_double_space = 0.15
    noise_space_stop = 0.25

    def plan(self, n_images: int, splits: list[str], seed: int, size: int) -> list[SceneTask]:
        """Name scenes ``train_<i>`` (train and val, one numbering) or ``test_<i>``."""
        tasks = []
        counters = {"train": 0, "test": 0}
        for i, split in enumerate(splits):
            prefix = "test" if split == "test" else "train"
            tasks.append(
                SceneTask(i, split, seed, size, {"prefix": prefix, "number": counters[prefix]})
            )
            counters[prefix] += 1
        return tasks

    def scene(self, task: SceneTask, root: Path) -> SceneOutput:
        """Draw a scene, describe 1 to 3 distinct objects, write one PNG pair per object."""

        def choose(scene: Scene, phrases: list[Phrase], rng: np.random.Generator) -> list[Phrase]:
            singles = [p for p in phrases if p.target_type == "single"]
            used: set[str] = set()
            taken: set[tuple[int, ...]] = set()
            out: list[Phrase] = []
            for _ in range(int(rng.integers(1, 4))):
                p = pick([s for s in singles if s.objects not in taken], rng, used)
                if p is None:
                    break
                taken.add(p.objects)
                out.append(p)
            return out

        scene, chosen, rng = self.draw(task, choose)
        image_bytes = encode.png_rgb(scene.image)
        lines = []
        truth = []
        for p in sorted(chosen, key=lambda q: q.objects):
            obj = scene.objects[p.objects[0]]
            stem = f"{task.names['prefix']}_{task.names['number']}_{obj.index}"
            text = self.sentence(p, scene, rng)
            mask = masks.decode(obj.mask)
            encode.write(root / "img_rgb" / f"{stem}.png", image_bytes)
            encode.write(root / "mask" / f"{stem}.png", encode.mask_png(mask))
            lines.append(f"{stem}.png {text}")
            truth.append(
                TruthExpression(
                    split=task.split,
                    image=f"img_rgb/{stem}.png",
                    key=stem,
                    text=text,
                    language="en",
                    target_type="single",
                    mask=obj.mask,
                    object_ids=(str(obj.index),),
                    categories=(obj.category.name,),
                    mentions=p.mentions,
                    rule=p.rule,
                )
            )
        return SceneOutput(task, scene.width, scene.height, {"lines": lines}, truth)

    def sentence(self, p: Phrase, scene: Scene, rng: np.random.Generator) -> str:
        """A RISBench-style sentence: where the object is, with the release's spacing noise."""
        obj = scene.objects[p.objects[0]]
        where, _ = region_words(obj, scene)
        where = where.replace(" corner", "").replace(" ", "-").replace("centre", "center")
        templates = (
            "The {np} is located at the {where} part of the image.",
            "The {np} is in the {where} of the image.",
            "There is {a} {np} at the {where} of the image.",
        )
        # a region rule already says where the object is: the sentence says it once
        noun = p.head if p.rule == "region" else p.core
        article = "an" if noun[:1] in "aeiou" else "a"
        # "there is a ..." does not fit a superlative ("the largest ship")
        usable = templates[:2] if p.rule in ("extreme", "largest", "smallest") else templates
        text = usable[int(rng.integers(0, len(usable)))].format(np=noun, where=where, a=article)
        if rng.random() < self.noise_double_space:
            words = text.split(" ")
            k = int(rng.integers(1, len(words)))
            text = " ".join(words[:k]) + "  " + " ".join(words[k:])
        if rng.random() < self.noise_space_stop:
            text = text[:-1] + " ."
        return text

    def finish(self, root: Path, outputs: list[SceneOutput]) -> list[TruthExpression]:
        """Write ``output_phrase_{train,val,test}.txt`` in scene order."""
        lines: dict[str, list[str]] = {}
        for out in outputs:
            lines.setdefault(out.task.split, []).extend(out.records["lines"])
        root.mkdir(parents=True, exist_ok=True)
        _write_phrase_files(root, lines)
        return [t for out in outputs for t in out.truth]
