"""What to read and how to lay it out: the compiled form of a config's data and task sections.

`DataSpec` holds every config expression parsed once, the column layout of the node feature
matrix (each node type owns a block of columns; features with the same name share a column), the
branches to read with the config key that asked for each, and a fingerprint of everything that
changes the cached arrays.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gnnjet.config import KINEMATICS, NODE_TASKS
from gnnjet.data.expressions import Expression, compile_variables


@dataclass
class Feature:
    """One input feature: an expression plus its preprocessing recipe (center/scale/clip)."""

    name: str
    expr: Expression
    center: float | str | None
    scale: float | str | None
    clip: tuple[float, float] | None
    path: str


@dataclass
class NodeTypeSpec:
    """One node type: constituents of a collection (optionally a selection of them) and their features.

    Kinematics come as (pt, eta, phi, mass) or as (px, py, pz, energy) (`form`), or not at all for
    point clouds that are not jets (then `coordinates` must be given and nodes keep the file order).
    """

    code: int
    name: str
    max_nodes: int
    select: Expression | None
    form: str | None  # "pt/eta/phi", "px/py/pz/energy" or None
    kinematics: list[Expression]  # 4 expressions in the order of `form`; empty without kinematics
    coordinates: list[Expression] | None  # None: (deta, dphi) to the jet axis
    features: list[tuple[Feature, int]]  # (feature, column in x)
    target: Expression | None = None  # a node task's per-constituent target (task.node_targets); None: no labels

    def expressions(self) -> list[Expression]:
        """Every expression of this node type (all per constituent of one collection)."""
        exprs = ([self.select] if self.select else []) + self.kinematics + (self.coordinates or [])
        return exprs + [f.expr for f, _ in self.features] + ([self.target] if self.target else [])


@dataclass
class DataSpec:
    """The compiled data + task sections of a config."""

    tree: str | None  # None: each ROOT file's only tree
    node_types: list[NodeTypeSpec]
    columns: list[Feature]  # one per column of x, the first feature seen with that name
    type_columns: np.ndarray  # [T, F] bool: which columns each node type fills
    jet_features: list[Feature]
    jet_eta: Expression
    jet_phi: Expression
    selection: Expression | None
    task_type: str
    labels: list[str]  # class names: the one-hot branches, or the keys of task.labels' mapping
    label_exprs: list[Expression] | None  # a class's expression per label (task.labels as a mapping), else None
    targets: dict[str, Expression]  # regression: the named targets (task.targets), in order; classification: {}
    observers: list[Expression]
    step_size: int
    classes: list[str] = field(default_factory=list)  # node_classification: the class names (task.classes)
    fold: Expression | None = None  # training.kfold.expr: each jet's fold, an integer in [0, folds)
    folds: int = 0
    weight: Expression | None = None  # data.weights.expr: each jet's weight (None: 1)
    # jet-level variables of the task's weighting (the store's `aux` columns, in this order): the reweighting
    # variables (data.weights.reweight.vars), then the decorrelation variable (task.decorrelation.expr)
    reweight_vars: list[Expression] = field(default_factory=list)
    decorrelation: Expression | None = None
    branches: dict[str, str] = field(default_factory=dict)  # branch -> config key that needs it

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "DataSpec":
        data, task = config["data"], config["task"]
        variables = compile_variables(data.get("variables") or {})

        def expression(text: str | float, path: str) -> Expression:
            """A config expression, the named variables (data.variables) substituted."""
            return Expression(text, path, variables)

        def feature(entry: dict[str, Any], path: str) -> Feature:
            clip = tuple(entry["clip"]) if entry["clip"] is not None else None
            return Feature(entry["name"], expression(entry["expr"], path), entry["center"], entry["scale"], clip, path)

        columns: list[Feature] = []
        column_of: dict[str, int] = {}
        node_types = []
        for code, (name, entry) in enumerate(data["node_types"].items()):
            base = f"data.node_types.{name}"
            placed = []
            for i, feat_entry in enumerate(entry["features"]):
                feat = feature(feat_entry, f"{base}.features[{i}]")
                if feat.name not in column_of:
                    column_of[feat.name] = len(columns)
                    columns.append(feat)
                placed.append((feat, column_of[feat.name]))
            form = next((f for f, keys in KINEMATICS.items() if entry[keys[0]] is not None), None)
            keys = {"pt/eta/phi": ("pt", "eta", "phi", "mass"), "px/py/pz/energy": KINEMATICS["px/py/pz/energy"]}
            kinematics = [expression(entry[k], f"{base}.{k}") for k in keys[form]] if form else []
            coordinates = entry["coordinates"]
            node_types.append(
                NodeTypeSpec(
                    code, name, entry["max_nodes"],
                    expression(entry["select"], f"{base}.select") if entry["select"] else None,
                    form, kinematics,
                    [expression(c, f"{base}.coordinates[{i}]") for i, c in enumerate(coordinates)]
                    if coordinates else None,
                    placed,
                )
            )
        for node_type in node_types:
            text = (task.get("node_targets") or {}).get(node_type.name)
            if text is not None:
                node_type.target = expression(text, f"task.node_targets.{node_type.name}")
        type_columns = np.zeros((len(node_types), len(columns)), dtype=bool)
        for node_type in node_types:
            for _, column in node_type.features:
                type_columns[node_type.code, column] = True

        is_classification = task["type"] == "classification"
        spec = cls(
            tree=data["tree"],
            node_types=node_types,
            columns=columns,
            type_columns=type_columns,
            jet_features=[feature(f, f"data.jet_features[{i}]") for i, f in enumerate(data["jet_features"])],
            jet_eta=expression(data["jet_axis"]["eta"], "data.jet_axis.eta"),
            jet_phi=expression(data["jet_axis"]["phi"], "data.jet_axis.phi"),
            selection=expression(data["selection"], "data.selection") if data["selection"] else None,
            task_type=task["type"],
            labels=list(task["labels"] or []) if is_classification else [],
            label_exprs=[expression(text, f"task.labels.{name}") for name, text in task["labels"].items()]
            if is_classification and isinstance(task["labels"], dict) else None,
            targets={name: expression(text, f"task.targets.{name}")
                     for name, text in (task["targets"] or {}).items()},
            observers=[expression(o, f"data.observers[{i}]") for i, o in enumerate(data["observers"])],
            step_size=data["step_size"],
            classes=list(task.get("classes") or []),
        )
        weights = data.get("weights") or {}
        if weights.get("expr"):
            spec.weight = expression(weights["expr"], "data.weights.expr")
        if weights.get("reweight"):
            spec.reweight_vars = [expression(text, f"data.weights.reweight.vars.{text}")
                                  for text in weights["reweight"]["vars"]]
        if task.get("decorrelation"):
            spec.decorrelation = expression(task["decorrelation"]["expr"], "task.decorrelation.expr")
        kfold = config.get("training", {}).get("kfold")
        if kfold is not None:
            spec.fold, spec.folds = expression(kfold["expr"], "training.kfold.expr"), kfold["k"]
        spec.branches = spec._collect_branches()
        return spec

    @property
    def needs_jet_axis(self) -> bool:
        """True when a node type's graph coordinates are the default (deta, dphi) to the jet axis."""
        return any(t.coordinates is None for t in self.node_types)

    @property
    def num_coordinates(self) -> int:
        """D of pos [N, D] (2 for the default (deta, dphi))."""
        return len(self.node_types[0].coordinates or [None, None])

    @property
    def is_node_task(self) -> bool:
        """A per-constituent task: the store holds each node's target, its index in its collection and the
        collections' sizes (`arrays.STORE_ARRAYS`)."""
        return self.task_type in NODE_TASKS

    @property
    def target_shape(self) -> tuple[int, ...]:
        """The shape of one jet's y: () for a class index or a single regression target, (T,) for T targets."""
        return (len(self.targets),) if len(self.targets) > 1 else ()

    def model_inputs(self) -> dict[str, int]:
        """Input sizes a model is built with (and a model directory records, so that predict can rebuild it)."""
        return {"num_node_features": len(self.columns), "num_jet_features": len(self.jet_features),
                "num_node_types": len(self.node_types)}

    def expressions(self) -> list[Expression]:
        """Every expression the reader evaluates, in a stable order."""
        exprs = [self.jet_eta, self.jet_phi] if self.needs_jet_axis else []
        if self.selection is not None:
            exprs.append(self.selection)
        exprs += self.targets.values()
        for node_type in self.node_types:
            exprs += node_type.expressions()
        exprs += [f.expr for f in self.jet_features]
        exprs += self.observers + (self.label_exprs or [])
        exprs += [self.weight] if self.weight is not None else []
        return exprs + self.aux_exprs + ([self.fold] if self.fold is not None else [])

    @property
    def aux_exprs(self) -> list[Expression]:
        """The expressions of the store's `aux` columns: reweighting variables, then the decorrelation variable."""
        return self.reweight_vars + ([self.decorrelation] if self.decorrelation is not None else [])

    def _collect_branches(self) -> dict[str, str]:
        branches: dict[str, str] = {} if self.label_exprs else {label: f"task.labels[{i}]"
                                                                for i, label in enumerate(self.labels)}
        for expr in self.expressions():
            for name in sorted(expr.branches):
                branches.setdefault(name, expr.path)
        return branches

    @property
    def observer_names(self) -> list[str]:
        """Output names of the observers (the expression text, made a valid branch name)."""
        return ["".join(c if c.isalnum() or c == "_" else "_" for c in o.text) for o in self.observers]

    def fingerprint(self) -> str:
        """Hash of everything that changes the cached (unpreprocessed) arrays."""
        payload = {
            # 3: constituents with non-finite kinematics are dropped; 4: entries of kept and dropped jets; 5: weight
            # and aux arrays; 6: node targets, node indices and collection sizes
            "version": 6,
            "tree": self.tree,
            "exprs": [e.resolved for e in self.expressions()],
            "caps": [(t.name, t.max_nodes, t.form) for t in self.node_types],
            "select": [t.select.resolved if t.select else None for t in self.node_types],
            "coordinates": [[c.resolved for c in t.coordinates] if t.coordinates else None
                            for t in self.node_types],
            "columns": [f.name for f in self.columns],
            "layout": [[(f.name, c) for f, c in t.features] for t in self.node_types],
            "labels": self.labels if self.label_exprs is None else [[n, e.text] for n, e in zip(self.labels,
                                                                                                self.label_exprs)],
            "task": self.task_type,
            "classes": self.classes,
            "folds": self.folds,
            "weight": self.weight.text if self.weight is not None else None,
            "aux": [e.text for e in self.aux_exprs],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
