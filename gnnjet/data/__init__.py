"""ROOT or Parquet ntuples -> columnar jets -> PyG Data / Batch (see docs/architecture.md, "Data flow").

Modules: spec (config -> what to read), expressions, inputs (file lists), formats/ (one module per native
format), reader and columnar (chunks -> flat arrays), read_stats, arrays (the store's arrays, named once), npy
(the npy writer), cache/ (the on-disk cache), parallel (the parallel fill), preprocess, dataset (Data / Batch),
loader (shuffling, sharding, prefetch), writer (ROOT / Parquet output).
Nothing is imported here, so that light users (the generator, the writer) do not pay for torch.
"""
