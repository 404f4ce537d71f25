"""Run inputs: set names, --masks pairing, clashes; and the JPEG rule on real masks."""

from __future__ import annotations

import glob
import shutil

import cv2
import numpy as np
import pytest
from pipeline_helpers import copy_sample

from endobench.errors import ConfigError, DataError
from endobench.metrics import score_pair
from endobench.runner import RunConfig
from endobench.runner.sources import resolve_inputs, set_name_for
from endobench.writers.masks import encode_mask_jpeg


def test_set_names_are_folder_safe():
    assert set_name_for("polypgen/C1") == "polypgen-C1"
    assert set_name_for("kvasir:test") == "kvasir-test"
    assert set_name_for("EndoCV_DATA1") == "EndoCV_DATA1"


def test_images_with_masks_pair_by_stem_and_bare_images_take_the_parent_name(sample_root, tmp_path):
    images, masks = copy_sample(sample_root, tmp_path / "Clinic", "clinicdb", 3)
    for path in list(masks.iterdir()):
        path.rename(masks / f"{path.stem}_mask{path.suffix}")
    (only_images := tmp_path / "EndoCV_DATA1").mkdir()
    for path in images.iterdir():
        shutil.copy(path, only_images / path.name)
    sets = resolve_inputs([], [str(images), str(only_images)], [], None)
    assert [s.name for s in sets] == ["Clinic", "EndoCV_DATA1"]
    assert not sets[1].has_truth and len(sets[1].dataset) == 3
    paired = resolve_inputs([], [str(images)], [str(masks)], None)[0]
    assert paired.has_truth and [s.mask.name for s in paired.dataset.samples][0].endswith(
        "_mask.png"
    )
    (masks / next(masks.iterdir()).name).unlink()
    with pytest.raises(DataError, match="image without mask"):
        resolve_inputs([], [str(images)], [str(masks)], None)


def test_named_data_sets_open_through_the_registry():
    (named,) = resolve_inputs(["sample/clinicdb"], [], [], None)
    assert named.name == "sample-clinicdb" and len(named.dataset) == 10 and named.has_truth


def test_two_inputs_with_one_name_are_refused(sample_root, tmp_path):
    copy_sample(sample_root, tmp_path / "a" / "same", "clinicdb", 1)
    copy_sample(sample_root, tmp_path / "b" / "same", "clinicdb", 1)
    with pytest.raises(ConfigError, match="same_pred"):
        resolve_inputs([], [str(tmp_path / "a" / "same"), str(tmp_path / "b" / "same")], [], None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "no input"),
        ({"images": ["x"], "masks": ["a", "b"]}, "one mask folder per image folder"),
        ({"images": ["x"], "force": True, "resume": True}, "contradict"),
        ({"images": ["x"], "size": 64, "sizes": [32]}, "--size or --sizes"),
        ({"images": ["x"], "dtype": "int8"}, "--dtype"),
        ({"images": ["x"], "name": "../evil"}, "--name"),
    ],
)
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(model="m", **options).validate()


@pytest.mark.shared("Kvasir-SEG")
def test_jpeg_masks_score_close_to_lossless_on_real_masks(shared_data):
    files = sorted(glob.glob(str(shared_data / "Kvasir-SEG" / "masks" / "*.jpg")))[::20]
    dice = []
    for path in files:
        truth = cv2.imread(path, cv2.IMREAD_GRAYSCALE) > 127
        raw = cv2.imdecode(np.frombuffer(encode_mask_jpeg(truth), np.uint8), cv2.IMREAD_COLOR)[
            ..., 0
        ]
        dice.append(score_pair(truth, raw).dice)
    assert len(dice) == 50 and min(dice) > 0.99 and np.mean(dice) > 0.998
