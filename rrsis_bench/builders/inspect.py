r"""What a raw folder holds, without building: ``rrsis-bench inspect RAW_DIR``.

A user with a new release (or an unfamiliar download) sees at once whether it matches a
builder: the REFER files found (``refs(*).p`` with the key sets of refs, split values,
``ann_id`` kinds, sentences per ref, languages; ``instances.json`` with the key sets of images
and annotations, the category key, segmentation kinds, categories), phrase files
(``output_phrase_*.txt``: lines, id style, example lines), image and mask folders with file
counts, archives, a few example records, and the build command that fits. ``RAW_DIR`` may be
an archive (extracted safely into the cache, as a build does). Pickles are read with the
restricted unpickler; a refused or unreadable file is reported, not raised, and no build is
suggested for its release.

Example:
    >>> from rrsis_bench.builders.inspect import inspect_raw    # doctest: +SKIP
    >>> print("\n".join(inspect_raw("~/downloads/RRSIS-D").summary_lines()))  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rrsis_bench.archives import extract, is_archive
from rrsis_bench.builders.phrase_text import LineProblem, read_phrase_file
from rrsis_bench.builders.pickles import load_pickle
from rrsis_bench.builders.refer_parse import _split, load_json
from rrsis_bench.builders.segmentation import segmentation_kind
from rrsis_bench.errors import DatasetNotFoundError, FormatError, RRSISBenchError
from rrsis_bench.schema import detect_language, natural_key

_REFS = re.compile(
    r"^(?:(?P<prefix>new_|g)?refs\((?P<split_by>[^()]+)\)\.p|grefs\(([^()]+)\)\.json)$"
)
_INSTANCES = ("new_instances.json", "instances.json")
_PHRASE = re.compile(r"^output_phrase_?.*\.txt$")
MAX_DEPTH = 4


@dataclass
class FolderInfo:
    """A folder holding files (images, masks, XML)."""

    path: str
    files: int
    extensions: dict[str, int]
    examples: list[str]


@dataclass
class ReferInfo:
    """A REFER refs file and the instances file beside it."""

    refs_file: str
    instances_file: str | None
    refs: int = 0
    ref_keys: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    ann_id: dict[str, int] = field(default_factory=dict)
    sentences_per_ref: dict[str, int] = field(default_factory=dict)
    sentence_keys: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    instances_keys: list[str] = field(default_factory=list)
    images: int = 0
    image_keys: dict[str, int] = field(default_factory=dict)
    annotations: int = 0
    annotation_keys: dict[str, int] = field(default_factory=dict)
    category_key: dict[str, int] = field(default_factory=dict)
    segmentation_kinds: dict[str, int] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    example_refs: list[Any] = field(default_factory=list)
    example_annotations: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    builder: str = ""


@dataclass
class PhraseInfo:
    """One phrase file (``<id or file name> <sentence>`` per line)."""

    file: str
    lines: int = 0
    malformed: int = 0
    without_text: int = 0
    first_token: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class RawInspection:
    """Everything :func:`inspect_raw` found."""

    raw: str
    extracted_to: str | None = None
    refer: list[ReferInfo] = field(default_factory=list)
    phrase: list[PhraseInfo] = field(default_factory=list)
    folders: list[FolderInfo] = field(default_factory=list)
    archives: dict[str, int] = field(default_factory=dict)
    suggestions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for ``--json``)."""
        return asdict(self)

    def summary_lines(self) -> list[str]:
        """A human report, one line per fact."""
        return _summary_lines(self)

    def blocking(self) -> list[str]:
        """Problems that stop a build of a REFER release found here (refused pickle, ...)."""
        return [p for r in self.refer for p in r.problems]


def _walk(raw: Path) -> tuple[list[Path], list[FolderInfo]]:
    """Files of interest (annotations, phrase files, archives) and folders of many files."""
    interesting: list[Path] = []
    folders: list[FolderInfo] = []
    stack = [(raw, 0)]
    while stack:
        folder, depth = stack.pop()
        exts: Counter[str] = Counter()
        names: list[str] = []
        subdirs: list[Path] = []
        try:
            with os.scandir(folder) as it:
                for e in it:
                    if e.name.startswith("."):
                        continue
                    if e.is_dir(follow_symlinks=False):
                        subdirs.append(Path(e.path))
                    elif e.is_file():
                        names.append(e.name)
                        exts[Path(e.name).suffix.lower() or "(none)"] += 1
        except OSError:
            continue
        for name in names:
            if _REFS.match(name) or name in _INSTANCES or _PHRASE.match(name) or is_archive(name):
                interesting.append(folder / name)
        media = sum(n for ext, n in exts.items() if ext not in (".p", ".json", ".txt", ".zip"))
        if media:
            shown = sorted(names, key=natural_key)[:3]
            folders.append(
                FolderInfo(_rel(folder, raw), len(names), dict(exts.most_common()), shown)
            )
        if depth < MAX_DEPTH:
            stack.extend((d, depth + 1) for d in sorted(subdirs, reverse=True))
    folders.sort(key=lambda f: f.path)
    return sorted(interesting), folders


def _rel(path: Path, raw: Path) -> str:
    rel = path.relative_to(raw).as_posix()
    return rel if rel != "." else "."


def _short(value: Any, depth: int = 0) -> Any:
    """A record shortened for display: long strings and lists cut, RLE counts summarised."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "counts" and isinstance(v, str | list) and len(v) > 24:
                out[k] = f"<{len(v)} {'chars' if isinstance(v, str) else 'runs'}>"
            else:
                out[k] = _short(v, depth + 1)
        return out
    if isinstance(value, list | tuple):
        items = [_short(v, depth + 1) for v in list(value)[:8]]
        if len(value) > 8:
            items.append(f"... {len(value) - 8} more")
        return items
    if isinstance(value, str) and len(value) > 120:
        return value[:117] + "..."
    return value


def _keys(records: list[Any]) -> dict[str, int]:
    c: Counter[str] = Counter()
    for r in records:
        if isinstance(r, dict):
            c.update(str(k) for k in r)
    return dict(sorted(c.items()))


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _suggest_refer(info: ReferInfo, refs_path: Path, raw: Path) -> str:
    name = refs_path.name
    folder = refs_path.parent.name
    if name.startswith("grefs("):
        return "grefer"
    if name.startswith("new_") or (info.instances_file or "").endswith("new_instances.json"):
        return "nwpu-refer"
    if folder == "rrsisd":
        return "rrsis-d"
    if folder == "rrsishr":
        return "rrsis-hr"
    if "remotesam" in folder.lower():
        return "remotesam-270k"
    names = {c.lower() for c in info.categories}
    if "no target" in names:
        return "nwpu-refer"
    if {"expressway-service-area", "expressway-toll-station", "windmill"} <= names:
        return "rrsis-d"  # the DIOR category names
    return "refer"


def _inspect_refer(refs_path: Path, raw: Path, examples: int) -> ReferInfo:
    inst = next(
        (refs_path.parent / n for n in _INSTANCES if (refs_path.parent / n).is_file()), None
    )
    info = ReferInfo(_rel(refs_path, raw), _rel(inst, raw) if inst else None)
    try:
        refs = load_json(refs_path) if refs_path.suffix == ".json" else load_pickle(refs_path)
    except RRSISBenchError as exc:
        info.problems.append(str(exc))
        refs = None
    if isinstance(refs, list | tuple):
        refs = list(refs)
        info.refs = len(refs)
        info.ref_keys = _keys(refs)
        dicts = [r for r in refs if isinstance(r, dict)]
        info.splits = dict(Counter(str(r.get("split")) for r in dicts).most_common())
        info.ann_id = dict(
            Counter(
                "list" if isinstance(r.get("ann_id"), list | tuple) else "scalar" for r in dicts
            ).most_common()
        )
        sents = [r.get("sentences") for r in dicts]
        info.sentences_per_ref = dict(
            sorted(Counter(str(len(s)) if isinstance(s, list) else "none" for s in sents).items())
        )
        flat = [s for ss in sents if isinstance(ss, list) for s in ss if isinstance(s, dict)]
        info.sentence_keys = _keys(flat)
        texts = [str(s.get("raw") or s.get("sent") or "") for s in flat]
        info.languages = dict(sorted(Counter(detect_language(t) for t in texts).items()))
        info.example_refs = [_short(r) for r in refs[:examples]]
    elif refs is not None:
        info.problems.append(f"{info.refs_file} holds a {type(refs).__name__}, not a list of refs")
    if inst is None:
        info.problems.append(
            f"no instances.json or new_instances.json beside {info.refs_file}; put the "
            "release's instances file there"
        )
    else:
        try:
            data = load_json(inst)
        except RRSISBenchError as exc:
            info.problems.append(str(exc))
            data = None
        if isinstance(data, dict):
            info.instances_keys = sorted(map(str, data))
            images: list[Any] = _list(data.get("images"))
            anns: list[Any] = _list(data.get("annotations"))
            cats: list[Any] = _list(data.get("categories"))
            info.images, info.annotations = len(images), len(anns)
            info.image_keys, info.annotation_keys = _keys(images), _keys(anns)
            ann_dicts = [a for a in anns if isinstance(a, dict)]
            info.category_key = dict(
                Counter(
                    next((k for k in ("category_id", "categories_id") if k in a), "none")
                    for a in ann_dicts
                ).most_common()
            )
            info.segmentation_kinds = dict(
                Counter(segmentation_kind(a.get("segmentation")) for a in ann_dicts).most_common()
            )
            info.categories = [str(c.get("name")) for c in cats if isinstance(c, dict)]
            info.example_annotations = [_short(a) for a in anns[:examples]]
        elif data is not None:
            info.problems.append(f"{info.instances_file} holds a JSON {type(data).__name__}")
    info.builder = _suggest_refer(info, refs_path, raw)
    return info


def _inspect_phrase(
    path: Path, raw: Path, examples: int, id_pattern: str | None = None
) -> PhraseInfo:
    """Lines of a phrase file, parsed by the phrase builders' rule (with their id pattern)."""
    info = PhraseInfo(_rel(path, raw))
    try:
        lines, problems, crlf = read_phrase_file(
            path, re.compile(id_pattern) if id_pattern else None
        )
    except FormatError as exc:
        info.problems.append(str(exc).removeprefix(f"{path}: "))
        return info
    except OSError as exc:  # pragma: no cover - unreadable file
        info.problems.append(str(exc))
        return info
    info.lines = len(lines) + len(problems)
    info.malformed = sum(p.rule == "line-malformed" for p in problems)
    info.without_text = sum(p.rule == "text-empty" for p in problems)
    tokens: Counter[str] = Counter(
        "number" if ln.token.isdigit() else "file name" if ln.suffix else "other" for ln in lines
    )
    info.first_token = dict(tokens.most_common())
    info.languages = dict(sorted(Counter(detect_language(ln.text) for ln in lines).items()))
    info.examples = [f"{ln.token} {ln.text}" for ln in lines[:examples]]
    info.problems.extend(_first_problems(problems))
    if crlf:
        info.problems.append("lines end with CR LF")
    return info


def _first_problems(problems: list[LineProblem], shown: int = 3) -> list[str]:
    out = [f"line {p.lineno}: {p.message}" for p in problems[:shown]]
    if len(problems) > shown:
        out.append(f"... and {len(problems) - shown:,} more unusable lines")
    return out


def _phrase_builder(phrase: list[PhraseInfo], folders: list[FolderInfo]) -> str:
    names = {f.path.split("/")[-1] for f in folders}
    ext_ids = sum(p.first_token.get("file name", 0) for p in phrase)
    return "risbench" if "img_rgb" in names or ext_ids else "refsegrs"


def _id_pattern(builder: str) -> str | None:
    if builder == "risbench":
        from rrsis_bench.builders.risbench import LAYOUT as RISBENCH

        return RISBENCH.id_pattern
    from rrsis_bench.builders.refsegrs import LAYOUT as REFSEGRS

    return REFSEGRS.id_pattern


def inspect_raw(raw: str | Path, examples: int = 2) -> RawInspection:
    """Report what ``raw`` holds without building anything.

    Phrase-file lines are counted by the rule of the builder suggested for them (RefSegRS ids
    are numbers, RISBench ids file names), so ``malformed`` is what a build reports as
    ``line-malformed``. A REFER release whose refs or instances file cannot be read (a refused
    pickle, say) is reported with its problems and no build is suggested for it.

    Args:
        raw: The downloaded release folder, or an archive of it (extracted safely into the
            cache, as a build does).
        examples: Example records (refs, annotations, phrase lines) shown per file.

    Raises:
        DatasetNotFoundError: ``raw`` is neither a folder nor an archive.
    """
    given = Path(raw).expanduser()
    root = given
    if given.is_file() and is_archive(given.name):
        root = extract(given)
    elif not given.is_dir():
        raise DatasetNotFoundError(
            f"{given}: not a folder or an archive; pass the downloaded release folder or archive"
        )
    files, folders = _walk(root)
    out = RawInspection(str(given), folders=folders)
    if root != given:
        out.extracted_to = str(root)
    for p in files:
        if p.suffix == ".json" and p.with_suffix(".p").is_file():
            continue  # grefs(<split_by>).p beside it is the one read (as G_REFER does)
        if _REFS.match(p.name):
            out.refer.append(_inspect_refer(p, root, examples))
        elif is_archive(p.name):
            out.archives[_rel(p, root)] = p.stat().st_size
    phrase_files = [p for p in files if _PHRASE.match(p.name)]
    if phrase_files:
        first = [_inspect_phrase(p, root, examples) for p in phrase_files]
        builder = _phrase_builder(first, folders)
        out.phrase = [
            _inspect_phrase(p, root, examples, _id_pattern(builder)) for p in phrase_files
        ]
    for r in out.refer:
        if r.problems:
            continue  # the build would stop on them: the summary lists them instead
        # a REFER build reads a folder, never an archive: name the extracted one
        cmd = f"rrsis-bench build {r.builder} --raw {root}"
        if r.builder in ("refer", "grefer"):
            m = _REFS.match(Path(r.refs_file).name)
            split_by = (m["split_by"] or m[3]) if m else "unc"
            folder = Path(r.refs_file).parent.name if "/" in r.refs_file else ""
            cmd += f" -o name={folder} -o split_by={split_by}"
            unknown = sorted(v for v in r.splits if _split(v) is None)
            if unknown:
                cmd += " -o split_map=" + ",".join(f"{v}:<train|val|test>" for v in unknown)
        out.suggestions.append(cmd)
    if out.phrase:
        builder = _phrase_builder(out.phrase, folders)
        out.suggestions.append(f"rrsis-bench build {builder} --raw {given}")
    if not out.refer and not out.phrase and out.archives:
        out.suggestions.append(
            "only archives were found: extract them (or pass the archive's folder to "
            "`rrsis-bench build`, which extracts RefSegRS.zip and JPEGImages.zip itself)"
        )
    return out


def _fmt_counts(c: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in c.items()) or "none"


def _summary_lines(ins: RawInspection) -> list[str]:
    lines = [f"raw folder: {ins.raw}"]
    if ins.extracted_to:
        lines.append(f"extracted to: {ins.extracted_to} (cached; a build reuses it)")
    lines.append(
        f"recognised: {len(ins.refer)} REFER refs file(s), {len(ins.phrase)} phrase file(s), "
        f"{len(ins.folders)} media folder(s), {len(ins.archives)} archive(s)"
    )
    for r in ins.refer:
        lines.append("")
        lines.append(f"REFER: {r.refs_file} + {r.instances_file or '(no instances file)'}")
        lines.append(f"  refs: {r.refs:,}; keys: {_fmt_counts(r.ref_keys)}")
        lines.append(f"  split values: {_fmt_counts(r.splits)}")
        lines.append(f"  ann_id: {_fmt_counts(r.ann_id)}")
        per = ", ".join(
            f"{k} sentence{'' if k == '1' else 's'}: {v:,} refs"
            for k, v in r.sentences_per_ref.items()
        )
        lines.append(f"  sentences per ref: {per or 'none'}")
        lines.append(f"  sentence keys: {_fmt_counts(r.sentence_keys)}")
        lines.append(f"  languages: {_fmt_counts(r.languages)}")
        if r.instances_file:
            lines.append(f"  {r.instances_file}: keys {', '.join(r.instances_keys) or 'none'}")
            lines.append(f"  images: {r.images:,}; keys: {_fmt_counts(r.image_keys)}")
            lines.append(
                f"  annotations: {r.annotations:,}; keys: {_fmt_counts(r.annotation_keys)}"
            )
            lines.append(f"  category key: {_fmt_counts(r.category_key)}")
            lines.append(f"  segmentation kinds: {_fmt_counts(r.segmentation_kinds)}")
            cats = ", ".join(r.categories[:40]) + (" ..." if len(r.categories) > 40 else "")
            lines.append(f"  categories ({len(r.categories)}): {cats or 'none'}")
        for ex in r.example_refs:
            lines.append(f"  example ref: {ex}")
        for ex in r.example_annotations:
            lines.append(f"  example annotation: {ex}")
        for p in r.problems:
            lines.append(f"  problem: {p}")
    for ph in ins.phrase:
        lines.append("")
        without = f", {ph.without_text:,} without an expression" if ph.without_text else ""
        lines.append(
            f"phrase file: {ph.file}: {ph.lines:,} lines, {ph.malformed:,} malformed{without}"
        )
        lines.append(
            f"  first token: {_fmt_counts(ph.first_token)}; languages: {_fmt_counts(ph.languages)}"
        )
        for ex in ph.examples:
            lines.append(f"  example: {ex}")
        for p in ph.problems:
            lines.append(f"  problem: {p}")
    if ins.folders:
        lines.append("")
        lines.append("folders with images, masks or other files:")
        for f in ins.folders:
            lines.append(
                f"  {f.path}/: {f.files:,} files ({_fmt_counts(f.extensions)}); "
                f"e.g. {', '.join(f.examples)}"
            )
    if ins.archives:
        lines.append("")
        lines.append(
            "archives: " + ", ".join(f"{k} ({v:,} bytes)" for k, v in ins.archives.items())
        )
    lines.append("")
    lines.extend(
        f"cannot build {r.refs_file} as it is: fix the problem(s) listed under it"
        for r in ins.refer
        if r.problems
    )
    if ins.suggestions:
        lines.extend(f"try: {s}" for s in ins.suggestions)
    elif not ins.refer:
        lines.append("no REFER refs file and no phrase file found: no builder fits this folder")
    return lines
