"""PraNet split lists, k-fold properties, split files."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from endobench.data import (
    Sample,
    apply_split_file,
    kfold,
    open_dataset,
    pranet_split,
    read_split_file,
    write_split_file,
)
from endobench.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]


def _samples(count: int, prefix: str = "set") -> list[Sample]:
    return [
        Sample(f"{prefix}/img{i:04d}", f"img{i:04d}", Path(f"img{i:04d}.png")) for i in range(count)
    ]


@pytest.mark.parametrize(
    ("name", "part", "count"),
    [
        ("kvasir", "train", 900),
        ("kvasir", "test", 100),
        ("clinicdb", "train", 550),
        ("clinicdb", "test", 62),
    ],
)
def test_bundled_pranet_split_sizes(name, part, count):
    stems = pranet_split(name, part)
    assert len(stems) == len(set(stems)) == count


def test_pranet_train_and_test_disjoint():
    for name in ("kvasir", "clinicdb"):
        assert not set(pranet_split(name, "train")) & set(pranet_split(name, "test"))


@pytest.mark.shared("splits/pranet")
def test_bundled_split_equals_shared_lists(shared_data):
    for name in ("kvasir", "clinicdb"):
        for part in ("train", "test"):
            shared = (shared_data / "splits" / "pranet" / f"{name}_{part}.txt").read_text().split()
            assert pranet_split(name, part) == shared


def test_unknown_pranet_split():
    with pytest.raises(ConfigError, match="kvasir:test"):
        pranet_split("etis", "test")


def test_split_lists_are_package_data():
    if sys.version_info < (3, 11):
        pytest.skip("tomllib needs Python 3.11")
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["endobench"]
    package = REPO / "endobench"
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    needed = list((package / "data" / "split_lists" / "pranet").glob("*.txt"))
    needed += [p for p in (package / "sample").rglob("*") if p.is_file()]
    assert len(needed) >= 4 + 40
    missing = sorted(str(p.relative_to(package)) for p in needed if p not in shipped)
    assert not missing, f"not in pyproject package-data: {missing[:5]}"


@pytest.mark.parametrize(("count", "k"), [(23, 5), (10, 2), (7, 7)])
def test_kfold_disjoint_covering_balanced(count, k):
    samples = _samples(count)
    folds = kfold(samples, k=k, seed=3)
    assert len(folds) == k
    vals = [val for _, val in folds]
    all_ids = sorted(s.id for s in samples)
    assert sorted(s.id for val in vals for s in val) == all_ids  # each sample validated once
    for train, val in folds:
        assert not {s.id for s in train} & {s.id for s in val}
        assert sorted(s.id for s in train + val) == all_ids
    sizes = [len(val) for val in vals]
    assert max(sizes) - min(sizes) <= 1


def test_kfold_independent_of_input_order():
    samples = _samples(40)
    shuffled = samples[:]
    random.Random(5).shuffle(shuffled)
    first = [[s.id for s in val] for _, val in kfold(samples, 5, seed=1)]
    second = [[s.id for s in val] for _, val in kfold(shuffled, 5, seed=1)]
    assert first == second


def test_kfold_seed_changes_and_is_repeatable():
    samples = _samples(40)
    a = [[s.id for s in val] for _, val in kfold(samples, 5, seed=0)]
    assert a == [[s.id for s in val] for _, val in kfold(samples, 5, seed=0)]
    assert a != [[s.id for s in val] for _, val in kfold(samples, 5, seed=1)]
    assert a != [[s.id for s in samples[i::5]] for i in range(5)]  # not a plain stride


def test_kfold_accepts_ids_and_rejects_bad_input():
    ids = [f"x/{i}" for i in range(6)]
    assert sorted(i for _, val in kfold(ids, 3) for i in val) == sorted(ids)
    with pytest.raises(ConfigError):
        kfold(ids, k=1)
    with pytest.raises(ConfigError):
        kfold(ids, k=7)
    with pytest.raises(DataError, match="x/1"):
        kfold(ids + ["x/1"], k=2)


def test_split_file_round_trip_and_no_overwrite(tmp_path):
    path = tmp_path / "val.txt"
    write_split_file(path, ["kvasir/a", "b"])
    assert path.read_text() == "kvasir/a\nb\n"
    assert read_split_file(path) == ["kvasir/a", "b"]
    with pytest.raises(DataError, match="already exists"):
        write_split_file(path, ["c"])
    write_split_file(path, ["c"], overwrite=True)
    assert read_split_file(path) == ["c"]


def test_split_file_comments_repeats_missing(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("# my split\n\n a \nb\n")
    assert read_split_file(path) == ["a", "b"]
    path.write_text("a\nb\na\n")
    with pytest.raises(DataError, match="more than once"):
        read_split_file(path)
    with pytest.raises(DataError, match="not found"):
        read_split_file(tmp_path / "none.txt")


def test_apply_split_file_by_id_or_stem(tmp_path, make_pairs):
    root = tmp_path / "Kvasir"
    make_pairs(root / "images", root / "masks", ["a", "b", "c"])
    dataset = open_dataset(root)
    (tmp_path / "fold1.txt").write_text("kvasir/c\na\n")
    chosen = apply_split_file(dataset, tmp_path / "fold1.txt")
    assert chosen.name == "kvasir:fold1" and chosen.ids == ["kvasir/a", "kvasir/c"]
    (tmp_path / "bad.txt").write_text("a\nzzz\n")
    with pytest.raises(DataError, match="zzz"):
        apply_split_file(dataset, tmp_path / "bad.txt")
