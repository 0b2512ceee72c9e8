"""The on-disk cache of columnar jets: npy files written once per config and input files, memory-mapped on load.

Modules, one job each: `key` (which entry a config and files map to), `files` (writing an entry's npy files),
`build` (filling an entry once, under a lock, and swapping it in atomically), `store` (opening and checking an
entry), `admin` (listing and cleaning a cache directory, for bin/cache.py).
"""
