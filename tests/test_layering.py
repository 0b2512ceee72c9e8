"""The package's layering (docs/architecture.md, "Layers"): no module imports from a higher layer."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gnnjet"
# lowest first; a module may import its own layer and those below it
LAYERS = [
    ("gnnjet._optional", "gnnjet.errors", "gnnjet.fileio", "gnnjet.progress", "gnnjet.schema", "gnnjet.cli",
     "gnnjet.columns", "gnnjet.runs.layout", "gnnjet.references"),  # names of prediction columns, run files and
    # users' code: anything may use them
    ("gnnjet.config", "gnnjet.weaver_config"),
    ("gnnjet.data", "gnnjet.convert", "gnnjet.generate"),
    ("gnnjet.evaluate",),  # statistics on arrays and predictions files (numpy, the data layer's readers)
    ("gnnjet.nn",),
    ("gnnjet.tasks",),
    ("gnnjet.runs",),
    ("gnnjet.training",),
    ("gnnjet.predict", "gnnjet.export", "gnnjet.test_set", "gnnjet.api", "gnnjet.calibrate"),
    ("gnnjet.plots",),
]
# deliberate, lazy (inside a function): the config's model section is validated by the model registry, and the
# package's public functions (gnnjet.load_run, gnnjet.train, ...) import the API module on first use, so that
# importing any gnnjet module does not import torch
ALLOWED = {("gnnjet.config", "gnnjet.nn.registry"), ("gnnjet", "gnnjet.api")}


def layer(module: str) -> int:
    matches = [(len(prefix), rank) for rank, prefixes in enumerate(LAYERS) for prefix in prefixes
               if module == prefix or module.startswith(prefix + ".")]
    assert matches or module == "gnnjet", f"{module} is in no layer: add it to LAYERS"
    return max(matches)[1] if matches else 0  # the longest prefix decides


def imports() -> list[tuple[str, str]]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gnnjet"):
                found.append((module, node.module))
            elif isinstance(node, ast.Import):
                found += [(module, alias.name) for alias in node.names if alias.name.startswith("gnnjet")]
    return found


def test_no_import_runs_up_the_layers():
    upward = [(module, target) for module, target in imports()
              if layer(target) > layer(module) and (module, target) not in ALLOWED]
    assert not upward, upward


def test_the_check_sees_an_upward_import():
    assert layer("gnnjet.data.reader") < layer("gnnjet.training.trainer")
    assert ("gnnjet.config", "gnnjet.nn.registry") in imports()  # the one allowed exception is really found


def test_reading_a_run_never_imports_training():
    """Prediction, export, the test set, the statistics, the figures and the run layer read runs through
    gnnjet.runs only (what `grep "from gnnjet.train" gnnjet/predict.py gnnjet/export.py gnnjet/evaluate/*.py` checked
    by hand)."""
    readers = ("gnnjet.predict", "gnnjet.export", "gnnjet.test_set", "gnnjet.evaluate", "gnnjet.plots", "gnnjet.runs")
    found = [(module, target) for module, target in imports()
             if module.startswith(readers) and target.startswith("gnnjet.training")]
    assert not found, found
