"""Evaluation protocols as data: the default ``native`` one and the peers' compat protocols.

A protocol fixes everything that moves a number besides the masks themselves: the evaluation
resolution and how masks are resized to it, what an empty union scores, which Pr@t thresholds
exist and whether they pass with ``≥`` or ``>``, which samples are scored, the accumulation
dtype and the peer's own oddities. :func:`get_protocol` resolves names and aliases;
:func:`list_protocols` lists the canonical names.

Example:
    >>> p = get_protocol("remotesam")
    >>> p.name, p.resolution, p.pr_rule
    ('lavt', 896, '>=')
    >>> list_protocols()
    ['native', 'lavt', 'lgce', 'caris', 'gres', 'segearth-r1', 'rsrefseg']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from rrsis_bench.errors import RRSISBenchError, UnknownNameError

Arithmetic = Literal["native", "lavt", "lgce", "caris", "gres", "segearth-r1", "rsrefseg"]
ResizeRule = Literal["none", "pil-nearest", "opencv-nearest-letterbox"]
EmptyUnionRule = Literal["zero", "nan", "one"]
NoTargetRule = Literal["separate", "empty-mask"]
PrRule = Literal[">=", ">"]
SamplePolicy = Literal["every-sentence", "first-sentence-per-ref"]

THRESHOLDS_ALL: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)


class ProtocolError(RRSISBenchError, ValueError):
    """A protocol option does not fit the protocol (a resolution where none applies, ...)."""


@dataclass(frozen=True)
class Protocol:
    """Every rule of one evaluation protocol.

    Attributes:
        name: Canonical name (``native``, ``lavt``, ...).
        arithmetic: Which accumulation code computes the metrics (one per peer family).
        mirrors: The reference code this protocol reproduces (empty for ``native``).
        resize: ``none`` (score at the GT mask's size), ``pil-nearest`` (GT and prediction
            resized to ``resolution``×``resolution`` with PIL NEAREST) or
            ``opencv-nearest-letterbox`` (long side to ``resolution`` with OpenCV's
            INTER_NEAREST rule, centred zero padding to a square).
        resolution: Side of the square evaluation grid, or ``None`` for the GT size.
        empty_union_rule: Per-sample IoU when ``U = 0`` (a targeted sample for protocols with a
            separate no-target rule, any sample otherwise): ``zero``, ``nan`` or ``one``.
        no_target_rule: ``separate``: a no-target sample scores 1 if predicted as no-target,
            else 0, and a targeted sample predicted as no-target has ``I = 0`` (GRES);
            ``empty-mask``: the peer looks at masks only, so an explicit ``no_target: true``
            is scored as an empty prediction.
        thresholds: The Pr@t thresholds the protocol reports.
        pr_rule: ``>=`` or strict ``>``.
        pr_samples: ``all`` samples or ``targeted`` samples only in the Pr@t denominator.
        sample_policy: ``every-sentence`` or ``first-sentence-per-ref`` (by ``ref_key``).
        dtype: Accumulation dtype of the peer (``float64`` or ``float32``).
        reports_nt_acc: Whether N-acc and T-acc are part of the protocol.
        iou_epsilon: Added to ``U`` in the per-sample IoU (SegEarth-R1: ``1e-5``).
        ciou_epsilon: Added to ``ΣU`` in oIoU (SegEarth-R1: ``1e-10``).
        batch_size: Samples per accumulation step (CARIS sums float32 per batch of 8).
        compat: True for protocols that reproduce a peer.
        aliases: Other names accepted on the command line.
        notes: Facts a reader of the numbers must know.
    """

    name: str
    arithmetic: Arithmetic
    mirrors: str
    resize: ResizeRule
    resolution: int | None
    empty_union_rule: EmptyUnionRule
    no_target_rule: NoTargetRule
    thresholds: tuple[float, ...]
    pr_rule: PrRule
    pr_samples: Literal["all", "targeted"]
    sample_policy: SamplePolicy
    dtype: Literal["float64", "float32"]
    reports_nt_acc: bool
    iou_epsilon: float = 0.0
    ciou_epsilon: float = 0.0
    batch_size: int = 1
    compat: bool = True
    aliases: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def metric_keys(self) -> list[str]:
        """The metric keys this protocol defines, in report order."""
        keys = ["oiou", "miou", *(pr_key(t) for t in self.thresholds)]
        if self.reports_nt_acc:
            keys += ["n_acc", "t_acc"]
        return keys

    def resolution_text(self) -> str:
        """Human description of the evaluation grid."""
        if self.resize == "none":
            return "ground-truth mask size"
        if self.resize == "pil-nearest":
            return f"{self.resolution}x{self.resolution}, PIL NEAREST (aspect ratio not kept)"
        return (
            f"long side to {self.resolution} with OpenCV INTER_NEAREST sampling, short side "
            f"truncated, centred zero padding to {self.resolution}x{self.resolution}"
        )

    def empty_union_text(self) -> str:
        """Human description of the empty-union and no-target rules."""
        value = {"zero": "0", "nan": "NaN (so mIoU is undefined)", "one": "1"}[
            self.empty_union_rule
        ]
        if self.no_target_rule == "separate":
            return (
                f"no-target sample: IoU 1 if predicted as no-target, else 0 (adds |P| to ΣU); "
                f"targeted sample with U = 0: IoU {value}; targeted sample predicted as "
                "no-target: I = 0, U = |P ∪ G|"
            )
        return f"IoU {value} when U = 0; an explicit no_target: true is scored as an empty mask"

    def to_dict(self) -> dict[str, Any]:
        """The ``protocol`` object of the JSON report (schema ``rrsis-bench/score/1``).

        ``resolution`` is the side of the square evaluation grid, or ``None`` (JSON null) when
        each sample is scored at its ground-truth mask's own size; ``resize`` names the rule
        (``none``, ``pil-nearest``, ``opencv-nearest-letterbox``).
        """
        return {
            "name": self.name,
            "compat": self.compat,
            "mirrors": self.mirrors or None,
            "resolution": self.resolution if self.resize != "none" else None,
            "resize": self.resize,
            "empty_union_rule": self.empty_union_rule,
            "no_target_rule": self.no_target_rule,
            "pr_rule": self.pr_rule,
            "pr_samples": self.pr_samples,
            "thresholds": list(self.thresholds),
            "sample_policy": self.sample_policy,
            "dtype": self.dtype,
            "iou_epsilon": self.iou_epsilon,
            "ciou_epsilon": self.ciou_epsilon,
            "batch_size": self.batch_size,
            "notes": list(self.notes),
        }

    def describe(self) -> dict[str, Any]:
        """Every rule in words, for ``rrsis-bench protocols``."""
        d = asdict(self)
        d["aliases"] = list(self.aliases)
        d["thresholds"] = list(self.thresholds)
        d["notes"] = list(self.notes)
        d["resolution_text"] = self.resolution_text()
        d["empty_union_text"] = self.empty_union_text()
        d["metrics"] = self.metric_keys
        return d


def pr_key(threshold: float) -> str:
    """Report key of a Pr@t metric (``pr@0.5``)."""
    return f"pr@{threshold:g}"


_NATIVE = Protocol(
    name="native",
    arithmetic="native",
    mirrors="",
    resize="none",
    resolution=None,
    empty_union_rule="zero",
    no_target_rule="separate",
    thresholds=THRESHOLDS_ALL,
    pr_rule=">=",
    pr_samples="all",
    sample_policy="every-sentence",
    dtype="float64",
    reports_nt_acc=True,
    compat=False,
    notes=(
        "scored at each ground-truth mask's own size (a mask flagged size_mismatch at the mask's size)",
        "pred_nt: an explicit no_target wins, otherwise an empty mask means no target",
        "N-acc and T-acc follow the GRES sign convention: no-target is the positive class",
    ),
)

_LAVT = Protocol(
    name="lavt",
    arithmetic="lavt",
    mirrors="yz93/LAVT-RIS test.py evaluate(); Lsan2401/RMSIN test.py (same arithmetic)",
    resize="pil-nearest",
    resolution=480,
    empty_union_rule="zero",
    no_target_rule="empty-mask",
    thresholds=THRESHOLDS_ALL,
    pr_rule=">=",
    pr_samples="all",
    sample_policy="every-sentence",
    dtype="float64",
    reports_nt_acc=False,
    aliases=("rmsin", "remotesam", "rs2sam2"),
    notes=(
        "remotesam = lavt at 896 (RemoteSAM tasks/REF.sh), rs2sam2 = lavt at 1024 (RS2-SAM2 test.sh)",
        "predictions at the GT size are resized like the GT; predictions already at SxS are used as given",
        "FIANet scores one unseeded random sentence per ref: equal to lavt when every ref has one sentence",
    ),
)

_LGCE = replace(
    _LAVT,
    name="lgce",
    arithmetic="lgce",
    mirrors="zhu-xlab/rrsis train.py evaluate()",
    aliases=(),
    notes=(
        "oIoU is the returned value 100 * (cum_I / cum_U), a float32 tensor; the peer's printout "
        "shows oIoU minus 1 point (train.py line 162), reported here as a note",
        "mIoU is the float64 running sum of per-sample IoU divided by the sample count",
    ),
)

_CARIS = Protocol(
    name="caris",
    arithmetic="caris",
    mirrors="lsa1997/CARIS eval.py batch_IoU() / batch_evaluate()",
    resize="pil-nearest",
    resolution=448,
    empty_union_rule="nan",
    no_target_rule="empty-mask",
    thresholds=(0.5, 0.7, 0.9),
    pr_rule=">=",
    pr_samples="all",
    sample_policy="every-sentence",
    dtype="float32",
    reports_nt_acc=False,
    batch_size=8,
    notes=(
        "ΣI, ΣU and ΣIoU are float32 tensors accumulated per batch of 8 samples in dataset order",
        "IoU = I / U in float32; U = 0 gives NaN, which makes mIoU NaN (reported as null)",
        "Pr@t compares the float32 IoU with float32(t)",
    ),
)

_GRES = Protocol(
    name="gres",
    arithmetic="gres",
    mirrors="henghuiding/ReLA gres_model/evaluation/refer_evaluation.py (after commit 884ef17)",
    resize="pil-nearest",
    resolution=480,
    empty_union_rule="zero",
    no_target_rule="separate",
    thresholds=(0.7, 0.8, 0.9),
    pr_rule=">=",
    pr_samples="targeted",
    sample_policy="every-sentence",
    dtype="float64",
    reports_nt_acc=True,
    aliases=("rela",),
    notes=(
        "N-acc = TP/(TP+FN), T-acc = TN/(TN+FP) with no-target as the positive class; the peer "
        "prints fractions, rrsis-bench reports percent",
        "the peer sets N-acc and T-acc to 0 when the split has no no-target sample",
        "ReLA resizes polygons to 480x480; a NEAREST resize of the mask approximates that",
    ),
)

_SEGEARTH = Protocol(
    name="segearth-r1",
    arithmetic="segearth-r1",
    mirrors=(
        "earth-insights/SegEarth-R1 segearth_r1/eval_and_test/eval.py compute_metric() and "
        "eval_dataset/RS_val_dataset.py preprocess_mask()"
    ),
    resize="opencv-nearest-letterbox",
    resolution=1024,
    empty_union_rule="one",
    no_target_rule="empty-mask",
    thresholds=THRESHOLDS_ALL,
    pr_rule=">",
    pr_samples="all",
    sample_policy="first-sentence-per-ref",
    dtype="float64",
    reports_nt_acc=False,
    iou_epsilon=1e-5,
    ciou_epsilon=1e-10,
    aliases=("lisa",),
    notes=(
        "per-sample IoU = I / (U + 1e-5), 1 when U = 0; cIoU = ΣI / (ΣU + 1e-10)",
        "I and U are int32 (torch.histc of int32 CUDA tensors) and the meters sum them as int32 "
        "numpy arrays, so ΣI and ΣU wrap past 2^31 as in the peer; ratios are float64",
        "only the first sentence of each ref is scored; predictions for the others are ignored",
    ),
)

_RSREFSEG = Protocol(
    name="rsrefseg",
    arithmetic="rsrefseg",
    mirrors=(
        "KyanChen/RSRefSeg rsris/evaluation/metrics/iou_metrics.py "
        "(KyanChen/RSRefSeg2 refseg/evaluation/metrcis/iou_metrics.py)"
    ),
    resize="none",
    resolution=None,
    empty_union_rule="nan",
    no_target_rule="empty-mask",
    thresholds=THRESHOLDS_ALL,
    pr_rule=">",
    pr_samples="all",
    sample_policy="every-sentence",
    dtype="float32",
    reports_nt_acc=False,
    aliases=("rsrefseg2",),
    notes=(
        "I, U and per-sample IoU are float32 (torch.histc); cIoU and gIoU sum them in float32 in "
        "dataset order; U = 0 gives NaN, which makes gIoU NaN (reported as null)",
        "seg_acc (Pr@t) compares the float32 IoU with float32(t) using strict >",
        "category_miou is RSRefSeg2's per-category mean: per-sample IoU averaged within each "
        "category (first category of the expression, 'none' if it has none), U = 0 samples "
        "dropped, then averaged over categories",
    ),
)

PROTOCOLS: dict[str, Protocol] = {
    p.name: p for p in (_NATIVE, _LAVT, _LGCE, _CARIS, _GRES, _SEGEARTH, _RSREFSEG)
}
"""Canonical protocols by name."""

ALIASES: dict[str, tuple[str, int | None]] = {
    "rmsin": ("lavt", None),
    "remotesam": ("lavt", 896),
    "rs2sam2": ("lavt", 1024),
    "rela": ("gres", None),
    "lisa": ("segearth-r1", None),
    "rsrefseg2": ("rsrefseg", None),
}
"""Alias → (canonical protocol, fixed resolution or ``None``)."""


def list_protocols() -> list[str]:
    """Canonical protocol names, ``native`` first."""
    return list(PROTOCOLS)


def get_protocol(name: str | Protocol, resolution: int | None = None) -> Protocol:
    """Resolve a protocol name or alias, optionally at another resolution.

    Args:
        name: A canonical name, an alias (``rmsin``, ``remotesam``, ``rs2sam2``, ``rela``,
            ``lisa``, ``rsrefseg2``) or a :class:`Protocol`.
        resolution: Evaluation grid side for the resizing protocols (``lavt``, ``lgce``,
            ``caris``, ``gres``, ``segearth-r1``); ``None`` keeps the protocol's default.

    Raises:
        UnknownNameError: If ``name`` is neither a protocol nor an alias.
        ProtocolError: If ``resolution`` is given for a protocol that scores at the GT size,
            is not positive, or contradicts an alias with a fixed resolution.
    """
    if isinstance(name, Protocol):
        proto = name
        fixed = None
    else:
        key = name.strip().lower()
        fixed = None
        if key in ALIASES:
            key, fixed = ALIASES[key]
        if key not in PROTOCOLS:
            raise UnknownNameError("protocol", name, [*PROTOCOLS, *ALIASES])
        proto = PROTOCOLS[key]
        if fixed is not None:
            proto = replace(proto, resolution=fixed)
    if resolution is None:
        return proto
    if proto.resize == "none":
        raise ProtocolError(
            f"protocol {proto.name} scores at the ground-truth size; --resolution does not apply "
            "(use lavt, lgce, caris, gres or segearth-r1)"
        )
    if resolution <= 0:
        raise ProtocolError(f"Expected --resolution to be a positive integer, but got {resolution}")
    if fixed is not None and fixed != resolution:
        raise ProtocolError(
            f"protocol {name} is {proto.name} at {fixed}; it cannot be combined with "
            f"--resolution {resolution} (use --protocol {proto.name} --resolution {resolution})"
        )
    return replace(proto, resolution=resolution)
