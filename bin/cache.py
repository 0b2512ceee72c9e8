#!/usr/bin/env python
"""Build, list or clean gnnjet's jet cache (the columnar copies of input files that training and prediction reuse).

Status: ok; stale (an input file changed or is gone: the entry will never be used again); damaged (files
missing, truncated or with a damaged header: rebuilt automatically when needed); building (a process is filling
it: never removed); unfinished (left by a killed build).

Examples:
  bin/cache.py --build -c configs/jec_particlenet.yaml --workers 32   # fill it before training (data.train, data.val)
  bin/cache.py --build -c configs/jec_particlenet.yaml -i "/data/jec/*.root"
  bin/cache.py --list                       # $GNNJET_CACHE or ~/.cache/gnnjet
  bin/cache.py --clean                      # remove stale, damaged and unfinished entries (not those building)

Only directories that are recognisably gnnjet cache entries (named by a cache key, holding only a cache entry's
files) are ever removed; anything else under the root is reported and left alone, and a root holding nothing of
gnnjet's is refused.
  bin/cache.py --clean --all --root /scratch/cache
"""

import argparse
import sys
import time
from pathlib import Path

from gnnjet.cli import positive_int, run
from gnnjet.data.cache.admin import clean, scan
from gnnjet.data.cache.build import build_store
from gnnjet.data.cache.key import default_cache_root
from gnnjet.data.inputs import expand_files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="cache directory (default: data.cache_dir, else $GNNJET_CACHE or "
                        "~/.cache/gnnjet)")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--build", action="store_true", help="fill the cache for a config's files (-c, -i)")
    action.add_argument("--list", action="store_true", help="list entries with status, jets and size")
    action.add_argument("--clean", action="store_true", help="remove stale, damaged and unfinished entries")
    parser.add_argument("--all", action="store_true", help="with --clean: remove every entry")
    parser.add_argument("-c", "--config", help="with --build: the training config")
    parser.add_argument("-i", "--input", nargs="+", help="with --build: training files or globs, as "
                        "bin/train.py -i (replace data.train; data.val is built too)")
    parser.add_argument("--workers", type=positive_int, help="with --build: reading processes (default: data.workers, "
                        "else every available core)")
    args = parser.parse_args()
    if args.build:
        return build(parser, args)
    root = Path(args.root) if args.root else default_cache_root()
    listing = scan(root)
    if args.list:
        found = listing.entries
        print(f"{root}: {len(found)} entries, {sum(e.megabytes for e in found):.1f} MB")
        for e in found:
            source = f"{e.files[0]}{f' (+{len(e.files) - 1} more)' if len(e.files) > 1 else ''}" if e.files else ""
            print(f"{e.status:10s} {e.megabytes:9.1f} MB {e.num_jets:10d} jets  {e.path.name}  {source}")
    else:
        removed = clean(listing, everything=args.all)
        print(f"removed {len(removed)} entries ({sum(e.megabytes for e in removed):.1f} MB) from {root}")
    if listing.foreign:
        names = ", ".join(p.name for p in listing.foreign[:5]) + (" ..." if len(listing.foreign) > 5 else "")
        print(f"left alone {len(listing.foreign)} item(s) that are not gnnjet cache entries: {names}")


def build(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fill the cache entries a training with this config (and -i files) will read."""
    from gnnjet.config import load_config
    from gnnjet.data.spec import DataSpec

    if not args.config:
        parser.error("--build needs -c CONFIG")
    config = load_config(args.config)
    data = config["data"]
    root = Path(args.root or data["cache_dir"] or default_cache_root())
    workers = args.workers or data["workers"]
    spec = DataSpec.from_config(config)
    if args.input:
        data["train"] = args.input
    for files in (f for f in (data["train"], data["val"]) if f):
        start = time.perf_counter()
        store = build_store(spec, expand_files(files), root, workers=workers)
        print(f"{store.num_jets} jets in {store.path} ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    sys.exit(run(main))
