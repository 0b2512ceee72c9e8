"""Public datasets -> the gnnjet schema (Parquet or ROOT), converted once: one module per dataset.

Each dataset module has ``SUFFIXES`` (accepted input files), ``count_jets(path)`` and
``read_chunks(path, chunk_size)`` yielding chunks of branches in the form of
`gnnjet.data.writer.write_jets`; `convert` streams them into one output file per input file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType

from gnnjet.convert import energyflow_qg, jetclass, top_landscape
from gnnjet.data.writer import write_jet_chunks
from gnnjet.errors import DataError, GnnjetError
from gnnjet.progress import progress_bar

log = logging.getLogger(__name__)

DATASETS: dict[str, ModuleType] = {"energyflow-qg": energyflow_qg, "top-landscape": top_landscape,
                                   "jetclass": jetclass}
FORMATS = {"parquet": ".parquet", "root": ".root"}


def convert(dataset: str, inputs: list[str], out_dir: str | Path, fmt: str = "parquet", chunk_size: int = 50_000,
            progress: bool = True) -> list[Path]:
    """Convert each input file of `dataset` to OUT_DIR/<stem>.<fmt>; returns the written files.

    Memory stays bounded by `chunk_size` jets; each output is written atomically.
    """
    if dataset not in DATASETS:
        raise GnnjetError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if fmt not in FORMATS:
        raise GnnjetError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    module = DATASETS[dataset]
    for path in inputs:
        if not Path(path).is_file():
            raise DataError(f"input file {path} does not exist")
        if not str(path).lower().endswith(module.SUFFIXES):
            raise DataError(f"{path}: a {dataset} input must be a {' or '.join(module.SUFFIXES)} file")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    total = sum(module.count_jets(path) for path in inputs)
    with progress_bar(None, progress, total=total, desc=f"converting {dataset}", unit=" jets") as bar:
        for path in inputs:
            target = out_dir / (Path(path).name.split(".")[0] + FORMATS[fmt])

            def chunks(source: str = path):
                for chunk in module.read_chunks(source, chunk_size):
                    yield chunk
                    bar.update(len(next(iter(chunk.values()))))

            jets = write_jet_chunks(target, chunks())
            log.info("%s: %d jets -> %s", path, jets, target)
            written.append(target)
    return written
