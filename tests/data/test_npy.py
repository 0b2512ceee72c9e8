"""The npy writer: rows written at their offsets in any order load as the array numpy would have saved."""

import numpy as np

from gnnjet.data.npy import HEADER_BYTES, NpyFile


def test_rows_written_out_of_order_load_as_the_whole_array(tmp_path):
    expected = np.random.default_rng(0).normal(size=(10, 3, 2)).astype(np.float32)
    file = NpyFile(tmp_path / "a.npy", "<f4", (3, 2))
    file.create()
    file.write_rows(6, expected[6:])
    file.write_rows(0, expected[:2].astype(np.float64))  # converted to the file's dtype
    file.write_rows(2, expected[2:6])
    file.write_rows(12, np.ones((5, 3, 2)))  # beyond the final row count: cut by finish
    file.finish(10)
    loaded = np.load(tmp_path / "a.npy", mmap_mode="r")
    assert loaded.dtype == np.float32 and loaded.shape == (10, 3, 2)
    np.testing.assert_array_equal(loaded, expected)
    assert (tmp_path / "a.npy").stat().st_size == HEADER_BYTES + expected.nbytes


def test_empty_and_one_dimensional_files(tmp_path):
    empty = NpyFile(tmp_path / "e.npy", "<i8", ())
    empty.create()
    empty.finish(0)
    assert np.load(tmp_path / "e.npy").shape == (0,)
    counts = NpyFile(tmp_path / "c.npy", "|i1", ())
    counts.create()
    counts.write_rows(0, np.array([1, -2, 3]))
    counts.finish(3)
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), np.array([1, -2, 3], np.int8))
