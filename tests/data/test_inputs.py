"""Input file lists: globs and directories."""

import pytest

from gnnjet.data.inputs import expand_files
from gnnjet.data.writer import write_jets
from gnnjet.errors import DataError
from tests.conftest import fake_jets, write_fake


def test_expand_files(tmp_path):
    for i in range(3):
        write_fake(tmp_path / f"s{i}.root", 5)
    assert expand_files([str(tmp_path / "s*.root")]) == [str(tmp_path / f"s{i}.root") for i in range(3)]
    assert expand_files([str(tmp_path)]) == [str(tmp_path / f"s{i}.root") for i in range(3)]
    with pytest.raises(DataError, match="no input file matches"):
        expand_files([str(tmp_path / "x*.root")])


def test_a_directory_gives_its_files_of_every_native_format(tmp_path):
    write_fake(tmp_path / "b.root", 5)
    write_jets(tmp_path / "a.parquet", fake_jets(5))
    (tmp_path / "notes.txt").write_text("not an input")
    assert expand_files([str(tmp_path)]) == [str(tmp_path / "a.parquet"), str(tmp_path / "b.root")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty contains no \.parquet, \.pq, \.root files"):
        expand_files([str(tmp_path / "empty")])
