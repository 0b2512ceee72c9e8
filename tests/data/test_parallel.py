"""Parallel cache fill: the same store bit for bit whatever the number of processes; one build per entry."""

import threading
import time

import pytest

import gnnjet.data.cache.build as build_module
import gnnjet.data.parallel as parallel
from gnnjet.config import validate_config
from gnnjet.data.arrays import ARRAYS
from gnnjet.data.cache.build import build_store
from gnnjet.data.reader import plan_chunks
from gnnjet.data.spec import DataSpec
from gnnjet.data.writer import write_jet_chunks
from gnnjet.errors import ConfigError
from tests.conftest import BASE_CONFIG, fake_jets, write_fake


@pytest.fixture
def spec():
    return DataSpec.from_config(validate_config(BASE_CONFIG))


@pytest.fixture
def inputs(tmp_path):
    """Two ROOT files and a Parquet file of three row groups: 900 jets."""
    files = [write_fake(tmp_path / "a.root", 300, seed=1), write_fake(tmp_path / "b.root", 250, seed=2)]
    write_jet_chunks(tmp_path / "c.parquet", [fake_jets(n, seed=3 + n) for n in (120, 130, 100)])
    return [str(f) for f in files] + [str(tmp_path / "c.parquet")]


def test_plan_covers_every_jet_once_in_order(spec, inputs):
    chunks = plan_chunks(spec, inputs, 64)
    assert [c.path for c in chunks] == sorted([c.path for c in chunks], key=inputs.index)
    for path, total in zip(inputs, (300, 250, 350)):
        mine = [c for c in chunks if c.path == path]
        assert mine[0].start == 0 and mine[-1].stop == total
        assert all(a.stop == b.start for a, b in zip(mine, mine[1:]))
    assert [c.parts for c in chunks if c.parts] == [(0,), (1,), (2,)]  # whole row groups


def test_store_is_identical_for_any_number_of_workers(spec, inputs, tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_JETS_PER_WORKER", 1)
    monkeypatch.setattr(parallel, "MIN_CHUNK_JETS", 70)  # many chunks, finishing out of order
    monkeypatch.setattr(parallel, "CHUNKS_PER_WORKER", 5)
    one = build_store(spec, inputs, tmp_path / "one", progress=False, workers=1)
    two = build_store(spec, inputs, tmp_path / "two", progress=False, workers=3)
    assert one.num_jets == 900
    for name in ARRAYS:
        assert (one.path / f"{name}.npy").read_bytes() == (two.path / f"{name}.npy").read_bytes(), name
    assert one.meta["stats"] == two.meta["stats"]


def test_an_error_in_a_worker_reaches_the_caller_and_leaves_no_entry(inputs, tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_JETS_PER_WORKER", 1)
    config = validate_config({**BASE_CONFIG, "data": {**BASE_CONFIG["data"], "selection": "ch_pt > 1"}})
    with pytest.raises(ConfigError, match=r"data\.selection: 'ch_pt > 1' is not a per-jet quantity"):
        build_store(DataSpec.from_config(config), inputs, tmp_path / "cache", progress=False, workers=2)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["CACHEDIR.TAG"]  # no entry


def test_worker_count_and_chunk_size():
    assert parallel.workers_for(8, 5_000) == 1  # small samples are read in this process
    assert parallel.workers_for(8, 3 * parallel.MIN_JETS_PER_WORKER) == 3
    assert parallel.workers_for(2, 10**8) == 2
    assert parallel.parallel_chunk_jets(100_000, 200_000, 2) == 25_000  # 4 chunks per worker
    assert parallel.parallel_chunk_jets(100_000, 10**8, 32) == 100_000  # never above data.step_size
    assert parallel.parallel_chunk_jets(100_000, 30_000, 2) == parallel.MIN_CHUNK_JETS


def test_concurrent_builders_of_one_entry_build_it_once(spec, inputs, tmp_path, monkeypatch):
    builds = []
    real_build = build_module._build

    def slow_build(*args, **kwargs):
        builds.append(1)
        time.sleep(0.3)  # the second builder arrives while the first holds the lock
        real_build(*args, **kwargs)

    monkeypatch.setattr(build_module, "_build", slow_build)
    stores = []
    threads = [threading.Thread(target=lambda: stores.append(build_store(spec, inputs, tmp_path / "c", progress=False)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1 and len(stores) == 2 and stores[0].path == stores[1].path
    assert {p.name for p in (tmp_path / "c").iterdir()} == {stores[0].path.name, "CACHEDIR.TAG"}  # lock gone
