"""`Run`: one run directory, its files (`layout`) and what can be done with it without training: read its config,
load its model, list the files no output may overwrite, and predict jets of files or of in-memory arrays."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import awkward as ak
import numpy as np

from gnnjet.config import load_config
from gnnjet.data.formats import memory
from gnnjet.data.inputs import expand_files
from gnnjet.errors import GnnjetError
from gnnjet.runs import layout
from gnnjet.runs.kfold import read_kfold

if TYPE_CHECKING:  # the model and the inference loop import torch: only when a run is loaded or predicts
    import torch

    from gnnjet.runs.model import TrainedModel

Source = str | Path | list[str | Path] | ak.Array | Mapping[str, Any]  # what `Run.predict` takes


@dataclass(frozen=True)
class Run:
    """The run directory at `path` (a k-fold run: the directory holding kfold.json and its folds). `trust_code`:
    a model that is users' code may be loaded, which runs that code (`runs.code`)."""

    path: Path
    trust_code: bool = False

    @classmethod
    def at(cls, path: str | Path, trust_code: bool = False) -> "Run":
        """The run at `path`; a path that is not a run directory is a GnnjetError saying what is missing."""
        run = cls(Path(path), trust_code)
        if not run.path.is_dir():
            raise GnnjetError(f"run directory {run.path} does not exist")
        if not (run.file(layout.CONFIG).exists() or run.kfold is not None):
            raise GnnjetError(f"{run.path} is not a run directory: it has no {layout.CONFIG}")
        return run

    def file(self, name: str) -> Path:
        """A file of the run by its `layout` name, e.g. run.file(layout.BEST)."""
        return self.path / name

    @property
    def kfold(self) -> dict[str, Any] | None:
        """{k, expr, folds} of a k-fold run, None for an ordinary run."""
        return read_kfold(self.path)

    @property
    def folds(self) -> list["Run"]:
        """The fold runs of a k-fold run; [self] for an ordinary run."""
        kfold = self.kfold
        return [Run(self.path / name, self.trust_code) for name in kfold["folds"]] if kfold else [self]

    @property
    def config(self) -> dict[str, Any]:
        """The run's resolved config (config.yaml, validated)."""
        return load_config(self.file(layout.CONFIG))

    def files(self) -> list[Path]:
        """Every file of the run that exists (config, preprocessing, checkpoints, metrics, logs, TensorBoard
        events, test-set files; those of every fold of a k-fold run, and its kfold.json): what no output may
        overwrite."""
        found = [self.file(name) for name in (layout.CONFIG, layout.KFOLD) if self.file(name).is_file()]
        for run in self.folds:
            found += [run.file(name) for name in layout.RUN_FILES if run.file(name).is_file()]
            found += [f for name in layout.RUN_DIRECTORIES if run.file(name).is_dir()
                      for f in run.file(name).rglob("*") if f.is_file()]
        return sorted(set(found))

    def load(self, checkpoint: str = layout.BEST, device: str | torch.device = "cpu") -> TrainedModel:
        """The trained model of an ordinary run (eval mode) with its preprocessing (`runs.model.load_trained`)."""
        from gnnjet.runs.model import load_trained

        if self.kfold is not None:
            raise GnnjetError(f"{self.path} is a k-fold run: load one of its folds ({', '.join(self.kfold['folds'])})")
        return load_trained(self.path, checkpoint, device, trust_code=self.trust_code)

    def predict(self, source: Source, *, selection: str | None = None, no_selection: bool = False,
                batch_size: int = 512, device: str = "cpu", fold_average: bool = False,
                overrides: list[str] | None = None, progress: bool = False) -> ak.Array | dict[str, np.ndarray]:
        """Predictions of the run on `source`: a file, glob or list of them (ROOT, Parquet), an awkward Array of
        jets in gnnjet's schema (fields ``pt``, ``ch_pt``, ...: what uproot's ``tree.arrays()`` or a coffea
        processor holds) or a dict of such arrays. Returns the columns bin/predict.py writes (``entry``,
        ``valid``, ``score_<label>`` or ``pred``/``pt_corr``..., the observers), one row per input jet passing
        the selection (the run's data.test_selection, else data.selection; `selection` replaces it,
        `no_selection` drops it), in input order: a dict of numpy arrays for a dict source, an awkward Array of
        records otherwise. A k-fold run gives each jet its out-of-fold model's outputs (`fold_average`: the mean
        of the folds')."""
        from gnnjet.runs.prediction import run_model

        options = dict(selection=selection, no_selection=no_selection, batch_size=batch_size, device=device,
                       fold_average=fold_average, overrides=overrides, progress=progress, trust_code=self.trust_code)
        return predicted_columns(source, lambda files, cache: run_model(self.path, files, cache_root=cache,
                                                                        **options))


@dataclass(frozen=True)
class Ensemble:
    """Several run directories predicting as one (`runs.ensemble`): the mean of their predictions and the spread
    of each point estimate. `trust_code` as for `Run`."""

    paths: tuple[Path, ...]
    trust_code: bool = False

    def predict(self, source: Source, *, selection: str | None = None, no_selection: bool = False,
                batch_size: int = 512, device: str = "cpu", overrides: list[str] | None = None,
                progress: bool = False) -> ak.Array | dict[str, np.ndarray]:
        """As `Run.predict`, every member on the same jets: averaged prediction columns, `<column>_spread` for
        each point estimate."""
        from gnnjet.runs.ensemble import run_ensemble

        options = dict(selection=selection, no_selection=no_selection, batch_size=batch_size, device=device,
                       overrides=overrides, progress=progress, trust_code=self.trust_code)
        return predicted_columns(source, lambda files, cache: run_ensemble(list(self.paths), files, cache_root=cache,
                                                                           **options))


def predicted_columns(source: Source, predict: Callable[[list[str], str | None], Any]
                      ) -> ak.Array | dict[str, np.ndarray]:
    """The columns of predict(files, cache_root) on `source`: files or globs as given, in-memory jets through the
    memory format (cached only for this call); a dict of numpy arrays for a dict source, else an awkward Array."""
    if isinstance(source, (ak.Array, Mapping)):
        with memory.hold(source) as path, tempfile.TemporaryDirectory(prefix="gnnjet-memory-") as cache:
            columns = predict([path], cache).columns()
    else:
        files = [str(source)] if isinstance(source, (str, Path)) else [str(s) for s in source]
        columns = predict(expand_files(files), None).columns()
    return columns if isinstance(source, Mapping) else ak.zip(columns, depth_limit=1)


def load_ensemble(paths: list[str | Path], *, trust_code: bool = False) -> Ensemble:
    """Two or more run directories predicting as one (`Ensemble`); each must be a run."""
    if len(paths) < 2:
        raise GnnjetError("an ensemble needs two runs or more")
    return Ensemble(tuple(Run.at(path, trust_code).path for path in paths), trust_code)


def load_run(path: str | Path, *, trust_code: bool = False) -> Run:
    """The run directory at `path` (bin/train.py -o PATH); see `Run`. A run whose model is users' code loads only
    with `trust_code` (loading it runs that code)."""
    return Run.at(path, trust_code)
