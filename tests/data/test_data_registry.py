"""Named data sets under a data root, the bundled sample and the `endobench datasets` command."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from endobench.cli import app
from endobench.data import (
    find_datasets,
    load_dataset,
    pranet_split,
    read_image,
    read_mask,
    sample_dataset,
)
from endobench.errors import DataError


@pytest.fixture
def data_root(tmp_path, make_pairs, polypgen_root, files):
    """A data root with Kvasir (full names vary), PraNet's TestDataset and PolypGen."""
    root = tmp_path
    kvasir_test = pranet_split("kvasir", "test")
    make_pairs(
        root / "polyps" / "Kvasir" / "images",
        root / "polyps" / "Kvasir" / "masks",
        kvasir_test + ["train1", "train2"],
        ".png",
        "{stem}.png",
        size=(4, 6),
    )
    test = root / "PraNet" / "TestDataset"
    make_pairs(test / "CVC-ColonDB" / "images", test / "CVC-ColonDB" / "masks", ["1", "2"])
    make_pairs(test / "CVC-ClinicDB" / "images", test / "CVC-ClinicDB" / "masks", ["14", "21"])
    make_pairs(
        root / "PraNet" / "TrainDataset" / "images",
        root / "PraNet" / "TrainDataset" / "masks",
        ["t1", "t2", "t3", "t4"],
    )
    (root / "notes").mkdir()
    return root


def test_find_datasets_names_and_counts(data_root):
    found = {entry.name: entry for entry in find_datasets(data_root)}
    counts = {name: entry.count for name, entry in found.items()}
    assert counts["kvasir"] == 102 and counts["kvasir:test"] == 100 and counts["kvasir:train"] == 0
    assert (
        counts["polypgen"] == 9 and counts["polypgen/C1"] == 3 and counts["polypgen/negative"] == 3
    )
    assert counts["pranet-train"] == 4 and counts["pranet-test"] == 4
    assert counts["pranet-test/colondb"] == 2 and counts["colondb"] == 2
    assert counts["clinicdb:test"] == 2 and "clinicdb" not in counts
    assert found["polypgen"].layout == "polypgen"
    assert found["kvasir"].path == data_root / "polyps" / "Kvasir"
    name, layout, path, count, problems = found["pranet-train"]
    assert (layout, count, problems) == ("images-masks", 4, ())


def test_load_dataset_names(data_root):
    assert len(load_dataset("kvasir", data_root)) == 102
    test = load_dataset("kvasir:test", data_root)
    assert test.name == "kvasir:test" and test.ids == sorted(
        f"kvasir/{s}" for s in pranet_split("kvasir", "test")
    )
    centre = load_dataset("polypgen/C2", data_root)
    assert centre.name == "polypgen/C2" and len(centre) == 2
    colon = load_dataset("colondb", data_root)
    assert colon.ids == ["colondb/1", "colondb/2"]
    clinic_test = load_dataset("clinicdb:test", data_root)
    assert clinic_test.ids == ["clinicdb/14", "clinicdb/21"] and clinic_test.name == "clinicdb:test"
    assert len(load_dataset("pranet-test/colondb", data_root)) == 2


def test_incomplete_set_for_split_is_an_error(data_root):
    with pytest.raises(DataError, match="900 entries of 'kvasir:train'"):
        load_dataset("kvasir:train", data_root)


def test_unknown_name_lists_what_was_found(data_root):
    with pytest.raises(DataError) as info:
        load_dataset("etis", data_root)
    message = str(info.value)
    assert (
        "unknown data set 'etis'" in message and "kvasir" in message and "pranet-train" in message
    )
    with pytest.raises(DataError, match="unknown split"):
        load_dataset("colondb:test", data_root)


def test_data_root_from_environment(data_root, monkeypatch):
    monkeypatch.setenv("ENDOBENCH_DATA", str(data_root))
    assert len(load_dataset("pranet-train")) == 4
    monkeypatch.delenv("ENDOBENCH_DATA")
    with pytest.raises(DataError, match="no data root"):
        find_datasets()


def test_bundled_sample(sample_root):
    for name in ("kvasir", "clinicdb"):
        dataset = sample_dataset(name)
        assert dataset.name == f"sample/{name}" and len(dataset) == 10
        assert all(sample.id.startswith(f"{name}/") for sample in dataset)
        assert load_dataset(f"sample/{name}").ids == dataset.ids  # needs no data root
    kvasir = sample_dataset("kvasir")
    test_stems = set(pranet_split("kvasir", "test")) | set(pranet_split("clinicdb", "test"))
    for name in ("kvasir", "clinicdb"):
        assert {s.name for s in sample_dataset(name)} <= test_stems  # never training data
    sizes = {read_image(s.image).shape[:2] for s in kvasir}
    assert len(sizes) >= 5 and max(h for h, _ in sizes) > 1000
    total = sum(p.stat().st_size for p in sample_root.rglob("*") if p.is_file())
    assert total < 3_000_000
    with pytest.raises(DataError):
        sample_dataset("etis")


@pytest.mark.shared("Kvasir-SEG", "CVC-ClinicDB")
def test_sample_files_are_unchanged_copies(shared_data):
    folders = {"kvasir": shared_data / "Kvasir-SEG", "clinicdb": shared_data / "CVC-ClinicDB"}
    for name, original in folders.items():
        for sample in sample_dataset(name):
            assert (
                sample.image.read_bytes() == (original / "images" / sample.image.name).read_bytes()
            )
            np.testing.assert_array_equal(
                read_mask(sample.mask), read_mask(original / "masks" / sample.mask.name)
            )


@pytest.mark.shared("Kvasir-SEG", "CVC-ClinicDB")
def test_real_pranet_split_counts(shared_data):
    counts = {
        name: len(load_dataset(name, shared_data))
        for name in ("kvasir:train", "kvasir:test", "clinicdb:train", "clinicdb:test")
    }
    assert counts == {
        "kvasir:train": 900,
        "kvasir:test": 100,
        "clinicdb:train": 550,
        "clinicdb:test": 62,
    }
    train, test = (
        load_dataset("kvasir:train", shared_data),
        load_dataset("kvasir:test", shared_data),
    )
    assert not set(train.ids) & set(test.ids)
    assert set(train.ids) | set(test.ids) == set(load_dataset("kvasir", shared_data).ids)


def test_cli_datasets_lists_counts(data_root):
    result = CliRunner().invoke(app, ["datasets", "--data-root", str(data_root)])
    assert result.exit_code == 0, result.output
    for needle in (
        "kvasir:test",
        "polypgen/C1",
        "pranet-train",
        "sample/kvasir",
        "sample/clinicdb",
    ):
        assert needle in result.output
    row = next(line for line in result.output.splitlines() if "pranet-train" in line)
    assert " 4 " in row


def test_cli_datasets_without_root_shows_sample(monkeypatch):
    monkeypatch.delenv("ENDOBENCH_DATA", raising=False)
    result = CliRunner().invoke(app, ["datasets"])
    assert (
        result.exit_code == 0
        and "sample/clinicdb" in result.output
        and "No data root" in result.output
    )


def test_cli_datasets_bad_root_exit_2(tmp_path):
    result = CliRunner().invoke(app, ["datasets", "--data-root", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "Traceback" not in result.output
