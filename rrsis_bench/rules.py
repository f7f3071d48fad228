"""The closed lists of sample flags and validation rule ids.

Flags are stored on objects and expressions in a built dataset; rule ids appear in
``validation.json``. Both lists are documented in the README (``rrsis-bench rules`` prints them).
Adding a flag or a rule means adding it here: builders refuse unknown names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")

FLAGS: dict[str, str] = {
    "empty_mask": "a targeted expression (or object) whose mask has no foreground pixel",
    "full_mask": "the mask covers every pixel of the image",
    "size_mismatch": "the source mask's size differs from the image; the RLE is kept as the "
    "source has it and scoring happens at the mask's size",
    "category_from_text": "categories are lexicon words found in the text (the source has no labels)",
    "area_recomputed": "the source `area` field disagrees with the mask; `area` is the mask's pixel count",
    "bbox_from_xyxy": "the source box was [x1, y1, x2, y2] and was converted to [x, y, w, h]",
    "bbox_mismatch": "the source box and the mask's extent disagree (IoU of the boxes below 0.5)",
    "bbox_from_mask": "the source has no usable box; the box is the mask's extent",
    "mask_binarized": "the source mask held values other than {0, v}; binarised with the recorded rule",
    "duplicate_tile": "the same image pixels appear under another image id",
    "cross_split_tile": "the same image pixels appear under an id in another split",
    "synonym_group": "another expression has the same image pixels and mask but different text",
    "excluded_rsrefseg2": "on the RSRefSeg2 exclusion list (3 RRSIS-D images)",
    "excluded_dicor": "on the DiCoR exclusion list (27 RRSIS-D, 16 RISBench images)",
    "polygon_repaired": "an invalid polygon was repaired with shapely before rasterising",
    "polygon_invalid": "a polygon with fewer than 3 distinct points or non-finite coordinates was dropped (of an odd number of coordinates, the last one); an invalid ring left unrepaired was rasterised as given",
    "polygon_clipped": "a polygon reached outside the image and was clipped to it",
    "no_target_nonempty": "a `no target` annotation carries a non-empty mask (ignored)",
    "grouped": "the expression unites several raw refs that share image, sentence and split",
    "mixed_language": "the sentence mixes Chinese and Latin script",
    "duplicate_expression": "the same normalised sentence occurs more than once on this image",
    "ambiguous_expression": "the same sentence refers to different masks on this image",
    "text_normalized": "the raw sentence had outer/inner whitespace or a CR that was cleaned",
    "mask_resized": "reserved: the mask was resized to the image size",
}


@dataclass(frozen=True)
class Rule:
    """A validation rule: its id, default severity and what it checks."""

    id: str
    severity: Severity
    description: str


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.id: r for r in rules}


RULES: dict[str, Rule] = _rules(
    # structure and files
    Rule(
        "file-orphan",
        "warning",
        "a file in the image or mask folder is referenced by no annotation",
    ),
    Rule(
        "image-missing",
        "error",
        "an annotation refers to an image file that does not exist (sample skipped)",
    ),
    Rule(
        "image-unreadable",
        "error",
        "an image file cannot be parsed or is truncated (sample skipped)",
    ),
    Rule(
        "image-size-differs",
        "warning",
        "the image size differs from the size the annotation file states",
    ),
    Rule(
        "mask-missing",
        "error",
        "a mask file referenced by an expression does not exist (sample skipped)",
    ),
    Rule("mask-unreadable", "error", "a mask file cannot be decoded (sample skipped)"),
    Rule(
        "mask-values",
        "warning",
        "a mask holds values other than {0, v}; binarised with the recorded rule",
    ),
    Rule("mask-value-set", "info", "the set of pixel values found in the masks of this release"),
    Rule(
        "mask-empty",
        "warning",
        "a targeted expression or object has an empty mask (kept, flagged empty_mask)",
    ),
    Rule("mask-full", "warning", "a mask covers the whole image"),
    Rule(
        "mask-size-mismatch",
        "warning",
        "the mask size differs from the image size (kept, flagged size_mismatch)",
    ),
    Rule(
        "rle-invalid",
        "error",
        "a segmentation cannot be decoded as RLE or polygons (annotation skipped)",
    ),
    # references
    Rule(
        "ref-missing-annotation",
        "error",
        "a ref points at an annotation id that does not exist (ref skipped)",
    ),
    Rule(
        "ref-missing-image",
        "error",
        "a ref or annotation points at an image id that does not exist (skipped)",
    ),
    Rule(
        "ref-image-mismatch",
        "error",
        "a ref and its annotation name different images (ref skipped)",
    ),
    Rule(
        "ref-category-mismatch",
        "warning",
        "a ref's category differs from its annotation's category",
    ),
    Rule(
        "ref-ids-differ",
        "info",
        "ref_id, ann_id and image_id differ where the known release has them equal",
    ),
    Rule("ref-sentence-count", "info", "a ref has a number of sentences other than one"),
    Rule("ref-no-sentence", "error", "a ref has no sentence (ref skipped)"),
    Rule("ref-duplicate", "warning", "more than one ref for one image where one is expected"),
    Rule("category-unknown", "warning", "an annotation's category id is not in the category list"),
    # geometry
    Rule(
        "bbox-format", "info", "which box convention ([x,y,w,h] or [x1,y1,x2,y2]) fits this release"
    ),
    Rule("bbox-out-of-bounds", "warning", "a source box reaches outside the image"),
    Rule(
        "bbox-mask-disagree", "warning", "the source box and the mask's extent disagree (IoU < 0.5)"
    ),
    Rule("area-field-wrong", "info", "the source `area` field is not the mask area (recomputed)"),
    Rule(
        "polygon-invalid",
        "warning",
        "a polygon has fewer than 3 points, self-intersects or leaves the image",
    ),
    Rule("no-target-nonempty", "warning", "a `no target` annotation has a non-empty mask"),
    Rule("target-empty", "warning", "an annotation of a real category has an empty mask"),
    # text
    Rule("text-empty", "error", "an expression is empty (sample skipped)"),
    Rule("text-noise", "info", "an expression holds a CR, a non-ASCII byte or irregular spacing"),
    Rule("text-mixed-language", "info", "an expression mixes Chinese and Latin script"),
    Rule(
        "line-malformed",
        "error",
        "a phrase-file line does not match `<id> <expression>` (line skipped)",
    ),
    Rule(
        "line-duplicate",
        "warning",
        "the same (id, expression) line occurs more than once (kept once)",
    ),
    Rule("id-duplicate", "error", "the same id is on more than one line or in more than one split"),
    Rule("expression-duplicate", "warning", "the same sentence occurs more than once on one image"),
    Rule(
        "expression-ambiguous",
        "warning",
        "the same sentence refers to different masks on one image",
    ),
    # splits, leakage, counts
    Rule("tile-duplicate", "info", "the same image pixels appear under several ids"),
    Rule("tile-cross-split", "warning", "the same image pixels appear in more than one split"),
    Rule(
        "synonym-group",
        "info",
        "the same (image, mask) is described by several different expressions",
    ),
    Rule("image-split-reuse", "warning", "one image is used by refs of more than one split"),
    Rule("count-differs", "info", "a count differs from the published one"),
    Rule("excluded-list", "info", "samples on a published exclusion list (flagged, kept)"),
    Rule("xml-disagrees", "warning", "an ann_split XML disagrees with refs/instances"),
    Rule("xml-missing", "info", "an image has no ann_split XML"),
    Rule("layout", "info", "what the builder recognised in the raw folder (files, variants)"),
)


def check_flag(name: str) -> str:
    """Return ``name`` if it is a known flag, else raise ``KeyError`` (a programming error)."""
    if name not in FLAGS:
        raise KeyError(f"unknown flag {name!r}; add it to rrsis_bench.rules.FLAGS")
    return name


def check_rule(rule_id: str) -> Rule:
    """Return the rule with this id, else raise ``KeyError`` (a programming error)."""
    if rule_id not in RULES:
        raise KeyError(f"unknown rule {rule_id!r}; add it to rrsis_bench.rules.RULES")
    return RULES[rule_id]
