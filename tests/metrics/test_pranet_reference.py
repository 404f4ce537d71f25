"""endobench's PraNet-eval figures against PraNet's own eval/ code run under GNU Octave.

The reference numbers and how they were made: ``fixtures/pranet_eval/README.md``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from endobench.data.matlab_imread import imread_like_matlab
from endobench.metrics.pranet_eval import FIGURES, PraNetEval, naive_thresholds
from endobench.metrics.pranet_files import map_levels, pair_maps, read_truth, score_map_folder

FIXTURES = Path(__file__).parent / "fixtures" / "pranet_eval"
REFERENCE = json.loads((FIXTURES / "reference.json").read_text())["sets"]
#: Octave's bwdist is approximate (see the README): wFm agrees only this far.
WFM_TOLERANCE = 1e-5
EXACT_TOLERANCE = 1e-10


def _assert_matches(values: dict, reference: dict) -> None:
    assert values["images"] == reference["images"]
    for name in FIGURES:
        tolerance = WFM_TOLERANCE if name == "wFm" else EXACT_TOLERANCE
        assert abs(values[name] - reference[name]) <= tolerance, (
            name,
            values[name],
            reference[name],
        )


def _score(gt_dir: Path, maps_dir: Path, thresholds: np.ndarray) -> dict:
    evaluation = PraNetEval(thresholds)
    pairs, _ = pair_maps(gt_dir, maps_dir)
    for name, truth_file, map_file in pairs:
        truth = read_truth(truth_file)
        levels, top = map_levels(imread_like_matlab(map_file), truth.shape, str(map_file))
        evaluation.update(name, truth, levels, top)
    return evaluation.compute() | {"images": len(evaluation)}


@pytest.mark.parametrize("sample_set", ["clinicdb", "kvasir"])
def test_sample_maps_match_pranets_code(sample_root, sample_set):
    reference = REFERENCE[f"sample/{sample_set}"]
    gt_dir = sample_root / sample_set / "masks"
    maps_dir = FIXTURES / "maps" / sample_set
    result = score_map_folder(gt_dir, maps_dir)
    _assert_matches(result.figures | {"images": len(result.names)}, reference["matlab_thresholds"])
    # Octave's own range of thresholds: the same code, another last bit, other figures.
    octave = _score(gt_dir, maps_dir, naive_thresholds())
    _assert_matches(octave, reference["octave_thresholds"])
    assert octave["meanDic"] != pytest.approx(result.figures["meanDic"], abs=1e-5)


def _same_maps(maps_dir: Path, expected: dict[str, str]) -> bool:
    found = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in maps_dir.glob("*.png")}
    return found == expected


@pytest.mark.slow
@pytest.mark.shared("CVC-ClinicDB", "Kvasir-SEG", "splits")
@pytest.mark.parametrize("dataset", ["clinicdb:test", "kvasir:test"])
def test_pranet_test_split_matches_pranets_code(shared_data, tmp_path, dataset):
    if dataset not in REFERENCE:
        pytest.skip(f"no Octave reference for {dataset} in the fixture")
    from endobench.runner import RunConfig, run_benchmark

    config = RunConfig(
        model="brp_lite_post",
        datasets=[dataset],
        data_root=str(shared_data),
        out=str(tmp_path),
        name="ref",
        save_prob=True,
        progress=False,
        threads=1,
    )
    result = run_benchmark(config)
    set_name = dataset.replace(":", "-")
    maps_dir = result.run_dir / "probabilities" / set_name
    reference = REFERENCE[dataset]
    if not _same_maps(maps_dir, reference["map_sha256"]):
        pytest.skip("this machine's maps differ from the reference run's (other CPU arithmetic)")
    _assert_matches(result.sets[set_name].pranet_eval, reference["matlab_thresholds"])
