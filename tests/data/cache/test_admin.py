"""Listing and cleaning a cache directory through bin/cache.py."""


import pytest

from gnnjet.config import validate_config
from gnnjet.data.cache.build import build_store
from gnnjet.data.spec import DataSpec
from tests.cli import run_bin
from tests.conftest import write_fake


def spec_of(config):
    return DataSpec.from_config(validate_config(config))


def test_cache_cli_lists_and_cleans(base_config, tmp_path, cache_root):
    spec = spec_of(base_config)
    ok = build_store(spec, [str(write_fake(tmp_path / "ok.root", 30))], cache_root, progress=False)
    changed = tmp_path / "changed.root"
    stale = build_store(spec, [str(write_fake(changed, 30))], cache_root, progress=False)
    write_fake(changed, 31, seed=5)  # the input changed: that entry will never be used again
    damaged = build_store(spec, [str(write_fake(tmp_path / "d.root", 30, seed=3))], cache_root, progress=False)
    (damaged.path / "y.npy").unlink()
    listing = run_bin("cache.py", "--list", "--root", cache_root)
    assert listing.returncode == 0, listing.stderr
    status = {line.split()[5]: line.split()[0] for line in listing.stdout.splitlines()[1:]}
    assert status == {ok.path.name: "ok", stale.path.name: "stale", damaged.path.name: "damaged"}
    cleaned = run_bin("cache.py", "--clean", "--root", cache_root)
    assert cleaned.returncode == 0 and "removed 2 entries" in cleaned.stdout
    assert [p.name for p in cache_root.iterdir() if p.is_dir()] == [ok.path.name]


def test_a_damaged_header_is_listed_and_killed_builds_are_cleaned_at_once(base_config, tmp_path, cache_root):
    from gnnjet.fileio import exclusive_lock

    spec = spec_of(base_config)
    entry = build_store(spec, [str(write_fake(tmp_path / "a.root", 30))], cache_root, progress=False).path
    with open(entry / "u.npy", "r+b") as file:  # the header overwritten in place: same size, garbage
        file.seek(8)
        file.write(b"\xff" * 40)
    killed = cache_root / ".0123456789abcdef0123.k1ll3d"  # a build whose process is gone: nobody holds its lock
    killed.mkdir()
    (killed / "x.npy").write_bytes(b"\0" * 1000)
    running = cache_root / ".fedcba9876543210fedc.b4s1ly"
    running.mkdir()
    with exclusive_lock(cache_root / ".fedcba9876543210fedc.lock"):  # this process is building that one
        listing = run_bin("cache.py", "--root", cache_root, "--list")
        status = {line.split()[5]: line.split()[0] for line in listing.stdout.splitlines()[1:]}
        assert status == {entry.name: "damaged", killed.name: "unfinished", running.name: "building"}
        cleaned = run_bin("cache.py", "--root", cache_root, "--clean")
        assert cleaned.returncode == 0 and "removed 2 entries" in cleaned.stdout
        assert sorted(p.name for p in cache_root.iterdir() if p.is_dir()) == [running.name]


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_clean_refuses_a_directory_that_is_not_a_cache(tmp_path):
    run = tmp_path / "runs"  # a run directory and a folder of unrelated files: every subdirectory was "damaged"
    (run / "qg_pn").mkdir(parents=True)
    (run / "qg_pn" / "best.pt").write_bytes(b"weights")
    (run / "papers").mkdir()
    (run / "papers" / "thesis.tex").write_text("chapter 1")
    before = _tree(run)
    for flags in (("--clean",), ("--clean", "--all"), ("--list",)):
        result = run_bin("cache.py", *flags, "--root", run)
        assert result.returncode == 1, result.stdout
        assert "is not a gnnjet cache" in result.stderr and "nothing was touched" in result.stderr
        assert _tree(run) == before
    as_file = tmp_path / "cache_file"
    as_file.write_text("not a directory")
    result = run_bin("cache.py", "--clean", "--root", as_file)
    assert result.returncode == 1 and "is not a directory" in result.stderr
    assert as_file.read_text() == "not a directory"


def test_clean_touches_only_gnnjet_entries_beside_foreign_files(base_config, tmp_path, cache_root):
    """A cache root that also holds a home directory's things: dot directories (which looked like killed
    builds), a lock file of another program, a directory with a key-like name but a run inside, and an entry-like
    directory that also holds a foreign file. Only the gnnjet entries go."""
    spec = spec_of(base_config)
    ok = build_store(spec, [str(write_fake(tmp_path / "ok.root", 30))], cache_root, progress=False)
    damaged = build_store(spec, [str(write_fake(tmp_path / "d.root", 30, seed=3))], cache_root, progress=False)
    (damaged.path / "y.npy").unlink()
    (cache_root / ".config" / "app").mkdir(parents=True)
    (cache_root / ".config" / "app" / "settings.ini").write_text("x=1")
    (cache_root / ".mozilla.lock").write_text("firefox")
    keylike = cache_root / "0123456789abcdef0123"
    keylike.mkdir()
    (keylike / "best.pt").write_bytes(b"weights")
    mixed = cache_root / "fedcba9876543210fedc"
    mixed.mkdir()
    (mixed / "x.npy").write_bytes(b"\0" * 100)
    (mixed / "notes.txt").write_text("mine")
    cleaned = run_bin("cache.py", "--clean", "--all", "--root", cache_root)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "removed 2 entries" in cleaned.stdout and "left alone 4 item(s)" in cleaned.stdout
    assert not ok.path.exists() and not damaged.path.exists()
    assert (cache_root / ".config" / "app" / "settings.ini").read_text() == "x=1"
    assert (cache_root / ".mozilla.lock").read_text() == "firefox"
    assert (keylike / "best.pt").read_bytes() == b"weights"
    assert (mixed / "notes.txt").exists() and (mixed / "x.npy").exists()
    assert (cache_root / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_an_empty_or_missing_root_is_cleaned_as_nothing(tmp_path):
    for root in (tmp_path / "missing", tmp_path):
        result = run_bin("cache.py", "--clean", "--root", root)
        assert result.returncode == 0 and "removed 0 entries" in result.stdout


def test_a_cache_root_that_is_a_file_is_one_line(base_config, tmp_path, monkeypatch):
    from gnnjet.errors import GnnjetError

    spec = spec_of(base_config)
    root = tmp_path / "cache"
    root.write_text("oops")
    with pytest.raises(GnnjetError, match="is not a directory"):
        build_store(spec, [str(write_fake(tmp_path / "a.root", 10))], root, progress=False)


def test_an_empty_gnnjet_cache_is_the_default_root_not_the_current_directory(monkeypatch, tmp_path):
    from pathlib import Path

    from gnnjet.data.cache.key import default_cache_root

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GNNJET_CACHE", "")
    assert default_cache_root() == Path.home() / ".cache" / "gnnjet"
    monkeypatch.setenv("GNNJET_CACHE", str(tmp_path / "c"))
    assert default_cache_root() == tmp_path / "c"
