"""Filling cache entries: reuse, invalidation, streaming across chunks, damaged entries rebuilt, bin/cache.py
--build."""

import os

import numpy as np
import pytest
import torch

import gnnjet.data.cache.build as build_module
from gnnjet.config import validate_config
from gnnjet.data.cache.build import build_store
from gnnjet.data.cache.key import cache_key
from gnnjet.data.spec import DataSpec
from gnnjet.errors import DataError
from tests.conftest import write_fake


def spec_of(config):
    return DataSpec.from_config(validate_config(config))


def test_second_build_skips_root(base_config, fake_file, cache_root, monkeypatch):
    spec = spec_of(base_config)
    first = build_store(spec, [str(fake_file)], cache_root, progress=False)

    def fail(*args, **kwargs):
        raise AssertionError("ROOT was read although a valid cache exists")

    monkeypatch.setattr(build_module, "fill", fail)
    second = build_store(spec, [str(fake_file)], cache_root, progress=False)
    assert second.path == first.path
    np.testing.assert_array_equal(second.arrays["x"], first.arrays["x"])
    assert isinstance(second.arrays["x"], np.memmap)


def test_changed_config_or_file_invalidates(base_config, fake_file):
    spec = spec_of(base_config)
    key = cache_key(spec, [str(fake_file)])
    base_config["data"]["node_types"]["charged"]["max_nodes"] = 10
    assert cache_key(spec_of(base_config), [str(fake_file)]) != key
    base_config["data"]["node_types"]["charged"]["max_nodes"] = 16
    assert cache_key(spec_of(base_config), [str(fake_file)]) == key
    stat = os.stat(fake_file)
    os.utime(fake_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert cache_key(spec, [str(fake_file)]) != key


def test_preprocessing_change_keeps_raw_cache(base_config, fake_file):
    key = cache_key(spec_of(base_config), [str(fake_file)])
    base_config["data"]["node_types"]["charged"]["features"][0]["clip"] = [-3, 3]
    base_config["data"]["node_types"]["neutral"]["features"][0]["clip"] = [-3, 3]
    base_config["data"]["node_types"]["sv"]["features"][0] = {"name": "log_pt", "expr": "log(sv_pt)", "clip": [-3, 3]}
    assert cache_key(spec_of(base_config), [str(fake_file)]) == key


def test_chunked_reading_equals_single_chunk(base_config, tmp_path):
    files = [str(write_fake(tmp_path / f"f{i}.root", 150, seed=i)) for i in range(2)]
    whole = build_store(spec_of(base_config), files, tmp_path / "a", progress=False)
    base_config["data"]["step_size"] = 37
    chunked = build_store(spec_of(base_config), files, tmp_path / "b", progress=False)
    for name, array in whole.arrays.items():
        np.testing.assert_array_equal(chunked.arrays[name], array, err_msg=name)
    assert whole.num_jets == len(whole.arrays["y"]) == len(whole.arrays["u"])
    assert whole.arrays["ptr"][-1] == len(whole.arrays["x"])


def test_failed_build_leaves_no_entry(base_config, tmp_path):
    good = write_fake(tmp_path / "good.root", 20)
    bad = tmp_path / "bad.root"
    bad.write_bytes(b"garbage")
    with pytest.raises(DataError):
        build_store(spec_of(base_config), [str(good), str(bad)], tmp_path / "cache", progress=False)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["CACHEDIR.TAG"]


@pytest.mark.parametrize("damage", ["delete_npy", "truncate_npy", "delete_meta", "garble_meta", "garble_header",
                                    "other_shape_header"])
def test_damaged_entry_is_rebuilt_in_place(base_config, fake_file, cache_root, caplog, damage):
    spec = spec_of(base_config)
    first = build_store(spec, [str(fake_file)], cache_root, progress=False)
    expected = {name: np.array(first.arrays[name]) for name in ("x", "ptr", "p4")}
    entry = first.path
    if damage == "delete_npy":
        (entry / "p4.npy").unlink()
    elif damage == "truncate_npy":
        os.truncate(entry / "x.npy", (entry / "x.npy").stat().st_size // 2)
    elif damage == "garble_header":  # same size, bytes of the header overwritten
        with open(entry / "x.npy", "r+b") as file:
            file.seek(10)
            file.write(b"\x00garbage\xff" * 8)
    elif damage == "other_shape_header":  # a valid header of the same size that describes other rows
        header = (entry / "ptr.npy").read_bytes()[:128]
        shape = f"({len(first.arrays['ptr'])},)".encode()
        with open(entry / "ptr.npy", "r+b") as file:
            file.write(header.replace(shape, f"({len(first.arrays['ptr']) - 1},)".encode().ljust(len(shape))))
    elif damage == "delete_meta":
        (entry / "meta.json").unlink()
    else:
        (entry / "meta.json").write_text("{not json")
    with caplog.at_level("WARNING"):
        again = build_store(spec, [str(fake_file)], cache_root, progress=False)
    assert again.path == entry and "rebuilding it" in caplog.text
    for name, values in expected.items():
        np.testing.assert_array_equal(again.arrays[name], values)
    assert [p.name for p in cache_root.iterdir() if p.name != "CACHEDIR.TAG"] == [entry.name]  # nothing left aside


def test_damaged_processed_array_is_written_again(base_config, fake_file, cache_root, caplog):
    from gnnjet.data.dataset import JetDataset

    spec = spec_of(base_config)
    first = JetDataset.from_files(spec, [str(fake_file)], cache_root=cache_root, progress=False)
    expected = first.x.clone()
    processed = next(first.store.path.glob("nodes.*.npy"))
    os.truncate(processed, processed.stat().st_size - 100)
    with caplog.at_level("WARNING"):
        again = JetDataset.from_files(spec, [str(fake_file)], cache_root=cache_root, progress=False)
    assert f"{processed} is damaged" in caplog.text
    assert torch.equal(again.x, expected)


def test_cache_cli_builds_the_entries_training_reads(base_config, tmp_path, cache_root, monkeypatch):
    import yaml

    from tests.cli import run_bin

    files = [str(write_fake(tmp_path / "a.root", 40)), str(write_fake(tmp_path / "b.root", 30, seed=2))]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({**base_config, "data": {**base_config["data"], "train": []}}))
    built = run_bin("cache.py", "--build", "-c", tmp_path / "c.yaml", "-i", *files, "--root", cache_root,
                    "--workers", "2")
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("70 jets in ")

    def fail(*args, **kwargs):
        raise AssertionError("the input files were read again")

    monkeypatch.setattr(build_module, "fill", fail)
    assert build_store(spec_of(base_config), files, cache_root, progress=False).num_jets == 70
