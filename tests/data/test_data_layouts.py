"""Every layout on tiny fixture folders, the real Kvasir-SEG / CVC-ClinicDB folders, pairing
problems in both modes and stable ids."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from endobench.data import detect_layout, open_dataset
from endobench.errors import DataError


def test_images_masks_layout(tmp_path, make_pairs):
    root = tmp_path / "Kvasir-SEG"
    make_pairs(root / "images", root / "masks", ["b", "a", "c_1"], ".jpg", "{stem}.jpg")
    dataset = open_dataset(root)
    assert (dataset.name, dataset.layout, len(dataset)) == ("kvasir", "images-masks", 3)
    assert dataset.ids == ["kvasir/a", "kvasir/b", "kvasir/c_1"]
    sample = dataset[0]
    assert sample.name == "a" and sample.image.name == "a.jpg" and sample.mask.name == "a.jpg"
    image, mask = sample.read()
    assert image.shape == (12, 16, 3) and mask.shape == (12, 16) and mask.any()


def test_images_masks_with_mask_suffix(tmp_path, make_pairs):
    root = tmp_path / "mine"
    make_pairs(root / "images", root / "masks", ["x1", "x2"], ".png", "{stem}_mask.png")
    dataset = open_dataset(root)
    assert dataset.name == "mine" and [s.mask.name for s in dataset] == [
        "x1_mask.png",
        "x2_mask.png",
    ]


def test_clinicdb_original_tiff(tmp_path, make_pairs, files):
    root = tmp_path / "CVC-ClinicDB"
    make_pairs(root / "Original", root / "Ground Truth", ["1", "2", "10"], ".tif", "{stem}.tif")
    dataset = open_dataset(root)
    assert (dataset.layout, dataset.ids) == (
        "clinicdb-original",
        ["clinicdb/1", "clinicdb/10", "clinicdb/2"],
    )
    image, mask = dataset[0].read()
    expected = files.image(tmp_path / "ref.png", seed=0)
    np.testing.assert_array_equal(image, expected)


def test_clinicdb_png_subfolder_preferred(tmp_path, make_pairs):
    root = tmp_path / "CVC-612"
    make_pairs(root / "PNG" / "Original", root / "PNG" / "Ground Truth", ["1", "2"])
    make_pairs(
        root / "TIF" / "Original", root / "TIF" / "Ground Truth", ["1", "2"], ".tif", "{stem}.tif"
    )
    dataset = open_dataset(root)
    assert dataset.layout == "clinicdb-original" and dataset.name == "clinicdb"
    assert {s.image.suffix for s in dataset} == {".png"}


def test_colondb_original(tmp_path, files):
    root = tmp_path / "CVC-ColonDB"
    for number, suffix in ((1, ".tiff"), (2, ".tiff"), (77, ".tif")):
        files.image(root / f"{number}{suffix}")
        files.mask(root / f"p{number}{suffix}")
    dataset = open_dataset(root)
    assert dataset.layout == "colondb-original"
    assert dataset.ids == ["colondb/1", "colondb/2", "colondb/77"]
    assert dataset[2].mask.name == "p77.tif" and dataset[2].name == "77"


def test_etis_original(tmp_path, files):
    root = tmp_path / "ETIS-LaribPolypDB"
    for number in (1, 2):
        files.image(root / "ETIS-LaribPolypDB" / f"{number}.tif")
        files.mask(root / "Ground Truth" / f"p{number}.tif")
    dataset = open_dataset(root)
    assert (dataset.layout, dataset.name, len(dataset)) == ("etis-original", "etis", 2)
    assert dataset[0].mask.name == "p1.tif"


def test_polypgen_centres_sequences_negatives(polypgen_root):
    dataset = open_dataset(polypgen_root)
    assert (dataset.layout, dataset.name) == ("polypgen", "polypgen")
    assert dataset.subsets == ["C1", "C2", "negative", "positive"]
    assert len(dataset.subset("C1")) == 3 and len(dataset.subset("C2")) == 2
    assert dataset.subset("C1").name == "polypgen/C1"
    assert "polypgen/C1/100H0050" in dataset.ids
    assert dataset.subset("C1")[0].mask.name == "100H0050_mask.jpg"
    negatives = dataset.subset("negative")
    assert len(negatives) == 3 and len(dataset.subset("negative/seq2_neg")) == 1
    for sample in negatives:
        assert sample.negative and sample.mask is None and sample.has_truth
        truth = sample.read_mask()
        assert truth.shape == (10, 14) and not truth.any()
        image, truth = sample.read()
        assert truth.shape == image.shape[:2] and not truth.any()
    assert len(dataset.subset("positive")) == 1
    with pytest.raises(DataError, match="no subset 'C9'.*C1, C2"):
        dataset.subset("C9")


def test_single_polypgen_centre_folder(polypgen_root):
    dataset = open_dataset(polypgen_root / "data_C2")
    assert dataset.layout == "polypgen" and dataset.ids[0] == "polypgen/C2/EndoCV2021_C2_0001"
    whole = open_dataset(polypgen_root)
    assert set(dataset.ids) <= set(whole.ids)


def test_image_only_flat_and_images_folder(tmp_path, files):
    for stem in ("t2", "t1"):
        files.image(tmp_path / "EndoCV_DATA1" / f"{stem}.jpg")
        files.image(tmp_path / "test2" / "images" / f"{stem}.png")
    for folder in ("EndoCV_DATA1", "test2"):
        dataset = open_dataset(tmp_path / folder)
        assert dataset.layout == "image-only" and len(dataset) == 2
        assert all(s.mask is None and not s.negative and s.read_mask() is None for s in dataset)
        assert not dataset.has_truth
    assert open_dataset(tmp_path / "EndoCV_DATA1").ids == ["endocv_data1/t1", "endocv_data1/t2"]


def test_flat_with_mask_suffix(tmp_path, files):
    for stem in ("a_1", "b_2"):
        files.image(tmp_path / "f" / f"{stem}.jpg")
        files.mask(tmp_path / "f" / f"{stem}_mask.jpg")
    dataset = open_dataset(tmp_path / "f")
    assert dataset.layout == "flat" and [s.name for s in dataset] == ["a_1", "b_2"]


def test_pranet_testdataset_collection(tmp_path, make_pairs):
    root = tmp_path / "TestDataset"
    make_pairs(root / "Kvasir" / "images", root / "Kvasir" / "masks", ["k1", "k2"])
    make_pairs(root / "CVC-ColonDB" / "images", root / "CVC-ColonDB" / "masks", ["1", "2", "3"])
    dataset = open_dataset(root)
    assert (dataset.layout, dataset.name, len(dataset)) == ("collection", "pranet-test", 5)
    assert dataset.subsets == ["CVC-ColonDB", "Kvasir"]
    assert dataset.subset("Kvasir").ids == ["kvasir/k1", "kvasir/k2"]
    assert "colondb/3" in dataset.ids


def test_no_layout_and_missing_folder(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="no known data set layout"):
        open_dataset(tmp_path / "empty")
    with pytest.raises(DataError, match="not found"):
        detect_layout(tmp_path / "nope")


@pytest.fixture
def troubled(tmp_path, make_pairs, files):
    root = tmp_path / "troubled"
    make_pairs(root / "images", root / "masks", ["ok1", "ok2"], ".jpg", "{stem}.jpg")
    files.image(root / "images" / "lonely.jpg")
    files.mask(root / "masks" / "orphan.jpg")
    files.image(root / "images" / "wrongsize.jpg", 12, 16)
    files.mask(root / "masks" / "wrongsize.jpg", 12, 18)
    files.image(root / "images" / "twice.jpg")
    files.image(root / "images" / "twice.png")
    files.mask(root / "masks" / "twice.jpg")
    return root


def test_pairing_problems_error_names_them(troubled):
    with pytest.raises(DataError) as info:
        open_dataset(troubled)
    message = str(info.value)
    assert "\n" not in message and "4 pairing problem" in message
    for needle in (
        "images/lonely.jpg",
        "masks/orphan.jpg",
        "images/wrongsize.jpg is 16x12",
        "masks/wrongsize.jpg is 18x12",
        "twice.jpg",
        "twice.png",
        "--skip-problems",
    ):
        assert needle in message


def test_pairing_problems_skip_warns_with_count(troubled):
    with pytest.warns(UserWarning, match="skipped 4 pairing problem"):
        dataset = open_dataset(troubled, on_problem="skip")
    assert [s.name for s in dataset] == ["ok1", "ok2"]
    assert len(dataset.skipped) == 4


def test_size_mismatch_checked_lazily_when_not_on_open(tmp_path, files):
    root = tmp_path / "lazy"
    files.image(root / "images" / "a.png", 12, 16)
    files.mask(root / "masks" / "a.png", 10, 16)
    dataset = open_dataset(root, check_sizes_on_open=False)
    with pytest.raises(DataError, match="a.png: mask is 16x10 but image"):
        dataset[0].read()


def test_bad_on_problem_value(tmp_path, make_pairs):
    make_pairs(tmp_path / "d" / "images", tmp_path / "d" / "masks", ["a"])
    with pytest.raises(Exception, match="on_problem"):
        open_dataset(tmp_path / "d", on_problem="ignore")


def test_ids_stable_across_places_and_listing(tmp_path, make_pairs):
    first = tmp_path / "one" / "Kvasir-SEG"
    make_pairs(first / "images", first / "masks", ["z", "m", "a"], ".jpg", "{stem}.jpg")
    second = tmp_path / "two" / "Kvasir"
    shutil.copytree(first, second)
    assert open_dataset(first).ids == open_dataset(second).ids == open_dataset(first).ids
    assert open_dataset(first).ids == ["kvasir/a", "kvasir/m", "kvasir/z"]


@pytest.mark.shared("Kvasir-SEG", "CVC-ClinicDB")
def test_real_kvasir_and_clinicdb(shared_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        kvasir = open_dataset(shared_data / "Kvasir-SEG")
        clinic = open_dataset(shared_data / "CVC-ClinicDB")
    assert (kvasir.name, kvasir.layout, len(kvasir)) == ("kvasir", "images-masks", 1000)
    assert (clinic.name, len(clinic)) == ("clinicdb", 612)
    assert "kvasir/cju0qkwl35piu0993l0dewei2" in kvasir.ids
    image, mask = kvasir[0].read()
    assert image.shape[:2] == mask.shape


@pytest.mark.shared("CVC-ClinicDB-tif-sample")
def test_real_clinicdb_tif_sample(shared_data):
    dataset = open_dataset(shared_data / "CVC-ClinicDB-tif-sample", name="clinicdb")
    assert dataset.layout == "clinicdb-original"
    assert dataset.ids == ["clinicdb/1", "clinicdb/100", "clinicdb/25", "clinicdb/612"]
    image, mask = dataset[0].read()
    assert image.shape == (288, 384, 3) and mask.shape == (288, 384)
