"""`inspect_raw` on every layout: REFER (RRSIS-D, NWPU-Refer, look-alike) and phrase files."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from data.nwpu.data import make_nwpu_release
from data.refer.data import jpeg_bytes, make_refer_release
from data.refsegrs.data import write_refsegrs, zip_release
from data.rrsisd.data import make_rrsisd_release

from rrsis_bench.builders import build
from rrsis_bench.builders.inspect import inspect_raw
from rrsis_bench.errors import DatasetNotFoundError


def test_rrsisd(tmp_path: Path) -> None:
    make_rrsisd_release(tmp_path / "raw")
    ins = inspect_raw(tmp_path / "raw", examples=1)
    (r,) = ins.refer
    assert (r.refs_file, r.instances_file, r.refs, r.images, r.annotations) == (
        "rrsisd/refs(unc).p",
        "rrsisd/instances.json",
        12,
        12,
        12,
    )
    assert r.splits == {"train": 6, "val": 3, "test": 3}
    assert r.category_key == {"categories_id": 12}
    assert r.segmentation_kinds == {"rle_list": 12}
    assert len(r.categories) == 20 and r.problems == []
    assert r.example_refs[0]["ref_id"] == 11
    assert r.example_annotations[0]["segmentation"] == [{"size": [48, 48], "counts": "<37 chars>"}]
    lines = ins.summary_lines()
    assert "  split values: train 6, val 3, test 3" in lines
    assert "  sentences per ref: 1 sentence: 12 refs" in lines
    assert (
        "  annotations: 12; keys: area 12, bbox 12, categories_id 12, id 12, image_id 12, segmentation 12"
        in lines
    )
    assert (
        "  images/rrsisd/JPEGImages/: 12 files (.jpg 12); e.g. 00011.jpg, 00110.jpg, 00413.jpg"
        in lines
    )
    assert lines[-1] == f"try: rrsis-bench build rrsis-d --raw {tmp_path / 'raw'}"


def test_rrsisd_drive_download_lists_archives(tmp_path: Path) -> None:
    make_rrsisd_release(tmp_path / "raw", layout="drive")
    ins = inspect_raw(tmp_path / "raw")
    assert sorted(ins.archives) == ["JPEGImages.zip", "ann_split.zip"]
    assert ins.refer[0].builder == "rrsis-d"  # recognised by the DIOR category names
    assert ins.suggestions == [f"rrsis-bench build rrsis-d --raw {tmp_path / 'raw'}"]


def test_nwpu(tmp_path: Path) -> None:
    make_nwpu_release(tmp_path / "raw", variant="old", image_dir="image")
    ins = inspect_raw(tmp_path / "raw")
    (r,) = ins.refer
    assert r.ann_id == {"scalar": 13, "list": 1}
    assert r.languages == {"en": 13, "mixed": 1, "zh": 4}
    assert r.sentences_per_ref == {"1": 10, "2": 4}
    assert r.segmentation_kinds == {"polygons": 7, "empty": 3, "rle": 2, "uncompressed_rle": 1}
    assert r.builder == "nwpu-refer"  # `no target` among the categories
    assert [f.path for f in ins.folders] == ["image"]


def test_refer_lookalike_suggests_options(tmp_path: Path) -> None:
    make_refer_release(tmp_path / "raw")
    ins = inspect_raw(tmp_path / "raw")
    assert ins.suggestions == [
        f"rrsis-bench build refer --raw {tmp_path / 'raw'} -o name=georef -o split_by=umd"
    ]
    assert ins.refer[0].segmentation_kinds == {"polygons": 4, "rle": 3}


def test_hostile_pickle_is_reported_not_run(tmp_path: Path) -> None:
    make_rrsisd_release(tmp_path / "raw")
    (tmp_path / "raw" / "rrsisd" / "refs(unc).p").write_bytes(b"cos\nsystem\n(S'touch x'\ntR.")
    ins = inspect_raw(tmp_path / "raw")
    (r,) = ins.refer
    assert r.refs == 0
    assert r.problems[0].endswith(
        "refused global os.system: a refs pickle may hold only built-in containers, strings and "
        "numbers (nothing in the file was executed); download the file again from the dataset's "
        "official source"
    )
    lines = ins.summary_lines()
    assert f"  problem: {r.problems[0]}" in lines
    # no build is suggested for a release whose refs pickle was refused
    assert ins.suggestions == []
    assert ins.blocking() == r.problems
    assert (
        lines[-1] == "cannot build rrsisd/refs(unc).p as it is: fix the problem(s) listed under it"
    )
    assert not any(line.startswith("try:") for line in lines)


def test_refsegrs_phrase_layout(tmp_path: Path) -> None:
    top = tmp_path / "raw" / "RefSegRS"
    (top / "images").mkdir(parents=True)
    (top / "masks").mkdir()
    lines = {
        "train": ["1361 paved road", "39 road"],
        "val": ["4497 vehicle driving on the road"],
        "test": ["4213 van driving on the road", "945 impervious surface", "garbage"],
    }
    for split, ls in lines.items():
        (top / f"output_phrase_{split}.txt").write_text("\r\n".join(ls) + "\r\n", encoding="utf-8")
    for i in (1361, 39, 4497, 4213, 945):
        (top / "images" / f"{i}.tif").write_bytes(b"II*\x00")
        (top / "masks" / f"{i}.tif").write_bytes(b"II*\x00")
    ins = inspect_raw(tmp_path / "raw", examples=1)
    assert [p.file for p in ins.phrase] == [
        "RefSegRS/output_phrase_test.txt",
        "RefSegRS/output_phrase_train.txt",
        "RefSegRS/output_phrase_val.txt",
    ]
    test = ins.phrase[0]
    assert (test.lines, test.malformed, test.first_token) == (3, 1, {"number": 2})
    assert test.examples == ["4213 van driving on the road"]
    assert test.problems == [
        "line 3: the first token 'garbage' is not an id matching `\\d+`; expected "
        "`<id> <expression>`",
        "lines end with CR LF",
    ]
    assert [(f.path, f.files) for f in ins.folders] == [
        ("RefSegRS/images", 5),
        ("RefSegRS/masks", 5),
    ]
    assert ins.suggestions == [f"rrsis-bench build refsegrs --raw {tmp_path / 'raw'}"]
    assert (
        "phrase file: RefSegRS/output_phrase_test.txt: 3 lines, 1 malformed" in ins.summary_lines()
    )


def test_risbench_phrase_layout(tmp_path: Path) -> None:
    top = tmp_path / "raw" / "RISBench_dataset"
    (top / "img_rgb").mkdir(parents=True)
    (top / "mask").mkdir()
    (top / "output_phrase_val.txt").write_text(
        "train_14703_0.png The small vehicle is located at the bottom-middle part of the image.\n",
        encoding="utf-8",
    )
    (top / "img_rgb" / "train_14703_0.png").write_bytes(jpeg_bytes(8, 8, 0))
    (top / "mask" / "train_14703_0.png").write_bytes(b"\x89PNG")
    ins = inspect_raw(tmp_path / "raw")
    assert ins.phrase[0].first_token == {"file name": 1}
    assert ins.suggestions == [f"rrsis-bench build risbench --raw {tmp_path / 'raw'}"]


def test_empty_and_missing(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    ins = inspect_raw(tmp_path / "raw")
    assert (
        ins.summary_lines()[-1]
        == "no REFER refs file and no phrase file found: no builder fits this folder"
    )
    with pytest.raises(
        DatasetNotFoundError,
        match="nope: not a folder or an archive; pass the downloaded release folder or archive",
    ):
        inspect_raw(tmp_path / "nope")
    (tmp_path / "raw" / "refs(unc).p").write_bytes(pickle.dumps({"not": "a list"}))
    ins = inspect_raw(tmp_path / "raw")
    assert ins.refer[0].problems == [
        "refs(unc).p holds a dict, not a list of refs",
        "no instances.json or new_instances.json beside refs(unc).p; put the release's "
        "instances file there",
    ]
    assert ins.suggestions == []
    assert ins.summary_lines()[-1] == (
        "cannot build refs(unc).p as it is: fix the problem(s) listed under it"
    )


def test_phrase_lines_counted_as_the_builder_counts_them(tmp_path: Path) -> None:
    write_refsegrs(tmp_path / "raw")
    ins = inspect_raw(tmp_path / "raw", examples=0)
    train = next(p for p in ins.phrase if p.file.endswith("train.txt"))
    assert (train.lines, train.malformed, train.without_text) == (11, 1, 0)
    assert train.first_token == {"number": 10}
    assert train.problems == [
        "line 4: the first token 'abc12' is not an id matching `\\d+`; expected `<id> <expression>`"
    ]
    result = build("refsegrs", tmp_path / "raw", tmp_path / "out")
    malformed = [f.message for f in result.report.findings if f.rule == "line-malformed"]
    assert malformed == [f"output_phrase_train.txt:4: {train.problems[0].removeprefix('line 4: ')}"]
    lines = ins.summary_lines()
    assert "phrase file: RefSegRS/output_phrase_train.txt: 11 lines, 1 malformed" in lines


def test_phrase_line_without_expression(tmp_path: Path) -> None:
    top = tmp_path / "raw"
    top.mkdir()
    (top / "output_phrase_val.txt").write_text("4497 vehicle\n4213\n", encoding="utf-8")
    (ph,) = inspect_raw(top).phrase
    assert (ph.lines, ph.malformed, ph.without_text) == (2, 0, 1)
    assert ph.problems == ["line 2: id '4213' has no expression after it"]
    assert "phrase file: output_phrase_val.txt: 2 lines, 0 malformed, 1 without an expression" in (
        inspect_raw(top).summary_lines()
    )


def test_archive_is_inspected_like_its_folder(tmp_path: Path) -> None:
    release = write_refsegrs(tmp_path / "src")
    archive = zip_release(release, tmp_path / "RefSegRS.zip")
    ins = inspect_raw(archive, examples=0)
    folder = inspect_raw(tmp_path / "src", examples=0)
    assert ins.raw == str(archive)
    assert ins.extracted_to is not None and (Path(ins.extracted_to) / "RefSegRS").is_dir()
    assert [(p.file, p.lines, p.malformed) for p in ins.phrase] == [
        (p.file, p.lines, p.malformed) for p in folder.phrase
    ]
    assert [(f.path, f.files) for f in ins.folders] == [
        ("RefSegRS/images", 21),
        ("RefSegRS/masks", 21),
    ]
    assert ins.suggestions == [f"rrsis-bench build refsegrs --raw {archive}"]
    assert ins.summary_lines()[1] == (
        f"extracted to: {ins.extracted_to} (cached; a build reuses it)"
    )
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(DatasetNotFoundError, match="notes.txt: not a folder or an archive"):
        inspect_raw(tmp_path / "notes.txt")


def test_refer_release_in_an_archive_suggests_the_extracted_folder(tmp_path: Path) -> None:
    make_nwpu_release(tmp_path / "NWPU-Refer")
    archive = zip_release(tmp_path / "NWPU-Refer", tmp_path / "NWPU-Refer.zip", prefix="")
    ins = inspect_raw(archive)
    assert ins.refer[0].refs_file == "new_refs(unc).p"
    assert ins.suggestions == [f"rrsis-bench build nwpu-refer --raw {ins.extracted_to}"]


def test_grefcoco_layout_suggests_grefer_and_a_split_map(tmp_path: Path) -> None:
    from data.interop.data import write_built

    from rrsis_bench.export import export

    export(write_built(tmp_path), None, tmp_path / "export", preset="grefcoco")
    ins = inspect_raw(tmp_path / "export")
    (refer,) = ins.refer
    assert (refer.refs_file, refer.builder) == ("grefcoco/grefs(unc).json", "grefer")
    assert refer.splits == {"train": 7, "val": 2, "testA": 3}
    assert refer.ann_id == {"list": 12}
    assert ins.suggestions == [
        f"rrsis-bench build grefer --raw {tmp_path / 'export'} -o name=grefcoco -o split_by=unc "
        "-o split_map=testA:<train|val|test>"
    ]
    # with a pickled copy beside the JSON, the pickle is what a build (and G_REFER) reads
    import json

    refs = json.loads((tmp_path / "export/grefcoco/grefs(unc).json").read_text())
    (tmp_path / "export/grefcoco/grefs(unc).p").write_bytes(pickle.dumps(refs, protocol=2))
    (both,) = inspect_raw(tmp_path / "export").refer
    assert both.refs_file == "grefcoco/grefs(unc).p" and both.ann_id == {"list": 12}
