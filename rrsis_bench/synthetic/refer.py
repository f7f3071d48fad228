"""REFER-family layouts: RRSIS-D and NWPU-Refer, with each release's quirks.

RRSIS-D (``research/datasets.md`` §2)::

    <out>/rrsisd/refs(unc).p          pickled list of dicts, the verbatim key set, one sentence
                                      per ref, ref_id == ann_id == image_id == sent_id
    <out>/rrsisd/instances.json       ``categories_id`` (not category_id), [x1, y1, x2, y2] boxes,
                                      ``segmentation`` a list holding one compressed RLE, an
                                      ``area`` that is not the mask area, the 20 DIOR categories
    <out>/images/rrsisd/JPEGImages/NNNNN.jpg   5-digit, non-contiguous ids
    <out>/images/rrsisd/ann_split/NNNNN.xml    several objects, only the last one segmented

NWPU-Refer (§3)::

    <out>/new_refs(unc).p             one scalar ann_id per ref; a multi-target expression is
                                      several refs sharing a sentence; English and Chinese
                                      sentences
    <out>/new_instances.json          COCO polygons, [x, y, w, h] boxes, a ``no target``
                                      category whose annotations have an empty segmentation
    <out>/image/image/NNNNN.jpg       the nested image folder of the release
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any, ClassVar
from xml.sax.saxutils import escape

import numpy as np

from rrsis_bench import masks
from rrsis_bench.schema import detect_language
from rrsis_bench.synthetic import encode
from rrsis_bench.synthetic.base import Layout, SceneOutput, SceneTask, TruthExpression, pick
from rrsis_bench.synthetic.categories import NWPU_CATEGORIES, NWPU_NO_TARGET, RRSISD_CATEGORIES
from rrsis_bench.synthetic.grammar import Phrase
from rrsis_bench.synthetic.scene import Scene

PICKLE_PROTOCOL = 2
"""REFER pickles come from Python 2 era tooling; protocol 2 is what both Pythons read."""


def _pickle(obj: Any) -> bytes:
    """Pickle plain data with bytes that do not depend on object identity.

    Pickle shares repeated objects by identity, so data assembled in one process and data
    received from worker processes would differ in bytes; a JSON round trip rebuilds the
    structure the same way in both cases (keys shared, values fresh).
    """
    canonical = json.loads(json.dumps(obj, ensure_ascii=False))
    return pickle.dumps(canonical, protocol=PICKLE_PROTOCOL)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _tokens(text: str) -> list[str]:
    return list(text.replace(" ", "")) if detect_language(text) == "zh" else text.split(" ")


def _union(scene: Scene, objects: tuple[int, ...]) -> Any:
    return masks.union([scene.objects[i].mask for i in objects], scene.height, scene.width)


class RRSISDLayout(Layout):
    """RRSIS-D: one JPEG per image, one single-target sentence per image."""

    name = "rrsis-d"
    categories = RRSISD_CATEGORIES
    default_size = 800
    description = (
        "RRSIS-D REFER layout: rrsisd/refs(unc).p, rrsisd/instances.json, images/rrsisd/JPEGImages"
    )

    def plan(self, n_images: int, splits: list[str], seed: int, size: int) -> list[SceneTask]:
        """Give each scene a 5-digit DIOR-style id; ids grow with gaps, like the release's."""
        rng = np.random.default_rng([seed, 1_000_003])
        ids = np.cumsum(rng.integers(1, 4, n_images)) + int(rng.integers(1, 40))
        return [
            SceneTask(i, split, seed, size, {"image_id": int(ids[i])})
            for i, split in enumerate(splits)
        ]

    def scene(self, task: SceneTask, root: Path) -> SceneOutput:
        """Draw a scene with at least one single-target phrase and write its JPEG and XML."""

        def choose(scene: Scene, phrases: list[Phrase], rng: np.random.Generator) -> list[Phrase]:
            singles = [p for p in phrases if p.target_type == "single"]
            used: set[str] = set()
            out: list[Phrase] = []
            seen: set[tuple[int, ...]] = set()
            while len(out) < 4:
                p = pick([s for s in singles if s.objects not in seen], rng, used)
                if p is None:
                    break
                seen.add(p.objects)
                out.append(p)
            return out

        scene, chosen, rng = self.draw(task, choose)
        if not chosen:
            raise RuntimeError(
                f"scene {task.index}: no single-target phrase in {self.max_attempts} attempts"
            )
        image_id = int(task.names["image_id"])
        file_name = f"{image_id:05d}.jpg"
        encode.write(
            root / "images" / "rrsisd" / "JPEGImages" / file_name, encode.jpeg(scene.image)
        )
        ref = chosen[0]
        obj = scene.objects[ref.objects[0]]
        x, y, w, h = (int(v) for v in obj.bbox)
        jitter = (lambda: int(rng.integers(-1, 2))) if min(w, h) >= 12 else (lambda: 0)
        box = [
            max(0, x + jitter()),
            max(0, y + jitter()),
            min(scene.width, x + w + jitter()),
            min(scene.height, y + h + jitter()),
        ]
        sentence = _capitalise(ref.en)
        extras = [(scene.objects[p.objects[0]], _capitalise(p.en)) for p in chosen[1:]]
        self._write_xml(root, image_id, task.split, scene, extras, (obj, sentence, box))
        records = {
            "image_id": image_id,
            "file_name": file_name,
            "category_id": RRSISD_CATEGORIES.index(obj.category),
            "bbox": box,
            "rle": obj.mask,
            # the release's `area` is far larger than the mask (188 to 249 times in real rows)
            "area": int(obj.area * rng.uniform(188, 249)),
            "sentence": sentence,
        }
        truth = TruthExpression(
            split=task.split,
            image=f"images/rrsisd/JPEGImages/{file_name}",
            key=str(image_id),
            text=sentence,
            language="en",
            target_type="single",
            mask=obj.mask,
            object_ids=(str(image_id),),
            categories=(obj.category.name,),
            mentions=ref.mentions,
            rule=ref.rule,
        )
        return SceneOutput(task, scene.width, scene.height, records, [truth])

    @staticmethod
    def _write_xml(
        root: Path,
        image_id: int,
        split: str,
        scene: Scene,
        extras: list[tuple[Any, str]],
        referred: tuple[Any, str, list[int]],
    ) -> None:
        lines = [
            "<annotation>",
            f"  <filename>{image_id:05d}.jpg</filename>",
            f"  <size><width>{scene.width}</width><height>{scene.height}</height><depth>3</depth></size>",
            f"  <split>{split}</split>",
        ]
        items = [(o, s, None) for o, s in extras] + [referred]
        for obj, sentence, box in items:
            x, y, w, h = (int(v) for v in obj.bbox)
            b = box or [x, y, x + w, y + h]
            lines += [
                "  <object>",
                f"    <name>{obj.category.name}</name>",
                "    <bndbox>",
                f"      <xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax>",
                "    </bndbox>",
                f"    <description>{escape(sentence)}</description>",
            ]
            if box is not None:
                seg = {"size": obj.mask["size"], "counts": obj.mask["counts"]}
                lines.append(f"    <segmentation>{escape(repr(seg))}</segmentation>")
            lines.append("  </object>")
        lines.append("</annotation>")
        encode.write(
            root / "images" / "rrsisd" / "ann_split" / f"{image_id:05d}.xml",
            ("\n".join(lines) + "\n").encode("utf-8"),
        )

    def finish(self, root: Path, outputs: list[SceneOutput]) -> list[TruthExpression]:
        """Write ``rrsisd/refs(unc).p`` and ``rrsisd/instances.json``."""
        refs, images, anns = [], [], []
        for out in outputs:
            r = out.records
            iid = r["image_id"]
            tokens = r["sentence"].split(" ")
            refs.append(
                {
                    "image_id": iid,
                    "split": out.task.split,
                    "sentences": [
                        {
                            "tokens": tokens,
                            "raw": r["sentence"],
                            "sent_id": iid,
                            "sent": r["sentence"],
                        }
                    ],
                    "file_name": r["file_name"],
                    "category_id": r["category_id"],
                    "ann_id": iid,
                    "sent_ids": [iid],
                    "ref_id": iid,
                }
            )
            images.append(
                {"file_name": r["file_name"], "height": out.height, "width": out.width, "id": iid}
            )
            anns.append(
                {
                    "bbox": r["bbox"],
                    "categories_id": r["category_id"],
                    "id": iid,
                    "image_id": iid,
                    "segmentation": [
                        {"size": list(r["rle"]["size"]), "counts": r["rle"]["counts"]}
                    ],
                    "area": r["area"],
                }
            )
        categories = [{"name": c.name, "id": i} for i, c in enumerate(RRSISD_CATEGORIES)]
        data = root / "rrsisd"
        data.mkdir(parents=True, exist_ok=True)
        (data / "refs(unc).p").write_bytes(_pickle(refs))
        instances = {"images": images, "annotations": anns, "categories": categories}
        (data / "instances.json").write_text(json.dumps(instances), encoding="utf-8")
        return [t for out in outputs for t in out.truth]


class NWPUReferLayout(Layout):
    """NWPU-Refer: single-, multi- and no-target expressions in English and Chinese."""

    name = "nwpu-refer"
    categories = NWPU_CATEGORIES
    default_size = 1024
    description = "NWPU-Refer layout: new_refs(unc).p, new_instances.json, image/image/*.jpg"
    type_weights: ClassVar[dict[str, float]] = {"single": 0.55, "multi": 0.25, "none": 0.20}
    zh_probability = 0.5

    def plan(self, n_images: int, splits: list[str], seed: int, size: int) -> list[SceneTask]:
        """Image ids 1..N and their file names."""
        return [
            SceneTask(i, split, seed, size, {"image_id": i + 1, "file_name": f"{i + 1:05d}.jpg"})
            for i, split in enumerate(splits)
        ]

    def scene(self, task: SceneTask, root: Path) -> SceneOutput:
        """Draw a scene, choose 3 to 6 expressions of mixed target types, write its JPEG."""
        types = list(self.type_weights)
        weights = np.array(list(self.type_weights.values()))

        def choose(scene: Scene, phrases: list[Phrase], rng: np.random.Generator) -> list[Phrase]:
            pools = {t: [p for p in phrases if p.target_type == t] for t in types}
            used: set[str] = set()
            out: list[Phrase] = []
            for _ in range(int(rng.integers(3, 7))):
                t = types[int(rng.choice(len(types), p=weights / weights.sum()))]
                p = pick(pools[t], rng, used) or pick(pools["single"], rng, used)
                if p is not None:
                    out.append(p)
            return out if any(p.target_type != "none" for p in out) else []

        scene, chosen, rng = self.draw(task, choose)
        encode.write(root / "image" / "image" / task.names["file_name"], encode.jpeg(scene.image))
        objects = [
            {
                "category": o.category.name,
                "polygon": o.polygon,
                # [x, y, w, h] of the mask (a polygon's own extent can disagree with its
                # raster by a pixel or two, which matters for objects of a few pixels)
                "bbox": [float(v) for v in o.bbox],
                "area": o.area,
            }
            for o in scene.objects
        ]
        expressions = []
        truth = []
        used_zh: set[str] = set()
        for p in chosen:
            sentences = [p.en]
            if p.zh and rng.random() < self.zh_probability and p.zh not in used_zh:
                used_zh.add(p.zh)
                sentences.append(p.zh)
            expressions.append(
                {"objects": list(p.objects), "sentences": sentences, "mentions": list(p.mentions)}
            )
            mask = _union(scene, p.objects)
            for text in sentences:
                truth.append(
                    TruthExpression(
                        split=task.split,
                        image=f"image/image/{task.names['file_name']}",
                        key=str(task.names["image_id"]),
                        text=text,
                        language=detect_language(text),
                        target_type=p.target_type,
                        mask=mask,
                        object_ids=tuple(str(i) for i in p.objects),
                        categories=tuple(
                            sorted({scene.objects[i].category.name for i in p.objects})
                        ),
                        mentions=p.mentions,
                        rule=p.rule,
                    )
                )
        records = {"objects": objects, "expressions": expressions}
        return SceneOutput(task, scene.width, scene.height, records, truth)

    def finish(self, root: Path, outputs: list[SceneOutput]) -> list[TruthExpression]:
        """Write ``new_refs(unc).p`` and ``new_instances.json``; number anns, refs, sentences."""
        cat_id = {c.name: i + 1 for i, c in enumerate(NWPU_CATEGORIES)}
        cat_id[NWPU_NO_TARGET] = len(NWPU_CATEGORIES) + 1
        images, anns, refs, truth = [], [], [], []
        ann_id = ref_id = sent_id = 0
        for out in outputs:
            iid = out.task.names["image_id"]
            fname = out.task.names["file_name"]
            images.append({"id": iid, "file_name": fname, "width": out.width, "height": out.height})
            local: dict[int, int] = {}
            for k, o in enumerate(out.records["objects"]):
                ann_id += 1
                local[k] = ann_id
                anns.append(
                    {
                        "id": ann_id,
                        "image_id": iid,
                        "category_id": cat_id[o["category"]],
                        "segmentation": [o["polygon"]],
                        "bbox": o["bbox"],
                        "area": o["area"],
                        "iscrowd": 0,
                    }
                )
            for e in out.records["expressions"]:
                targets = [(local[k], out.records["objects"][k]["category"]) for k in e["objects"]]
                if not targets:
                    ann_id += 1
                    anns.append(
                        {
                            "id": ann_id,
                            "image_id": iid,
                            "category_id": cat_id[NWPU_NO_TARGET],
                            "segmentation": [],
                            "bbox": [0.0, 0.0, 0.0, 0.0],
                            "area": 0,
                            "iscrowd": 0,
                        }
                    )
                    targets = [(ann_id, NWPU_NO_TARGET)]
                for aid, cat in targets:
                    ref_id += 1
                    sentences = []
                    for text in e["sentences"]:
                        sent_id += 1
                        sentences.append(
                            {"tokens": _tokens(text), "raw": text, "sent": text, "sent_id": sent_id}
                        )
                    refs.append(
                        {
                            "ref_id": ref_id,
                            "ann_id": aid,
                            "image_id": iid,
                            "category_id": cat_id[cat],
                            "split": out.task.split,
                            "file_name": fname,
                            "sentences": sentences,
                            "sent_ids": [s["sent_id"] for s in sentences],
                        }
                    )
            for t in out.truth:
                ids = tuple(str(local[int(k)]) for k in t.object_ids)
                truth.append(_with_ids(t, ids))
        categories = [{"id": cat_id[name], "name": name} for name in cat_id]
        root.mkdir(parents=True, exist_ok=True)
        (root / "new_refs(unc).p").write_bytes(_pickle(refs))
        instances = {"images": images, "annotations": anns, "categories": categories}
        (root / "new_instances.json").write_text(json.dumps(instances), encoding="utf-8")
        return truth


def _with_ids(t: TruthExpression, ids: tuple[str, ...]) -> TruthExpression:
    from dataclasses import replace

    return replace(t, object_ids=ids)
