#!/usr/bin/env python
"""List or clean gnnjet's jet cache (the columnar copies of input files that training and prediction reuse).

Status: ok; stale (an input file changed or is gone: the entry will never be used again); damaged (files
missing or truncated: rebuilt automatically when needed); unfinished (left by a killed build).

Examples:
  bin/cache.py --list                       # $GNNJET_CACHE or ~/.cache/gnnjet
  bin/cache.py --clean                      # remove stale, damaged and unfinished entries
  bin/cache.py --clean --all --root /scratch/cache
"""

import argparse
import sys
import time
from pathlib import Path

from gnnjet.cli import run
from gnnjet.data.store import default_cache_root, entries, remove_entry

UNFINISHED_AGE_S = 3600  # a build in progress writes continuously: older leftovers are from killed builds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="cache directory (default: $GNNJET_CACHE or ~/.cache/gnnjet)")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--list", action="store_true", help="list entries with status, jets and size")
    action.add_argument("--clean", action="store_true", help="remove stale, damaged and unfinished entries")
    parser.add_argument("--all", action="store_true", help="with --clean: remove every entry")
    args = parser.parse_args()
    root = Path(args.root) if args.root else default_cache_root()
    found = entries(root)
    if args.list:
        print(f"{root}: {len(found)} entries, {sum(e.megabytes for e in found):.1f} MB")
        for e in found:
            source = f"{e.files[0]}{f' (+{len(e.files) - 1} more)' if len(e.files) > 1 else ''}" if e.files else ""
            print(f"{e.status:10s} {e.megabytes:9.1f} MB {e.num_jets:10d} jets  {e.path.name}  {source}")
        return
    now, removed = time.time(), []
    for e in found:
        recent = e.status == "unfinished" and now - e.path.stat().st_mtime < UNFINISHED_AGE_S
        if args.all or (e.status != "ok" and not recent):
            remove_entry(e)
            removed.append(e)
    print(f"removed {len(removed)} entries ({sum(e.megabytes for e in removed):.1f} MB) from {root}")


if __name__ == "__main__":
    sys.exit(run(main))
