"""Public datasets -> the gnnjet schema (Parquet or ROOT), converted once: one module per dataset.

Each dataset module has ``SUFFIXES`` (accepted input files), ``count_jets(path)`` and
``read_chunks(path, chunk_size)`` yielding chunks of branches in the form of
`gnnjet.data.writer.write_jets`; `convert` streams them into one output file per input file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import ModuleType

from gnnjet.convert import energyflow_qg, jetclass, top_landscape
from gnnjet.data.writer import write_jet_chunks
from gnnjet.errors import DataError, GnnjetError
from gnnjet.fileio import make_directory, refuse_to_clobber
from gnnjet.progress import progress_bar

log = logging.getLogger(__name__)

DATASETS: dict[str, ModuleType] = {"energyflow-qg": energyflow_qg, "top-landscape": top_landscape,
                                   "jetclass": jetclass}
FORMATS = {"parquet": ".parquet", "root": ".root"}


def output_paths(inputs: list[str], out_dir: Path, suffix: str) -> list[Path]:
    """One output per input, named by its path relative to the inputs' common directory with the last suffix
    replaced (``a/train.h5``, ``b/train.h5`` -> ``OUT/a/train.parquet``, ``OUT/b/train.parquet``; ``x.v1.h5`` ->
    ``OUT/x.v1.parquet``), so that no two inputs share an output."""
    resolved = [Path(path).resolve() for path in inputs]
    if len(set(resolved)) < len(resolved):
        raise GnnjetError(f"an input file is given twice: {', '.join(inputs)}")
    common = Path(os.path.commonpath([path.parent for path in resolved]))
    return [out_dir / path.relative_to(common).with_suffix(suffix) for path in resolved]


def _check_output_directory(out_dir: Path) -> None:
    make_directory(out_dir)
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise GnnjetError(f"output directory {out_dir} is not writable")


def convert(dataset: str, inputs: list[str], out_dir: str | Path, fmt: str = "parquet", chunk_size: int = 50_000,
            progress: bool = True, overwrite: bool = False) -> list[Path]:
    """Convert each input file of `dataset` to its own output in OUT_DIR (`output_paths`); returns the written
    files.

    Before anything is written: an output that is an input is refused, and an existing one unless
    `overwrite`. Memory stays bounded by `chunk_size` jets; each output is written atomically.
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
    targets = output_paths(inputs, out_dir, FORMATS[fmt])
    for target in targets:
        refuse_to_clobber(target, inputs, overwrite=overwrite, what="converted file")
    _check_output_directory(out_dir)
    written = []
    total = sum(module.count_jets(path) for path in inputs)
    with progress_bar(None, progress, total=total, desc=f"converting {dataset}", unit=" jets") as bar:
        for path, target in zip(inputs, targets):
            make_directory(target.parent)

            def chunks(source: str = path):
                for chunk in module.read_chunks(source, chunk_size):
                    yield chunk
                    bar.update(len(next(iter(chunk.values()))))

            jets = write_jet_chunks(target, chunks())
            log.info("%s: %d jets -> %s", path, jets, target)
            written.append(target)
    return written
