"""The ntuple writer: collections become prefixed branches with a counter, in ROOT and Parquet alike, and the
collections of a written file are found again from its branch names."""

import awkward as ak
import numpy as np
import pytest
import uproot

from gnnjet.data.writer import collections_in, write_jet_chunks, write_jets


@pytest.mark.parametrize("suffix", [".root", ".parquet"])
def test_collections_round_trip_through_the_branch_layout(tmp_path, suffix):
    jets = {"pt": np.array([10.0, 20.0, 30.0]),
            "trk": ak.zip({"pt": ak.Array([[1.0, 2.0], [], [3.0]]), "d0": ak.Array([[0.1, 0.2], [], [0.3]])}),
            "cal": ak.zip({"e": ak.Array([[5.0], [6.0, 7.0], []])})}
    path = tmp_path / f"j{suffix}"
    write_jets(path, jets)
    read = uproot.open(path)["Jets"].arrays() if suffix == ".root" else ak.from_parquet(path)
    assert collections_in(read.fields) == ["trk", "cal"]
    assert {"trk_pt", "trk_d0", "ntrk", "cal_e", "ncal"} <= set(read.fields)
    assert ak.to_list(read["trk_d0"]) == [[0.1, 0.2], [], [0.3]]
    np.testing.assert_array_equal(ak.to_numpy(read["ncal"]), [1, 2, 0])


def test_a_jet_level_branch_starting_with_n_is_not_a_collection():
    assert collections_in(["pt", "num_pv", "nch", "ch_pt", "nothing"]) == ["ch"]


def test_chunks_are_appended_in_order(tmp_path):
    chunks = [{"pt": np.arange(n, dtype=np.float64) + 100 * i} for i, n in enumerate((3, 0, 2))]
    assert write_jet_chunks(tmp_path / "c.root", chunks) == 5
    np.testing.assert_array_equal(uproot.open(tmp_path / "c.root")["Jets"]["pt"].array(library="np"),
                                  [0, 1, 2, 200, 201])
