"""Negative sets: PolypGen's sequence folders opened on their own, open_negatives on any folder of
polyp-free frames, the named sets, and the real PolypGen negatives of ../shared/data."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from endobench.data import find_datasets, image_size, load_dataset, open_dataset, open_negatives
from endobench.errors import DataError

# The thirteen sequences of ../shared/data/PolypGen-negatives and their frame counts (its README).
SHARED_SEQUENCES = {
    "seq1_neg": 48,
    "seq2_neg": 31,
    "seq3_neg": 23,
    "seq4_neg": 36,
    "seq9_neg": 38,
    "seq10_neg": 30,
    "seq11_neg": 35,
    "seq12_neg": 32,
    "seq16_neg": 36,
    "seq18_neg": 21,
    "seq19_neg": 49,
    "seq21_neg": 37,
    "seq17_neg": 130,
}


@pytest.fixture
def negatives_copy(tmp_path, polypgen_root):
    """A copy of only the negative frames of the PolypGen fixture, in PolypGen's layout."""
    copy = tmp_path / "PolypGen-negatives" / "sequenceData" / "negativeOnly"
    shutil.copytree(polypgen_root / "sequenceData" / "negativeOnly", copy)
    return tmp_path / "PolypGen-negatives"


def test_sequence_only_copy_keeps_the_release_ids(negatives_copy, polypgen_root):
    full = open_dataset(polypgen_root)
    expected = full.subset("negative").ids
    assert len(expected) == 3
    for folder in (negatives_copy, negatives_copy / "sequenceData"):
        dataset = open_dataset(folder)
        assert (dataset.name, dataset.layout, dataset.ids) == ("polypgen", "polypgen", expected)
        assert dataset.negative and dataset.has_truth
    only = open_dataset(negatives_copy / "sequenceData" / "negativeOnly")
    assert (only.name, only.ids, only.negative) == ("polypgen/negative", expected, True)
    one = open_dataset(negatives_copy / "sequenceData" / "negativeOnly" / "seq2_neg")
    assert one.name == "polypgen/negative/seq2_neg"
    assert one.ids == ["polypgen/negative/seq2_neg/seq2_neg_0001"]
    assert [s.sequence for s in only] == ["seq1_neg", "seq1_neg", "seq2_neg"]


def test_positive_sequence_folders_open_alone(polypgen_root):
    positive = polypgen_root / "sequenceData" / "positive"
    for folder, name in (
        (positive, "polypgen/positive"),
        (positive / "seq1", "polypgen/positive/seq1"),
    ):
        dataset = open_dataset(folder)
        assert (dataset.name, dataset.ids) == (name, ["polypgen/positive/seq1/seq1_0001"])
        assert dataset[0].mask is not None and dataset[0].sequence == "seq1"
        assert not dataset.negative


def test_sequence_field_only_for_sequences(polypgen_root, tmp_path, make_pairs):
    dataset = open_dataset(polypgen_root)
    sequences = {s.id: s.sequence for s in dataset}
    assert sequences["polypgen/C1/100H0050"] is None
    assert sequences["polypgen/positive/seq1/seq1_0001"] == "seq1"
    assert sequences["polypgen/negative/seq2_neg/seq2_neg_0001"] == "seq2_neg"
    assert not dataset.negative and dataset.subset("negative").negative
    make_pairs(tmp_path / "k" / "images", tmp_path / "k" / "masks", ["a"])
    assert open_dataset(tmp_path / "k")[0].sequence is None


def test_negative_frames_read_as_all_background(negatives_copy):
    for sample in open_negatives(negatives_copy):
        image, truth = sample.read()
        assert truth.dtype == bool and truth.shape == image.shape[:2] == (10, 14)
        assert not truth.any() and sample.mask is None and sample.negative


def test_open_negatives_on_polypgen_folders(negatives_copy, polypgen_root):
    expected = open_dataset(polypgen_root).subset("negative").ids
    whole = open_negatives(polypgen_root)
    assert (whole.name, whole.ids, whole.negative) == ("polypgen/negative", expected, True)
    copy = open_negatives(negatives_copy)
    assert (copy.name, copy.ids) == ("polypgen/negative", expected)
    assert open_negatives(negatives_copy / "sequenceData" / "negativeOnly").ids == expected
    shutil.rmtree(polypgen_root / "sequenceData" / "negativeOnly")
    with pytest.raises(DataError, match="without negative frames"):
        open_negatives(polypgen_root)


def test_open_negatives_on_any_folder(tmp_path, files):
    root = tmp_path / "MyNegatives"
    files.image(root / "b.png", 8, 9)
    files.image(root / "a.jpg", 8, 9)
    files.image(root / "case7" / "clip" / "f1.jpg", 6, 5)
    files.image(root / "case3" / "f1.png", 6, 5)
    dataset = open_negatives(root)
    assert (dataset.name, dataset.layout, dataset.negative) == ("mynegatives", "negatives", True)
    assert dataset.ids == [
        "mynegatives/a",
        "mynegatives/b",
        "mynegatives/case3/f1",
        "mynegatives/case7/clip/f1",
    ]
    assert [s.sequence for s in dataset] == [None, None, "case3", "case7"]
    assert [s.subset for s in dataset] == ["", "", "case3", "case7/clip"]
    assert all(s.negative and s.mask is None for s in dataset)
    assert not dataset[3].read_mask().any() and dataset[3].read_mask().shape == (6, 5)
    assert open_negatives(root, name="neg").ids[0] == "neg/a"


def test_open_negatives_refuses_what_is_not_a_negative_set(tmp_path, files, make_pairs):
    with pytest.raises(DataError, match="not found"):
        open_negatives(tmp_path / "absent")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DataError, match="no image files"):
        open_negatives(tmp_path / "empty")
    make_pairs(tmp_path / "kv" / "images", tmp_path / "kv" / "masks", ["a"])
    with pytest.raises(DataError, match=r"masks.a\.png: looks like a mask"):
        open_negatives(tmp_path / "kv")
    files.image(tmp_path / "flat" / "a.jpg")
    files.image(tmp_path / "flat" / "a_mask.png")
    with pytest.raises(DataError, match="a_mask.png: looks like a mask"):
        open_negatives(tmp_path / "flat")
    files.image(tmp_path / "dup" / "x.jpg")
    files.image(tmp_path / "dup" / "x.png")
    with pytest.raises(DataError, match="one stem, several files: x.jpg, x.png"):
        open_negatives(tmp_path / "dup")


def test_named_negative_sets(tmp_path, negatives_copy, polypgen_root):
    root = tmp_path
    counts = {entry.name: entry.count for entry in find_datasets(negatives_copy.parent)}
    assert counts["polypgen"] == 9 and counts["polypgen/negative"] == 3
    found = {entry.name: entry.path for entry in find_datasets(root)}
    assert found["polypgen"] == polypgen_root, "a whole release beats a copy of its negatives"
    alone = tmp_path / "alone"
    shutil.copytree(negatives_copy, alone / "PolypGen-negatives")
    found = {entry.name: entry for entry in find_datasets(alone)}
    assert found["polypgen/negative"].count == 3 and found["polypgen"].count == 3
    dataset = load_dataset("polypgen/negative", alone)
    assert dataset.negative and dataset.ids == open_negatives(negatives_copy).ids


@pytest.mark.shared("PolypGen-negatives")
def test_real_polypgen_negatives(shared_data):
    root = shared_data / "PolypGen-negatives"
    for folder in (root, root / "sequenceData" / "negativeOnly"):
        dataset = open_negatives(folder)
        assert len(dataset) == 546 and dataset.negative
        assert len(SHARED_SEQUENCES) == 13
        assert Counter(s.sequence for s in dataset) == SHARED_SEQUENCES
        assert all(s.id == f"polypgen/negative/{s.sequence}/{s.name}" for s in dataset)
    assert open_dataset(root / "sequenceData" / "negativeOnly" / "seq3_neg").negative
    # The README says 1920 x 1080; the frames of seq4_neg are 720 x 576.
    sizes = {(s.sequence, image_size(s.image)) for s in dataset}
    assert {size for _, size in sizes} == {(1080, 1920), (576, 720)}
    assert {seq for seq, size in sizes if size == (576, 720)} == {"seq4_neg"}
    named = load_dataset("polypgen/negative", shared_data)
    assert named.ids == dataset.ids
    image, truth = dataset[0].read()
    assert image.shape == (1080, 1920, 3) and truth.shape == (1080, 1920)
    assert not np.any(truth)
    # docs/data.md states the counts of the shared folder.
    docs = (Path(__file__).parents[2] / "docs" / "data.md").read_text(encoding="utf-8")
    assert f"# {len(dataset)} frames, {len(SHARED_SEQUENCES)} sequences" in docs


def test_open_negatives_skips_or_refuses_problems(tmp_path, files):
    root = tmp_path / "negs"
    files.image(root / "ok.jpg")
    files.image(root / "x.jpg")
    files.image(root / "x.png")
    files.image(root / "seq" / "cut.jpg", 40, 60)
    data = (root / "seq" / "cut.jpg").read_bytes()
    (root / "seq" / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="1 problem.*one stem, several files"):
        open_negatives(root)
    with pytest.warns(UserWarning, match="skipped 1 problem"):
        dataset = open_negatives(root, on_problem="skip")
    assert dataset.ids == ["negs/ok", "negs/seq/cut"]
    with pytest.raises(DataError, match="2 problem.*unreadable: seq/cut.jpg"):
        open_negatives(root, check_files=True)
    with pytest.warns(UserWarning, match="skipped 2 problem"):
        checked = open_negatives(root, on_problem="skip", check_files=True)
    assert checked.ids == ["negs/ok"] and len(checked.skipped) == 2
