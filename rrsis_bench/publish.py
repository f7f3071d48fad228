"""Publishing built datasets as one Hugging Face dataset repository (one config per dataset).

The repository holds, per dataset, its Parquet shards unchanged plus its ``manifest.json`` and
``validation.json`` under ``<config>/``, and one ``README.md`` whose YAML declares every config
(``load_dataset(repo, "<config>")``) and whose body gives each dataset's licence, citation,
counts and evaluation protocol. ``dry_run=DIR`` writes exactly that repository to ``DIR`` and
uploads nothing; without it the folder is uploaded with ``huggingface_hub``.

Licence gate: a dataset whose licence forbids redistribution is refused; so is one whose licence
is ``unknown`` (RRSIS-D, NWPU-Refer) unless the publisher confirms a licence with
``licence_confirmed`` (an SPDX id, recorded in the card).

Example:
    >>> from rrsis_bench.publish import publish                                  # doctest: +SKIP
    >>> publish(["refsegrs"], "me/rrsis", dry_run="repo")                        # doctest: +SKIP
    >>> import datasets; datasets.load_dataset("repo", "refsegrs")               # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rrsis_bench import __version__
from rrsis_bench.card import features_yaml
from rrsis_bench.errors import RRSISBenchError
from rrsis_bench.export.common import atomic_output
from rrsis_bench.registry import DatasetSpec, get_spec
from rrsis_bench.schema import FORMAT_VERSION, TARGET_TYPES
from rrsis_bench.store import BuiltDataset, open_dataset
from rrsis_bench.validate import dumps

# SPDX id -> the Hub's licence id (anything else is published as ``other`` with its name).
_HF_LICENCES = {
    "Apache-2.0": "apache-2.0",
    "MIT": "mit",
    "CC0-1.0": "cc0-1.0",
    "CC-BY-4.0": "cc-by-4.0",
    "CC-BY-SA-4.0": "cc-by-sa-4.0",
    "CC-BY-NC-4.0": "cc-by-nc-4.0",
    "CC-BY-NC-SA-4.0": "cc-by-nc-sa-4.0",
    "CC-BY-NC-ND-4.0": "cc-by-nc-nd-4.0",
    "ODbL-1.0": "odbl",
}
_SPDX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
PUBLISH_MARKER = ".rrsis_bench_publish.json"


class PublishRefusedError(RRSISBenchError, ValueError):
    """A dataset may not be published (its licence forbids it, or it is unknown and unconfirmed)."""


@dataclass
class PublishedConfig:
    """One dataset in the repository."""

    config: str
    dataset: str
    licence: str
    licence_confirmed: bool
    splits: dict[str, dict[str, Any]]


@dataclass
class PublishResult:
    """What :func:`publish` wrote (and uploaded)."""

    repo_id: str
    path: Path | None
    configs: list[PublishedConfig] = field(default_factory=list)
    uploaded: bool = False


def _confirmed_for(
    name: str, confirmed: str | Mapping[str, str] | Sequence[str] | None
) -> str | None:
    """The licence the publisher confirmed for ``name`` (``SPDX`` for all, or ``name=SPDX``)."""
    if confirmed is None:
        return None
    if isinstance(confirmed, Mapping):
        return confirmed.get(name)
    items = [confirmed] if isinstance(confirmed, str) else list(confirmed)
    generic = None
    for item in items:
        key, sep, value = item.partition("=")
        if sep and key.strip() == name:
            return value.strip()
        if not sep:
            generic = item.strip()
    return generic


def check_licence(
    ds: BuiltDataset, confirmed: str | Mapping[str, str] | Sequence[str] | None
) -> tuple[DatasetSpec | None, str, bool]:
    """Apply the licence gate; return (spec, licence to publish under, whether it was confirmed).

    Raises:
        PublishRefusedError: With the reason and what the publisher can do.
    """
    try:
        spec: DatasetSpec | None = get_spec(ds.name)
    except RRSISBenchError:
        spec = None
    licence = spec.licence if spec else "unknown"
    given = _confirmed_for(ds.name, confirmed)
    if given is not None and (not _SPDX.match(given) or given.lower() == "unknown"):
        raise PublishRefusedError(
            f"{ds.name}: --licence-confirmed needs an SPDX licence id such as CC-BY-4.0, "
            f"but got {given!r}"
        )
    if licence.lower() == "unknown":
        if given is None:
            why = "its authors state no licence" if spec else "it is not a registered dataset"
            raise PublishRefusedError(
                f"{ds.name}: publishing refused: {why}, so redistribution is not known to be "
                "allowed. If you hold the rights or the authors' permission, pass "
                f"--licence-confirmed {ds.name}=<SPDX id>"
            )
        return spec, given, True
    if spec is not None and not spec.redistributable:
        raise PublishRefusedError(
            f"{ds.name}: publishing refused: its licence {licence} does not allow "
            "redistribution; share the build recipe (`rrsis-bench build`) instead"
        )
    return spec, licence, False


def _config_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _hf_licence(licences: list[str]) -> dict[str, Any]:
    hf = {_HF_LICENCES.get(lic, "other") for lic in licences}
    if len(hf) == 1 and "other" not in hf:
        return {"license": hf.pop()}
    return {"license": "other", "license_name": " / ".join(sorted(set(licences)))}


def render_repo_card(repo_id: str, items: list[tuple[PublishedConfig, DatasetSpec | None]]) -> str:
    """The repository's ``README.md``: YAML configs for every dataset, then one section each."""
    header: dict[str, Any] = {
        "pretty_name": f"rrsis-bench: {', '.join(c.config for c, _ in items)}"
    }
    header.update(_hf_licence([c.licence for c, _ in items]))
    header["task_categories"] = ["image-segmentation"]
    header["tags"] = ["remote-sensing", "referring-segmentation", "rrsis", "rrsis-bench"]
    header["configs"] = [
        {
            "config_name": c.config,
            "data_files": [{"split": s, "path": f"{c.config}/{s}-*.parquet"} for s in c.splits],
        }
        for c, _ in items
    ]
    header["dataset_info"] = [
        {
            "config_name": c.config,
            "features": features_yaml(),
            "splits": [
                {
                    "name": s,
                    "num_bytes": int(v.get("num_bytes", 0)),
                    "num_examples": int(v["images"]),
                }
                for s, v in c.splits.items()
            ],
        }
        for c, _ in items
    ]
    front = yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=100)
    sections = [_section(c, spec) for c, spec in items]
    first = items[0][0]
    return (
        f"---\n{front}---\n\n# {repo_id}\n\n"
        "Referring remote sensing image segmentation datasets in the rrsis-bench format "
        f"v{FORMAT_VERSION}, one config per dataset, published with rrsis-bench {__version__}. "
        "One row per image: the image file's bytes unchanged, its annotated `objects` and its "
        "referring `expressions` (masks as COCO RLE with string counts, `target_type` single / "
        "multi / none). Each config's `manifest.json` records the sha256 of every raw file read "
        "and every shard; `validation.json` holds every validation finding.\n\n"
        "```python\nimport datasets\n"
        f'ds = datasets.load_dataset("{repo_id}", "{first.config}")\n'
        "```\n\n" + "\n".join(sections)
    )


def _section(c: PublishedConfig, spec: DatasetSpec | None) -> str:
    rows = "\n".join(
        f"| {s} | {v['images']:,} | {v['expressions']:,} | {v['objects']:,} | "
        + " / ".join(f"{v.get('target_types', {}).get(t, 0):,}" for t in TARGET_TYPES)
        + " |"
        for s, v in c.splits.items()
    )
    licence = c.licence + (
        " (confirmed by the publisher; the authors state no licence)" if c.licence_confirmed else ""
    )
    title = spec.title if spec else c.dataset
    citation = spec.citation.strip() if spec else "(not registered)"
    lines = [
        f"## `{c.config}` — {title}",
        "",
        spec.description if spec else "",
        "",
        f"- Licence: {licence}",
        f"- Source: {spec.homepage if spec else 'unknown'}",
        "",
        "| split | images | expressions | objects | single / multi / none |",
        "|---|---|---|---|---|",
        rows,
        "",
        "Evaluation protocol: " + (spec.protocol if spec else "native (rrsis-bench default)"),
        "",
        f"```bibtex\n{citation}\n```",
        "",
    ]
    return "\n".join(lines)


def publish(
    datasets: Sequence[str | Path],
    repo_id: str,
    *,
    dry_run: str | Path | None = None,
    licence_confirmed: str | Mapping[str, str] | Sequence[str] | None = None,
    private: bool = False,
    token: str | None = None,
    overwrite: bool = False,
    api: Any = None,
) -> PublishResult:
    """Write (and unless ``dry_run``, upload) one repository holding every dataset as a config.

    Args:
        datasets: Registered dataset names or build folders.
        repo_id: ``ORG/NAME`` on the Hub.
        dry_run: Write the repository to this folder and upload nothing.
        licence_confirmed: An SPDX id for every dataset of unknown licence, a list of
            ``name=SPDX`` items, or a mapping name -> SPDX.
        private: Create the Hub repository as private.
        token: Hub token (default: the one ``huggingface_hub`` finds).
        overwrite: Replace an earlier dry-run folder.
        api: A ``huggingface_hub.HfApi``-like object (tests).

    Raises:
        PublishRefusedError: If a dataset's licence forbids publishing it, or is unknown and not
            confirmed, or two datasets would get the same config name.
        DatasetNotFoundError: If a build does not exist.
    """
    if not _REPO_ID.match(repo_id):
        raise PublishRefusedError(f"Expected --repo-id as ORG/NAME, but got {repo_id!r}")
    if not datasets:
        raise PublishRefusedError("no dataset given; name at least one built dataset")
    items: list[tuple[BuiltDataset, PublishedConfig, DatasetSpec | None]] = []
    for d in datasets:
        ds = open_dataset(d)
        spec, licence, confirmed = check_licence(ds, licence_confirmed)
        config = _config_name(ds.name)
        if any(c.config == config for _, c, _ in items):
            raise PublishRefusedError(f"{d}: a second dataset named {config!r} in one repository")
        splits = {s: dict(ds.manifest["splits"][s]) for s in ds.splits}
        items.append((ds, PublishedConfig(config, ds.name, licence, confirmed, splits), spec))
    result = PublishResult(repo_id=repo_id, path=None)
    result.configs = [c for _, c, _ in items]
    if dry_run is not None:
        target = Path(dry_run).expanduser()
        with atomic_output(target, overwrite, marker=PUBLISH_MARKER, what="repository") as tmp:
            _write_repo(tmp, repo_id, items)
        result.path = target.absolute()
        return result
    staging = Path(tempfile.mkdtemp(prefix="rrsis-bench-publish-"))
    try:
        _write_repo(staging, repo_id, items)
        if api is None:
            from huggingface_hub import HfApi

            api = HfApi(token=token)
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(staging),
            commit_message=f"rrsis-bench {__version__}: {', '.join(c.config for c in result.configs)}",
        )
        result.uploaded = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _write_repo(
    root: Path, repo_id: str, items: list[tuple[BuiltDataset, PublishedConfig, DatasetSpec | None]]
) -> None:
    for ds, c, _ in items:
        for split in ds.splits:
            for shard in ds.shard_paths(split):
                _link_or_copy(shard, root / c.config / shard.name)
        for extra in ("manifest.json", "validation.json"):
            if (ds.path / extra).is_file():
                shutil.copyfile(ds.path / extra, root / c.config / extra)
    card = render_repo_card(repo_id, [(c, spec) for _, c, spec in items])
    (root / "README.md").write_text(card, encoding="utf-8")
    marker = {
        "schema": "rrsis-bench/publish/1",
        "repo_id": repo_id,
        "configs": {c.config: {"dataset": c.dataset, "licence": c.licence} for _, c, _ in items},
    }
    (root / PUBLISH_MARKER).write_text(dumps(marker), encoding="utf-8")
