"""bin/convert.py never loses jets: existing outputs are refused unless --overwrite, an input is never an output,
and two inputs never share an output."""

import hashlib
import os

import awkward as ak
import pytest

from tests.cli import run_bin
from tests.conftest import write_jetclass
from tests.convert.test_converters import write_energyflow, write_top_landscape


def convert_cli(*args):
    return run_bin("convert.py", *args)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line_error(result, fragment):
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert fragment in result.stderr, result.stderr


def test_existing_outputs_are_refused_unless_overwrite(tmp_path):
    write_energyflow(tmp_path / "QG_jets.npz", 20, seed=1)
    first = convert_cli("--from", "energyflow-qg", "-i", tmp_path / "QG_jets.npz", "-o", tmp_path / "out")
    assert first.returncode == 0, first.stderr
    before = digest(tmp_path / "out" / "QG_jets.parquet")
    write_energyflow(tmp_path / "QG_jets.npz", 30, seed=2)  # other jets under the same name
    refused = convert_cli("--from", "energyflow-qg", "-i", tmp_path / "QG_jets.npz", "-o", tmp_path / "out")
    one_line_error(refused, "QG_jets.parquet already exists: pass --overwrite")
    assert digest(tmp_path / "out" / "QG_jets.parquet") == before
    replaced = convert_cli("--from", "energyflow-qg", "-i", tmp_path / "QG_jets.npz", "-o", tmp_path / "out",
                           "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert len(ak.from_parquet(tmp_path / "out" / "QG_jets.parquet")) == 30


def test_inputs_with_the_same_stem_keep_their_own_outputs(tmp_path):
    for folder, jets in (("a", 11), ("b", 13)):
        (tmp_path / folder).mkdir()
        write_top_landscape(tmp_path / folder / "train.h5", jets)
    write_top_landscape(tmp_path / "a" / "x.v1.h5", 5)
    write_top_landscape(tmp_path / "a" / "x.v2.h5", 7)
    result = convert_cli("--from", "top-landscape", "-i", tmp_path / "a" / "train.h5", tmp_path / "b" / "train.h5",
                         tmp_path / "a" / "x.v1.h5", tmp_path / "a" / "x.v2.h5", "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    sizes = {str(p.relative_to(tmp_path / "out")): len(ak.from_parquet(p))
             for p in (tmp_path / "out").rglob("*.parquet")}
    assert sizes == {"a/train.parquet": 11, "b/train.parquet": 13, "a/x.v1.parquet": 5, "a/x.v2.parquet": 7}


def test_an_input_is_never_replaced_by_its_conversion(tmp_path):
    path = write_jetclass(tmp_path / "sample.root", 10)
    before = digest(path)
    for extra in ([], ["--overwrite"]):
        result = convert_cli("--from", "jetclass", "-i", path, "-o", tmp_path, "--format", "root", *extra)
        one_line_error(result, "sample.root is one of the input files")
        assert digest(path) == before


def test_an_output_that_is_not_a_writable_directory_is_one_line(tmp_path):
    write_energyflow(tmp_path / "QG_jets.npz", 5)
    (tmp_path / "file").write_text("not a directory")
    one_line_error(convert_cli("--from", "energyflow-qg", "-i", tmp_path / "QG_jets.npz", "-o", tmp_path / "file"),
                   "is not a directory")
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    (tmp_path / "ro").mkdir(mode=0o555)
    one_line_error(convert_cli("--from", "energyflow-qg", "-i", tmp_path / "QG_jets.npz", "-o", tmp_path / "ro"),
                   "is not writable")


def test_damaged_energyflow_inputs_are_one_line(tmp_path):
    import io
    import zipfile

    import numpy as np

    X, y = write_energyflow(tmp_path / "good.npz", 10, seed=3)
    np.savez(tmp_path / "objects.npz", X=X.astype(object), y=y)
    np.savez(tmp_path / "strings.npz", X=X, y=np.where(y == 1, "q", "g"))
    np.savez(tmp_path / "three.npz", X=X, y=np.where(y == 1, 1, 3))
    unknown = X.copy()
    unknown[4, 0, 3] = 9_999_999
    np.savez(tmp_path / "unknown.npz", X=unknown, y=y)
    buffer = io.BytesIO()
    np.save(buffer, X)
    with zipfile.ZipFile(tmp_path / "truncated.npz", "w") as archive:  # a valid archive whose X lacks its end
        archive.writestr("X.npy", buffer.getvalue()[: len(buffer.getvalue()) // 2])
        labels = io.BytesIO()
        np.save(labels, y)
        archive.writestr("y.npy", labels.getvalue())
    expected = {"objects": "X holds object values", "strings": "y holds <U1 values; it must be 1 (quark) or 0",
                "three": "y holds [3]; it must be 1 (quark) or 0 (gluon)",
                "unknown": "jet 4 has a particle with PDG id 9999999, unknown",
                "truncated": "X is truncated: jets 0 to 9 are incomplete"}
    for name, message in expected.items():
        result = convert_cli("--from", "energyflow-qg", "-i", tmp_path / f"{name}.npz", "-o", tmp_path / name)
        one_line_error(result, message)
        assert not list((tmp_path / name).glob("*.parquet"))
