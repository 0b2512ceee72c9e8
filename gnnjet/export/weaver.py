"""Export of a trained run as the state dict weaver-core's own ParticleNet / ParticleTransformer loads."""

from __future__ import annotations

from pathlib import Path

from gnnjet.fileio import refuse_to_clobber
from gnnjet.nn.weaver import gnnjet_to_weaver
from gnnjet.runs.checkpoint import save_checkpoint
from gnnjet.runs.run import Run


def export_weaver(model_dir: str | Path, path: str | Path, *, overwrite: bool = False) -> None:
    """Write the best model of a run directory as a state dict that weaver-core's ParticleNet /
    ParticleTransformer loads with strict=True (a model of layout weaver)."""
    run = Run(Path(model_dir))
    refuse_to_clobber(path, protected=run.files(), overwrite=overwrite, what="weaver-core state dict")
    save_checkpoint(path, gnnjet_to_weaver(run.load().model))
