"""RISBench (Dong et al., CroBIM, arXiv 2410.06811): 52,472 expressions on 512×512 tiles.

Raw release (Baidu Netdisk, access code ``wnxg``)::

    RISBench_dataset/             (top folder optional: --raw may name either level, or an archive)
      img_rgb/<file>.png          one image copy per object: {train|test}_<imgIdx>_<objIdx>.png
      mask/<file>.png             binary masks (black background, white object)
      output_phrase_train.txt     lines `<file>.png <sentence>`
      output_phrase_val.txt       (its files are named train_*: val was carved from VRSBench train)
      output_phrase_test.txt

``images/`` and ``masks/`` are accepted as aliases of ``img_rgb/`` and ``mask/``. The first token
is a file name; the sample id is that name without its extension (``train_14703_0``). Sentences
are free text with some spacing noise (double spaces, `` .``), reported as ``text-noise`` and kept
as written. The 16 training files that DiCoR drops are flagged ``excluded_dicor`` (kept).
``categories`` are the RISBench class names found in the text (flag ``category_from_text``).

Licence: CC-BY-4.0 (CroBIM README).
"""

from __future__ import annotations

from rrsis_bench.builders.phrase import PhraseBuilder, PhraseLayout
from rrsis_bench.registry import DatasetSpec, register

CATEGORIES: tuple[str, ...] = (
    "expressway service area",
    "expressway toll station",
    "ground track field",
    "basketball court",
    "container crane",
    "roundabout",
    "windmill",
    "overpass",
    "stadium",
    "bridge",
    "soccer ball field",
    "baseball diamond",
    "train station",
    "golf field",
    "airport",
    "harbor",
    "dam",
    "ship",
    "helipad",
    "vehicle",
    "chimney",
    "airplane",
    "helicopter",
    "tennis court",
    "storage tank",
    "swimming pool",
)
"""The 26 RISBench class names (``risbench_categories`` in KyanChen/RSRefSeg2)."""

DICOR_EXCLUDED: frozenset[str] = frozenset(
    {
        "train_12443_2",
        "train_11904_8",
        "train_11818_2",
        "train_11785_0",
        "train_11021_1",
        "train_10698_0",
        "train_10222_0",
        "train_9598_7",
        "train_9405_1",
        "train_8518_1",
        "train_7581_3",
        "train_7222_1",
        "train_7008_0",
        "train_6194_0",
        "train_6194_1",
        "train_819_1",
    }
)
"""The 16 RISBench files DiCoR skips (``RISBench_exclude`` in its dataset code), as ids."""

PUBLISHED_COUNTS: dict[str, int] = {"train": 26300, "val": 10013, "test": 16159, "total": 52472}

LAYOUT = PhraseLayout(
    title="RISBench",
    image_dirs=("img_rgb", "images"),
    mask_dirs=("mask", "masks"),
    top_dirs=("RISBench_dataset", "RISBench"),
    archives=("RISBench_dataset.zip", "RISBench.zip"),
    image_ext=".png",
    mask_ext=".png",
    id_pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    threshold=50,
    lexicon=CATEGORIES,
    exclusions={"excluded_dicor": DICOR_EXCLUDED},
)

CITATION = """@article{dong2024crobim,
  title   = {Cross-Modal Bidirectional Interaction Model for Referring Remote Sensing Image
             Segmentation},
  author  = {Dong, Zhe and Sun, Yuzhe and Gu, Yanfeng and Liu, Tianzhu},
  journal = {arXiv preprint arXiv:2410.06811},
  year    = {2024}
}
"""

PROTOCOL = (
    "Published RISBench numbers (CroBIM, DiCoR tables) report oIoU (cumulative IoU), mIoU and "
    "Pr@0.5–0.9 in the LAVT style (`--protocol lavt`; RemoteSAM scores at 896: "
    "`--protocol remotesam`). DiCoR trains without the 16 files flagged `excluded_dicor`."
)


class RISBenchBuilder(PhraseBuilder):
    """Reader of the RISBench release (``RISBench_dataset/`` or an archive of it)."""

    name = "risbench"

    def base_layout(self) -> PhraseLayout:
        """The RISBench layout (``img_rgb/``, ``mask/``, file names as ids)."""
        return LAYOUT


SPEC = register(
    DatasetSpec(
        name="risbench",
        title="RISBench",
        builder=RISBenchBuilder,
        licence="CC-BY-4.0",
        redistributable=True,
        citation=CITATION,
        homepage="https://github.com/HIT-SIRS/CroBIM",
        download="Baidu Netdisk https://pan.baidu.com/s/1TniZrKqa2BBGvZ5sJAnsAw?pwd=wnxg "
        "(access code wnxg), linked from the CroBIM README; pass the RISBench_dataset folder "
        "(or the archive) as --raw.",
        layout="RISBench_dataset/{img_rgb,mask}/<file>.png, "
        "RISBench_dataset/output_phrase_{train,val,test}.txt",
        published_counts=PUBLISHED_COUNTS,
        published_unit="expressions",
        description="RISBench: 52,472 referring expressions on 512×512 remote sensing tiles "
        "(0.1–30 m, built from VRSBench, DOTA-v2 and DIOR), 26 classes, one binary mask per "
        "expression; every expression has its own copy of the image.",
        protocol=PROTOCOL,
        aliases=("ris-bench",),
    )
)
