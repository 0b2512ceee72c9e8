"""Listing and cleaning a cache directory through bin/cache.py."""


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
    assert [p.name for p in cache_root.iterdir()] == [ok.path.name]


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
