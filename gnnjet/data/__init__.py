"""ROOT ntuples -> columnar jets -> PyG Data / Batch (see DESIGN.md, "Data flow").

Modules: spec (config -> what to read), expressions, reader (ROOT -> chunks), store (npy cache),
preprocess, dataset (Data / Batch), loader (shuffling, sharding, prefetch), writer (ROOT output).
Nothing is imported here, so that light users (the generator, the writer) do not pay for torch.
"""
