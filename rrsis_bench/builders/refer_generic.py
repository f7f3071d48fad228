r"""REFER-format datasets other than RRSIS-D: RRSIS-HR, RemoteSAM-270K, ``refer`` and ``grefer``.

* ``rrsis-hr`` (CADFormer, JSTARS 2025): the RRSIS-D layout under the name ``rrsishr``
  (``rrsishr/refs(unc).p``, ``rrsishr/instances.json``, ``images/rrsishr/JPEGImages``), built
  from RSVG-HR. Counts are not published in a form checked here.
* ``remotesam-270k`` (RemoteSAM, ACM MM 2025): flat, ``RemoteSAM-270K/{JPEGImages, refs(unc).p,
  instances.json}``; the maintainers state it has RRSIS-D's format. Known defects: many more
  files in ``JPEGImages`` than images in ``instances.json`` (reported as ``file-orphan``),
  all-zero masks (``empty_mask``).
* ``refer``: any unregistered REFER-style release, configured with options::

      rrsis-bench build refer --raw DIR -o name=rislad -o split_by=unc \
          -o image_dir=images/rislad/JPEGImages -o group=true -o dataset_name=ris-lad

  ``name`` and ``split_by`` are detected when exactly one ``<name>/refs(<split_by>).p`` (or a
  flat ``refs(<split_by>).p``) is found.
* ``grefer``: any release in gRefCOCO's layout (``<name>/grefs(<split_by>).json``, as
  ``G_REFER`` and ReLA read it, and as ``rrsis-bench export --format grefer`` writes it), with
  the same options: ``ann_id`` lists give multi-target expressions, ``[-1]`` no-target ones.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from rrsis_bench.builders.pickles import load_pickle
from rrsis_bench.builders.refer import ReferBuilder
from rrsis_bench.builders.refer_layout import ReferFiles
from rrsis_bench.builders.refer_parse import RawRef, load_json, parse_refs
from rrsis_bench.card import CardInfo
from rrsis_bench.errors import DatasetNotFoundError, OptionError, UnknownNameError
from rrsis_bench.registry import DatasetSpec, register
from rrsis_bench.schema import SPLITS, normalize_split

_REFS = re.compile(r"^refs\((?P<split_by>[^()]+)\)\.p$")
_GREFS = re.compile(r"^grefs\((?P<split_by>[^()]+)\)\.(?:json|p)$")


class RRSISHRBuilder(ReferBuilder):
    """RRSIS-HR: the RRSIS-D layout under ``rrsishr``."""

    name: ClassVar[str] = "rrsis-hr"
    files: ClassVar[ReferFiles] = ReferFiles(name="rrsishr")


class RemoteSAM270KBuilder(ReferBuilder):
    """RemoteSAM-270K: flat ``JPEGImages/`` beside ``refs(unc).p`` and ``instances.json``."""

    name: ClassVar[str] = "remotesam-270k"
    files: ClassVar[ReferFiles] = ReferFiles(name="", image_dirs=("JPEGImages", "images"))


def parse_split_map(value: Any) -> dict[str, str]:
    """``testA:test,testB:test`` (or a mapping) as ``{"testA": "test", "testB": "test"}``.

    Raises:
        OptionError: An entry is not ``<value>:<split>`` or names no split of the format.

    Example:
        >>> parse_split_map("testA:test, dev:val")
        {'testA': 'test', 'dev': 'val'}
    """
    if value in (None, ""):
        return {}
    pairs: list[tuple[Any, Any]] = list(value.items()) if isinstance(value, dict) else []
    if not isinstance(value, dict):
        for entry in str(value).split(","):
            raw, sep, ours = entry.strip().partition(":")
            if not sep or not raw.strip() or not ours.strip():
                raise OptionError(
                    f"split_map: {entry.strip()!r} is not <value>:<split>; "
                    "write e.g. -o split_map=testA:test,testB:test"
                )
            pairs.append((raw.strip(), ours.strip()))
    out: dict[str, str] = {}
    for raw, ours in pairs:
        try:
            out[str(raw)] = normalize_split(str(ours))
        except UnknownNameError:
            raise OptionError(
                f"split_map: {raw!r} is mapped to {ours!r}, which is not one of {', '.join(SPLITS)}"
            ) from None
    return out


class GenericReferBuilder(ReferBuilder):
    """Any REFER-style release; see the module docstring for the options.

    Options (besides those of :class:`ReferBuilder`):
        name: The annotation folder (``<root>/<name>/refs(<split_by>).p``); ``""`` for a flat
            release. Detected when omitted.
        split_by: The ``splitBy`` in the refs file name. Detected when omitted.
    """

    name: ClassVar[str] = "refer"
    option_names: ClassVar[tuple[str, ...]] = (
        *ReferBuilder.option_names,
        "name",
        "split_by",
        "split_map",
    )
    layout_name: ClassVar[str] = "REFER"
    refs_templates: ClassVar[tuple[str, ...]] = ("refs({split_by}).p",)
    refs_globs: ClassVar[tuple[str, ...]] = ("refs(*).p",)
    refs_regex: ClassVar[re.Pattern[str]] = _REFS

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.folder: str | None = options.get("name")
        self.split_by: str | None = options.get("split_by")
        self.split_map = parse_split_map(options.get("split_map"))

    def load_refs(self, path: Path) -> list[RawRef]:
        """Read and check the refs pickle, renaming splits as ``split_map`` says."""
        return parse_refs(load_pickle(path), path, split_map=self.split_map)

    def refer_files(self) -> ReferFiles:
        """The names given, or detected by :meth:`locate`."""
        return ReferFiles(
            name=self.folder or "", split_by=self.split_by or "unc", refs=self.refs_templates
        )

    def locate(self, raw: Path) -> Path:
        """Detect ``name`` and ``split_by`` when not given, then find the root."""
        if self.folder is None or self.split_by is None:
            self._detect(raw.expanduser())
        return super().locate(raw)

    def _detect(self, raw: Path) -> None:
        found: list[tuple[str, str]] = []
        names: list[str] = []
        if raw.is_dir():
            candidates = [
                p
                for pattern in self.refs_globs
                for p in (
                    *raw.glob(pattern),
                    *raw.glob(f"*/{pattern}"),
                    *raw.glob(f"*/*/{pattern}"),
                )
            ]
            for p in sorted(candidates):
                m = self.refs_regex.match(p.name)
                if m is None:
                    continue
                folder = p.parent.name if p.parent != raw else ""
                if self.folder is not None and folder != self.folder:
                    continue
                if self.split_by is not None and m["split_by"] != self.split_by:
                    continue
                found.append((folder, m["split_by"]))
                names.append(f"{folder or '.'}/{p.name}")
        found = sorted(set(found))
        shown = " or ".join(t.replace("{split_by}", "<split_by>") for t in self.refs_templates)
        if len(found) != 1:
            what = "several: " + ", ".join(sorted(set(names))) if found else "none"
            raise DatasetNotFoundError(
                f"{raw}: cannot tell which {self.layout_name} release to read ({shown} files "
                f"found: {what}); pass -o name=<annotation folder> -o split_by=<splitBy>"
            )
        folder, split_by = found[0]
        if self.folder is None:
            self.folder = folder
        if self.split_by is None:
            self.split_by = split_by

    def manifest_options(self) -> dict[str, Any]:
        """Options as applied, with the detected ``name`` and ``split_by``."""
        opts = super().manifest_options()
        opts["name"] = self.folder or ""
        opts["split_by"] = self.split_by or "unc"
        if self.split_map:
            opts["split_map"] = dict(self.split_map)
        return opts

    def card_info(self) -> CardInfo:
        """The generic card, titled after ``dataset_name`` when given."""
        info = super().card_info()
        title = str(self.options.get("dataset_name") or info.title)
        return CardInfo(
            name=self.dataset_name(),
            title=title,
            licence=info.licence,
            citation=info.citation,
            homepage=info.homepage,
            description=info.description,
            protocol=info.protocol,
        )


class GReferBuilder(GenericReferBuilder):
    """A release in gRefCOCO's layout (``G_REFER``, ReLA): multi- and no-target refs.

    ``<name>/grefs(<split_by>).json`` (or ``.p``, which ``G_REFER`` tries first) beside
    ``<name>/instances.json``; images under ``images/train2014`` (gRefCOCO's COCO images) or any
    folder the REFER reader looks in. A ref's ``ann_id`` is a list of annotation ids (the
    expression's mask is their union) or ``[-1]`` for an expression that refers to nothing
    (target type ``none``, empty mask); ``category_id`` may be a list. Options as for ``refer``.
    """

    name: ClassVar[str] = "grefer"
    layout_name: ClassVar[str] = "gRefCOCO"
    refs_templates: ClassVar[tuple[str, ...]] = ("grefs({split_by}).p", "grefs({split_by}).json")
    refs_globs: ClassVar[tuple[str, ...]] = ("grefs(*).json", "grefs(*).p")
    refs_regex: ClassVar[re.Pattern[str]] = _GREFS

    def refer_files(self) -> ReferFiles:
        """The gRefCOCO names; images also under ``images/train2014``."""
        base = super().refer_files()
        return ReferFiles(
            name=base.name,
            split_by=base.split_by,
            refs=base.refs,
            image_dirs=("images/train2014", *base.image_dirs),
        )

    def load_refs(self, path: Path) -> list[RawRef]:
        """Read ``grefs`` (JSON, or a pickle through the restricted unpickler)."""
        obj = load_json(path) if path.suffix == ".json" else load_pickle(path)
        return parse_refs(obj, path, no_target_id="-1", split_map=self.split_map)


CADFORMER_CITATION = """@article{liu2025cadformer,
  title   = {CADFormer: Fine-Grained Cross-Modal Alignment and Decoding Transformer for Referring
             Remote Sensing Image Segmentation},
  author  = {Liu, Maofu and Jiang, Xin and Zhang, Xiaokang},
  journal = {IEEE Journal of Selected Topics in Applied Earth Observations and Remote Sensing},
  volume  = {18},
  pages   = {14557--14569},
  year    = {2025},
  doi     = {10.1109/JSTARS.2025.3576595}
}"""

REMOTESAM_CITATION = """@inproceedings{yao2025remotesam,
  title     = {RemoteSAM: Towards Segment Anything for Earth Observation},
  author    = {Yao, Liang and Liu, Fan and Chen, Delong and Zhang, Chuanyi and Wang, Yijun and
               Chen, Ziyun and Xu, Wei and Di, Shimin and Zheng, Yuhui},
  booktitle = {Proceedings of the ACM International Conference on Multimedia},
  year      = {2025},
  note      = {arXiv:2505.18022}
}"""

_REFER_PROTOCOL = (
    "As for RRSIS-D (RMSIN protocol): 480×480 resizing with a nearest-neighbour mask, mIoU, "
    "oIoU and Precision@0.5–0.9 per sentence."
)

RRSIS_HR = register(
    DatasetSpec(
        name="rrsis-hr",
        title="RRSIS-HR",
        builder=RRSISHRBuilder,
        licence="unknown",
        redistributable=False,
        citation=CADFORMER_CITATION,
        homepage="https://github.com/zxk688/CADFormer",
        download=(
            "Baidu Netdisk (code wust) or OneDrive, both linked from the CADFormer README; "
            "lay the files out as rrsishr/ + images/rrsishr/JPEGImages/."
        ),
        layout="rrsishr/refs(unc).p\nrrsishr/instances.json\nimages/rrsishr/JPEGImages/",
        published_counts={},
        published_unit="expressions",
        description=(
            "RRSIS-HR, released with CADFormer, is built from the RSVG-HR visual-grounding "
            "dataset and distributed in RRSIS-D's REFER layout."
        ),
        protocol=_REFER_PROTOCOL,
        aliases=("rrsishr",),
    )
)

REMOTESAM_270K = register(
    DatasetSpec(
        name="remotesam-270k",
        title="RemoteSAM-270K",
        builder=RemoteSAM270KBuilder,
        licence="unknown",
        redistributable=False,
        citation=REMOTESAM_CITATION,
        homepage="https://github.com/1e12Leon/RemoteSAM",
        download=(
            "ModelScope dataset e12Leon/RemoteSAM_270K (linked from the RemoteSAM repository); "
            "pass the RemoteSAM-270K folder (JPEGImages/, refs(unc).p, instances.json) as --raw."
        ),
        layout="RemoteSAM-270K/refs(unc).p\nRemoteSAM-270K/instances.json\nRemoteSAM-270K/JPEGImages/",
        published_counts={},
        published_unit="expressions",
        description=(
            "RemoteSAM-270K: about 270k image–expression–mask triplets produced by RemoteSAM's "
            "automatic data engine, in RRSIS-D's format. The maintainers report images on disk "
            "that instances.json does not list and all-zero masks; both are reported."
        ),
        protocol=_REFER_PROTOCOL,
        aliases=("remotesam270k", "remotesam"),
    )
)

GENERIC_REFER = register(
    DatasetSpec(
        name="refer",
        title="REFER-format dataset",
        builder=GenericReferBuilder,
        licence="unknown",
        redistributable=False,
        citation="",
        homepage="https://github.com/lichengunc/refer",
        download=(
            "Any release in the REFER layout; options: -o name=<folder> -o split_by=<splitBy> "
            "-o image_dir=<folder> -o group=true|false -o bbox_format=auto|xywh|xyxy "
            "-o dataset_name=<name> -o split_map=testA:test,testB:test."
        ),
        layout="<name>/refs(<splitBy>).p\n<name>/instances.json\nimages/<name>/JPEGImages/",
        published_counts={},
        published_unit="expressions",
        description="A referring-segmentation dataset read from the REFER layout.",
        protocol="Not fixed: state the protocol of the dataset's paper.",
        aliases=("refer-generic",),
    )
)

GENERIC_GREFER = register(
    DatasetSpec(
        name="grefer",
        title="gRefCOCO-format dataset",
        builder=GReferBuilder,
        licence="unknown",
        redistributable=False,
        citation="",
        homepage="https://github.com/henghuiding/gRefCOCO",
        download=(
            "Any release in gRefCOCO's layout (grefs(<splitBy>).json + instances.json), such as "
            "an `rrsis-bench export --format grefer` folder; options as for `refer`."
        ),
        layout="<name>/grefs(<splitBy>).json\n<name>/instances.json\nimages/train2014/",
        published_counts={},
        published_unit="expressions",
        description=(
            "A referring-segmentation dataset read from gRefCOCO's layout: multi-target refs "
            "list several annotations, no-target refs have ann_id [-1]."
        ),
        protocol="Not fixed: state the protocol of the dataset's paper.",
        aliases=("grefcoco-format", "grefs"),
    )
)
