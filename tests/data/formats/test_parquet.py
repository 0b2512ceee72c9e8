"""Parquet input: the same jets as ROOT, chunks of whole row groups, missing columns and damaged files named."""

import awkward as ak
import numpy as np
import pytest

from gnnjet.config import validate_config
from gnnjet.data.formats import format_of, parquet, root
from gnnjet.data.reader import plan_chunks
from gnnjet.data.spec import DataSpec
from gnnjet.data.writer import write_jet_chunks
from gnnjet.errors import DataError
from tests.conftest import BASE_CONFIG, fake_jets, write_fake
from tests.data.test_columnar import read_all


def test_format_follows_the_suffix():
    assert format_of("a/b.parquet") is parquet and format_of("B.PQ") is parquet
    assert format_of("x.root") is root and format_of("no_suffix") is root


def test_parquet_and_root_give_the_same_arrays(tmp_path):
    jets = fake_jets(90, seed=4)
    write_jet_chunks(
        tmp_path / "j.parquet", [{k: v[:40] for k, v in jets.items()}, {k: v[40:] for k, v in jets.items()}]
    )
    write_fake(tmp_path / "j.root", 90, seed=4)
    _, from_parquet, _ = read_all(BASE_CONFIG, tmp_path / "j.parquet")
    _, from_root, _ = read_all(BASE_CONFIG, tmp_path / "j.root")
    for name in from_root:
        np.testing.assert_array_equal(from_parquet[name], from_root[name], err_msg=name)


def test_chunks_are_runs_of_whole_row_groups_counting_rows_in_the_file(tmp_path):
    write_jet_chunks(tmp_path / "g.parquet", [fake_jets(n, seed=n) for n in (30, 30, 50, 10)])
    spec = DataSpec.from_config(validate_config(BASE_CONFIG))
    chunks = plan_chunks(spec, [str(tmp_path / "g.parquet")], 55)
    assert [(c.start, c.stop, c.parts) for c in chunks] == [(0, 60, (0, 1)), (60, 120, (2, 3))]


def test_missing_column_and_damaged_file(tmp_path):
    jets = fake_jets(20)
    jets["ch"] = ak.zip({f: jets["ch"][f] for f in jets["ch"].fields if f != "dxy"})
    write_jet_chunks(tmp_path / "nodxy.parquet", [jets])
    with pytest.raises(
        DataError,
        match=r"nodxy\.parquet: column 'ch_dxy' \(needed by data\.node_types\.charged\.features"
        r"\[5\]\) is not in the Parquet file",
    ):
        read_all(BASE_CONFIG, tmp_path / "nodxy.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 but not really" * 20)
    with pytest.raises(DataError, match=r"cannot read Parquet file .*bad\.parquet"):
        read_all(BASE_CONFIG, tmp_path / "bad.parquet")
