from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pytest
import yaml
from data.interop.data import expected_masks, write_built

from rrsis_bench import masks, registry
from rrsis_bench.errors import OutputExistsError
from rrsis_bench.publish import PublishRefusedError, publish
from rrsis_bench.registry import DatasetSpec, register


def _spec(name: str, licence: str, redistributable: bool) -> DatasetSpec:
    return register(
        DatasetSpec(
            name=name,
            title=f"Title of {name}",
            builder=lambda **_: None,  # type: ignore[arg-type,return-value]
            licence=licence,
            redistributable=redistributable,
            citation=f"@misc{{{name}, title={{{name}}}}}",
            homepage=f"https://example.org/{name}",
            download="by hand",
            layout="-",
            published_counts={},
            published_unit="expressions",
            description=f"Description of {name}.",
            protocol="oIoU and mIoU at the mask's own size.",
        )
    )


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    _spec("pub-open", "CC-BY-4.0", True)
    _spec("pub-unknown", "unknown", False)
    _spec("pub-closed", "CC-BY-NC-ND-4.0", False)
    root = tmp_path_factory.mktemp("publish")
    yield {n: write_built(root, name=n) for n in ("pub-open", "pub-unknown", "pub-closed")}
    for name in ("pub-open", "pub-unknown", "pub-closed"):  # leave the registry as it was
        registry._REGISTRY.pop(name, None)


def test_dry_run_repository_loads_per_config(builds, tmp_path: Path):
    repo = tmp_path / "repo"
    result = publish(
        [builds["pub-open"], builds["pub-unknown"]],
        "org/rrsis",
        dry_run=repo,
        licence_confirmed=["pub-unknown=CC-BY-4.0"],
    )
    assert result.path == repo.absolute() and not result.uploaded
    assert [(c.config, c.licence, c.licence_confirmed) for c in result.configs] == [
        ("pub-open", "CC-BY-4.0", False),
        ("pub-unknown", "CC-BY-4.0", True),
    ]
    files = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file())
    assert files == [
        ".rrsis_bench_publish.json",
        "README.md",
        "pub-open/manifest.json",
        "pub-open/test-00000-of-00001.parquet",
        "pub-open/train-00000-of-00001.parquet",
        "pub-open/val-00000-of-00001.parquet",
        "pub-open/validation.json",
        "pub-unknown/manifest.json",
        "pub-unknown/test-00000-of-00001.parquet",
        "pub-unknown/train-00000-of-00001.parquet",
        "pub-unknown/val-00000-of-00001.parquet",
        "pub-unknown/validation.json",
    ]
    card = (repo / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["license"] == "cc-by-4.0"
    assert [c["config_name"] for c in header["configs"]] == ["pub-open", "pub-unknown"]
    assert "- Licence: CC-BY-4.0 (confirmed by the publisher; the authors state no licence)" in card
    assert "@misc{pub-open, title={pub-open}}" in card
    assert "| train | 3 | 8 | 5 | 5 / 1 / 2 |" in card
    assert "Evaluation protocol: oIoU and mIoU at the mask's own size." in card

    ds = datasets.load_dataset(str(repo), "pub-unknown", cache_dir=str(tmp_path / "cache"))
    assert {s: ds[s].num_rows for s in ds} == {"train": 3, "val": 1, "test": 2}
    row = ds["val"][0]
    e = row["expressions"][0]
    assert (e["sample_id"], e["text"]) == ("8", "both cars")
    assert np.array_equal(masks.decode(e["mask"]), expected_masks(tmp_path)["8"])


def test_unknown_licence_needs_confirmation(builds, tmp_path: Path):
    with pytest.raises(PublishRefusedError) as err:
        publish([builds["pub-unknown"]], "org/x", dry_run=tmp_path / "r")
    assert str(err.value) == (
        "pub-unknown: publishing refused: its authors state no licence, so redistribution is "
        "not known to be allowed. If you hold the rights or the authors' permission, pass "
        "--licence-confirmed pub-unknown=<SPDX id>"
    )
    with pytest.raises(
        PublishRefusedError,
        match=re.escape("needs an SPDX licence id such as CC-BY-4.0, but got 'yes please'"),
    ):
        publish(
            [builds["pub-unknown"]], "org/x", dry_run=tmp_path / "r", licence_confirmed="yes please"
        )
    assert not (tmp_path / "r").exists()
    ok = publish([builds["pub-unknown"]], "org/x", dry_run=tmp_path / "r", licence_confirmed="MIT")
    assert ok.configs[0].licence == "MIT"
    header = yaml.safe_load((tmp_path / "r" / "README.md").read_text().split("---")[1])
    assert header["license"] == "mit"


def test_non_redistributable_is_refused_even_when_confirmed(builds, tmp_path: Path):
    with pytest.raises(PublishRefusedError) as err:
        publish(
            [builds["pub-open"], builds["pub-closed"]],
            "org/x",
            dry_run=tmp_path / "r",
            licence_confirmed="CC-BY-4.0",
        )
    assert str(err.value) == (
        "pub-closed: publishing refused: its licence CC-BY-NC-ND-4.0 does not allow "
        "redistribution; share the build recipe (`rrsis-bench build`) instead"
    )
    assert not (tmp_path / "r").exists()


def test_arguments_and_existing_folder(builds, tmp_path: Path):
    with pytest.raises(
        PublishRefusedError, match="Expected --repo-id as ORG/NAME, but got 'rrsis'"
    ):
        publish([builds["pub-open"]], "rrsis", dry_run=tmp_path / "r")
    with pytest.raises(PublishRefusedError, match="a second dataset named 'pub-open'"):
        publish([builds["pub-open"], builds["pub-open"]], "org/x", dry_run=tmp_path / "r")
    publish([builds["pub-open"]], "org/x", dry_run=tmp_path / "r")
    with pytest.raises(OutputExistsError, match="already holds an rrsis-bench repository"):
        publish([builds["pub-open"]], "org/x", dry_run=tmp_path / "r")
    publish([builds["pub-open"]], "org/x", dry_run=tmp_path / "r", overwrite=True)


class FakeApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def create_repo(self, repo_id: str, **kwargs: Any) -> None:
        self.calls.append(("create_repo", (repo_id, kwargs)))

    def upload_folder(self, **kwargs: Any) -> None:
        folder = Path(kwargs["folder_path"])
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        self.calls.append(("upload_folder", (kwargs["repo_id"], kwargs["repo_type"], files)))


def test_upload_path_calls_the_hub_api_with_the_repository(builds):
    api = FakeApi()
    result = publish([builds["pub-open"]], "org/rrsis", api=api, private=True)
    assert result.uploaded and result.path is None
    assert api.calls[0] == (
        "create_repo",
        ("org/rrsis", {"repo_type": "dataset", "private": True, "exist_ok": True}),
    )
    name, (repo_id, repo_type, files) = api.calls[1]
    assert (name, repo_id, repo_type) == ("upload_folder", "org/rrsis", "dataset")
    assert "README.md" in files and "pub-open/train-00000-of-00001.parquet" in files
