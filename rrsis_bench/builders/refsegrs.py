"""RefSegRS (Yuan et al., TGRS 2024): 4,420 referring expressions on 512×512 aerial tiles.

Raw release: one archive ``RefSegRS.zip`` on Hugging Face (``JessicaYuan/RefSegRS``; the
auto-converted parquet view there has neither text nor masks — use the zip)::

    RefSegRS/                     (top folder optional: --raw may name either level, or the zip)
      images/<id>.tif             RGB tiles, 512×512
      masks/<id>.tif              single-channel masks, foreground 255
      output_phrase_train.txt     lines `<id> <expression>` (ids are integers, not contiguous)
      output_phrase_val.txt
      output_phrase_test.txt

Every line is its own image file; the same tile appears under several ids with synonymous
expressions ("vehicle" / "car" / "light-duty vehicle"), which the build reports as duplicate
tiles and synonym groups. Masks are binarised with the reference loaders' rule ``value > 50``.
The release has no instances and no category labels: ``objects`` is empty, each expression's
mask is the source mask, and ``categories`` are words of the 14-word lexicon used by the
downstream loaders found in the text (flag ``category_from_text``).

A pre-release naming seen in one third-party loader (``images2/``, ``masks2/``,
``output_phrase_val3.txt``, ``output_phrase_test3.txt`` under ``new_dataset2/``) is accepted as
an alias; the folder and file names found are recorded in the manifest.

Licence: CC-BY-4.0. Cite: Z. Yuan, L. Mou, Y. Hua, X. X. Zhu, "RRSIS: Referring Remote Sensing
Image Segmentation", IEEE TGRS 2024 (arXiv:2306.08625).
"""

from __future__ import annotations

from rrsis_bench.builders.phrase import PhraseBuilder, PhraseLayout
from rrsis_bench.registry import DatasetSpec, register

LEXICON: tuple[str, ...] = (
    "road",
    "vehicle",
    "car",
    "van",
    "building",
    "truck",
    "trailer",
    "bus",
    "road marking",
    "bikeway",
    "sidewalk",
    "tree",
    "low vegetation",
    "impervious surface",
)
"""The 14 target words of the downstream loaders (FIANet ``target_cls``, RSRefSeg2)."""

PUBLISHED_COUNTS: dict[str, int] = {"train": 2172, "val": 431, "test": 1817, "total": 4420}

LAYOUT = PhraseLayout(
    title="RefSegRS",
    image_dirs=("images", "images2"),
    mask_dirs=("masks", "masks2"),
    phrase_files={
        "train": ("output_phrase_train.txt",),
        "val": ("output_phrase_val.txt", "output_phrase_val3.txt"),
        "test": ("output_phrase_test.txt", "output_phrase_test3.txt"),
    },
    top_dirs=("RefSegRS", "new_dataset2"),
    archives=("RefSegRS.zip",),
    image_ext=".tif",
    mask_ext=".tif",
    id_pattern=r"\d+",
    threshold=50,
    lexicon=LEXICON,
)

CITATION = """@article{yuan2024rrsis,
  title   = {{RRSIS}: Referring Remote Sensing Image Segmentation},
  author  = {Yuan, Zhenghang and Mou, Lichao and Hua, Yuansheng and Zhu, Xiao Xiang},
  journal = {IEEE Transactions on Geoscience and Remote Sensing},
  year    = {2024},
  note    = {arXiv:2306.08625}
}
"""

PROTOCOL = (
    "Published RefSegRS numbers (LGCE, FIANet and the LAVT/RMSIN lineage) resize the 512×512 "
    "ground truth to 480×480 with nearest neighbour and report oIoU (= cIoU), mIoU (= gIoU) "
    "and Pr@0.5–0.9 with IoU 0 when the union is empty: `--protocol lgce` (or `lavt`). LGCE's "
    "train.py prints oIoU one point below the value it returns and selects checkpoints on the "
    "test split. rrsis-bench's default `native` protocol scores at 512×512. Ids in a synonym "
    "group (flag `synonym_group`) share one tile and one mask."
)


class RefSegRSBuilder(PhraseBuilder):
    """Reader of the RefSegRS release (``RefSegRS.zip`` or its extracted folder)."""

    name = "refsegrs"

    def base_layout(self) -> PhraseLayout:
        """The RefSegRS layout (with the pre-release aliases)."""
        return LAYOUT


SPEC = register(
    DatasetSpec(
        name="refsegrs",
        title="RefSegRS",
        builder=RefSegRSBuilder,
        licence="CC-BY-4.0",
        redistributable=True,
        citation=CITATION,
        homepage="https://github.com/zhu-xlab/rrsis",
        download="Hugging Face dataset JessicaYuan/RefSegRS, file RefSegRS.zip (2.97 GB): "
        "`huggingface-cli download JessicaYuan/RefSegRS RefSegRS.zip --repo-type dataset "
        "--local-dir DIR`; pass the zip or its extracted folder as --raw (not the parquet view).",
        layout="RefSegRS/{images,masks}/<id>.tif, RefSegRS/output_phrase_{train,val,test}.txt",
        published_counts=PUBLISHED_COUNTS,
        published_unit="expressions",
        description="RefSegRS: 4,420 referring expressions on 512×512 aerial RGB tiles (SkyScapes, "
        "13 cm) with one binary mask each; 14 target categories (road, vehicle, car, van, "
        "building, truck, trailer, bus, road marking, bikeway, sidewalk, tree, low vegetation, "
        "impervious surface). Tiles recur under several ids with synonymous expressions.",
        protocol=PROTOCOL,
        aliases=("refseg-rs",),
    )
)
