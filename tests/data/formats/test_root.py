"""ROOT input: missing branches, trees and files, damaged files, each named."""

import awkward as ak
import pytest
import uproot

from gnnjet.errors import DataError
from tests.conftest import fake_jets, write_fake
from tests.data.test_columnar import read_all


def test_missing_branch_names_branch_file_and_key(base_config, tmp_path):
    raw = fake_jets(10)
    ch = ak.zip({f: raw["ch"][f] for f in raw["ch"].fields if f != "dxy"})
    path = write_fake(tmp_path / "nodxy.root", 10, ch=ch)
    with pytest.raises(
        DataError, match=r"nodxy\.root: branch 'ch_dxy' \(needed by data\.node_types\.charged\.features\[5\]\)"
    ):
        read_all(base_config, path)


def test_corrupt_and_missing_files(base_config, tmp_path):
    bad = tmp_path / "corrupt.root"
    bad.write_bytes(b"not a root file" * 50)
    with pytest.raises(DataError, match=r"cannot read ROOT file .*corrupt\.root: ValueError: not a ROOT file"):
        read_all(base_config, bad)
    truncated = tmp_path / "truncated.root"
    truncated.write_bytes(write_fake(tmp_path / "good.root", 50).read_bytes()[:3000])
    with pytest.raises(DataError, match=r"truncated\.root"):
        read_all(base_config, truncated)
    with pytest.raises(DataError, match=r"nothere\.root does not exist"):
        read_all(base_config, tmp_path / "nothere.root")


def test_missing_tree(base_config, fake_file):
    base_config["data"]["tree"] = "Events"
    with pytest.raises(DataError, match=r"no tree 'Events' \(trees in the file: Jets\)"):
        read_all(base_config, fake_file)


def test_a_null_tree_reads_each_files_only_tree(base_config, fake_file, tmp_path):
    """data.tree: null (a weaver data config without treename) reads the only tree of each file, and refuses a
    file with several, naming them."""
    named = read_all(base_config, fake_file)[1]
    base_config["data"]["tree"] = None
    unnamed = read_all(base_config, fake_file)[1]
    assert len(unnamed["y"]) == len(named["y"]) > 0 and (unnamed["x"] == named["x"]).all()

    two = tmp_path / "two.root"
    with uproot.recreate(two) as file:
        file.mktree("A", {"x": "float32"}).extend({"x": [1.0]})
        file.mktree("B", {"x": "float32"}).extend({"x": [1.0]})
    with pytest.raises(DataError, match=r"two\.root: data.tree is null but the file holds 2 trees \(A, B\)"):
        read_all(base_config, two)
