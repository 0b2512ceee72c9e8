"""The public Python API (re-exported by `gnnjet`): validate a config, train a run, load a run and predict with it.
bin/train.py and bin/predict.py call the same functions; notebooks and coffea processors call them directly:

    import gnnjet
    run = gnnjet.train("configs/qg_particlenet.yaml", inputs=["data/qg/*.root"], output="runs/qg_pn")
    scores = gnnjet.load_run("runs/qg_pn").predict(jets)   # jets: an awkward Array, as uproot gives it
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from gnnjet import config as configs
from gnnjet.data.inputs import override_inputs
from gnnjet.errors import GnnjetError
from gnnjet.runs.layout import CONFIG
from gnnjet.runs.run import Ensemble, Run, load_ensemble, load_run
from gnnjet.schema import read_yaml_file
from gnnjet.weaver_config import weaver_run_config

__all__ = ["Ensemble", "Run", "load_ensemble", "load_run", "train", "validate_config"]


def validate_config(config: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """The validated config (every default filled in) of a YAML file or of a mapping as the YAML would give it; a
    mistake is a ConfigError naming the key path."""
    if isinstance(config, Mapping):
        return configs.validate_config(dict(config))
    return configs.load_config(config)


def train(config: str | Path | Mapping[str, Any] | None = None, *, output: str | Path | None = None,
          inputs: Sequence[str] | None = None, val: Sequence[str] | None = None, test: Sequence[str] | None = None,
          overrides: Sequence[str] = (), epochs: int | None = None, gpus: Sequence[int] | None = None,
          resume: bool = False, overwrite: bool = False, kfold: int | None = None, fold_expr: str | None = None,
          pretrained: str | Path | None = None, run_test: bool = True, progress: bool = True,
          trust_code: bool = False, data_config: str | Path | None = None, network_config: str | Path | None = None,
          network_options: Mapping[str, Any] | None = None, regression_mode: bool = False) -> Run:
    """Train the model of `config` (a YAML path or a mapping; None with `resume`: the run's own) into `output`
    (else training.output_dir) and return the run. `inputs`, `val` and `test` replace data.train, data.val and
    data.test (files or globs); `overrides` are KEY=VALUE assignments (VALUE as YAML); `epochs` replaces
    training.epochs. `gpus`: one process per GPU (DDP); `resume` continues the run from its last.pt, `overwrite`
    replaces a run already there (once the new one has a checkpoint); `kfold` K with `fold_expr` trains K runs on
    the jets whose fold is not each one's; `pretrained` fine-tunes from a weaver-core checkpoint or a run. With
    data.test (and `run_test`) the run's best model is evaluated on it at the end (RUN/test_metrics.json).
    `trust_code`: resuming a run whose model is users' code runs the run's copy of it (refused without).
    weaver-core's files: `data_config` (its YAML) with `network_config` (a file with get_model, and get_loss if it
    has one), `network_options` their keyword arguments, `regression_mode` custom labels as regression targets;
    `config` then holds the rest (training, data.train, ...; `weaver_config.weaver_run_config`)."""
    if resume and output is None:
        raise GnnjetError("--resume needs -o RUN_DIR")
    if resume and overwrite:
        raise GnnjetError("--resume continues the run in OUTPUT, --overwrite replaces it: give one of them")
    if resume and pretrained:
        raise GnnjetError("--pretrained starts a new run from other weights; --resume continues this run from its "
                          "own last.pt: give one of them")
    if epochs is not None and epochs < 1:
        raise GnnjetError(f"--epochs {epochs}: give a positive number of epochs")
    if (data_config is None) != (network_config is None):
        raise GnnjetError("--data-config and --network-config go together (weaver-core's data config and network "
                          "file)")
    if data_config is not None:
        if resume:
            raise GnnjetError("--resume continues with the run's own config: leave out --data-config and "
                              "--network-config")
        base = (read_yaml_file(config, "config file") if isinstance(config, (str, Path)) else dict(config or {}))
        config = weaver_run_config(base, data_config, network_config, network_options,  # type: ignore[arg-type]
                                   regression_mode)
    elif network_options or regression_mode:
        raise GnnjetError("--network-option and --regression-mode go with --data-config and --network-config")
    if config is None and not resume:
        raise GnnjetError("give a config with -c (or --resume -o RUN_DIR)")
    if bool(kfold) != bool(fold_expr):
        raise GnnjetError("--kfold K and --fold-expr EXPR go together")
    resolved = validate_config(config if config is not None else Path(output) / CONFIG)
    resolved = configs.apply_overrides(resolved, list(overrides))
    if kfold:
        resolved = configs.with_kfold(resolved, kfold, fold_expr)
    resolved = override_inputs(resolved, list(inputs or []), list(val or []), list(test or []))
    if pretrained:
        resolved["training"]["pretrained"] = str(pretrained)
    output = output or resolved["training"]["output_dir"]
    if not output:
        raise GnnjetError("no run directory: pass -o DIR or set training.output_dir")
    from gnnjet.training.launch import launch  # torch is imported only once the arguments are fine

    launch(resolved, output, gpus=list(gpus) if gpus else None, resume=resume, epochs=epochs, progress=progress,
           overwrite=overwrite, trust_code=trust_code)
    if resolved["data"]["test"] and run_test and os.environ.get("RANK", "0") == "0":  # torchrun: rank 0 only
        from gnnjet.test_set import evaluate_test_set

        evaluate_test_set(output, resolved["data"]["test"], device=f"cuda:{gpus[0]}" if gpus else "cpu",
                          progress=progress, trust_code=True)  # the model this call trained (or resumed, trusted)
    return Run(Path(output), trust_code)
