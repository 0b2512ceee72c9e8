"""Load and strictly validate gnnjet YAML configs (sections data, model, task, training).

Every error names the offending key path (``data.node_types.charged.features[3]``) and, for an
unknown key, the closest valid one. The validated config is a plain nested dict with every default
filled in, so that writing it back (``config.yaml`` in a model directory) fully describes a run.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import math
import re
from pathlib import Path
from typing import Any

import yaml

from gnnjet.errors import ConfigError
from gnnjet.fileio import atomic_write_text
from gnnjet.references import FORM, is_user_code, parse_reference
from gnnjet.schema import (
    REQUIRED,
    KeywordOptions,
    ListOf,
    OneOf,
    Record,
    Scalar,
    Spec,
    describe,
    parse_yaml,
    read_yaml_file,
)
from gnnjet.weaver_config import parse_data_config

MAX_NODE_TYPES = 16
# the losses each task type trains with (its default first)
# training.freeze: "backbone" (all but the head MLP), "batchnorm" (every BatchNorm layer: statistics and affine
# parameters); gnnjet.training.pretrained.freeze
FREEZABLE = ("backbone", "batchnorm")
# training.monitor: what selects best.pt and drives early stopping (gnnjet.training.trainer.monitored); the AUC and
# accuracy only for classification
MONITORS = ("val_loss", "val_auc", "val_accuracy", "last")
# regression: point losses, then those that predict a distribution per jet (quantiles, a Gaussian's mean and sigma)
DEFAULT_QUANTILES = (0.16, 0.5, 0.84)  # task.quantiles of loss quantile when none are given
DEFAULT_TARGET = "log(pt_gen / pt)"  # the JEC target: the regression target when task.target(s) are not given
LOSSES = {"classification": ("cross_entropy",),
          "regression": ("huber", "l1", "mse", "logcosh", "quantile", "gaussian_nll"),
          # per-constituent tasks (`tasks/node.py`): one output row per node
          "node_classification": ("cross_entropy",),
          "node_regression": ("mse", "huber", "l1")}
NODE_TASKS = ("node_classification", "node_regression")
CLASSIFICATIONS = ("classification", "node_classification")  # the tasks with classes, scores, AUC and accuracy

_BUILTIN_LOSSES = tuple(dict.fromkeys(sum(LOSSES.values(), ())))
# training.optimizer: gnnjet's names and the torch.optim class each builds (ranger: RAdam inside Lookahead); any other
# torch.optim class may be named as it is spelled there
OPTIMIZERS = {"adamw": "AdamW", "adam": "Adam", "sgd": "SGD", "ranger": "RAdam"}
_UNUSABLE_OPTIMIZERS = {"Optimizer": "the base class", "LBFGS": "it needs a closure per step",
                        "SparseAdam": "it needs sparse gradients"}


class Precision(Spec):
    """training.amp: false, true (= bf16), "bf16" or "fp16"."""

    description = "false, true, 'bf16' or 'fp16'"

    def validate(self, value: Any, path: str) -> Any:
        if value is True or value == "bf16":
            return "bf16"
        if value is False or value is None or value == "fp16":
            return value or False
        raise self.fail(value, path)


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _freezable(entry: str) -> bool:
    """training.freeze: a name of FREEZABLE, or a regular expression that compiles."""
    return entry in FREEZABLE or _compiles(entry)


class RegexMapping(Spec):
    """{regular expression: replacement} (training.pretrained_rename)."""

    description = "a mapping of regular expressions to replacements"

    def validate(self, value: Any, path: str) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise self.fail(value, path)
        for pattern in value:
            if not _compiles(pattern):
                raise ConfigError(f"{path}: {describe(pattern)} is not a regular expression")
        return dict(value)


def optimizer_class(name: str) -> Any:
    """The torch.optim class of training.optimizer `name` (torch is imported here, once a config names one)."""
    import torch.optim

    return getattr(torch.optim, OPTIMIZERS.get(name, name))


class Optimizer(Spec):
    """training.optimizer: a name of OPTIMIZERS or a torch.optim optimizer class's name."""

    description = f"one of {', '.join(OPTIMIZERS)} or a torch.optim optimizer class (NAdam, RMSprop, ...)"

    def validate(self, value: Any, path: str) -> Any:
        if value in OPTIMIZERS:
            return value
        if not isinstance(value, str):
            raise self.fail(value, path)
        import torch.optim

        names = [n for n, c in vars(torch.optim).items() if isinstance(c, type) and issubclass(c, torch.optim.Optimizer)
                 and n not in _UNUSABLE_OPTIMIZERS]
        if value in _UNUSABLE_OPTIMIZERS:
            raise ConfigError(f"{path}: torch.optim.{value} cannot train here: {_UNUSABLE_OPTIMIZERS[value]}")
        if value not in names:
            known = [*OPTIMIZERS, *names]
            close = [n for n in known if n.lower() == value.lower()] or difflib.get_close_matches(value, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{path}: {describe(value)} is no optimizer; {hint}use one of {', '.join(OPTIMIZERS)} "
                              f"or a torch.optim class: {', '.join(sorted(names))}")
        return value

_number = Scalar(float, check=math.isfinite, what="a finite number")
_positive = Scalar(float, check=lambda v: math.isfinite(v) and v > 0, what="a positive finite number")
_non_negative = Scalar(float, check=lambda v: math.isfinite(v) and v >= 0, what="a finite number >= 0")
_positive_or_null = Scalar(float, nullable=True, check=lambda v: v is None or (math.isfinite(v) and v > 0),
                           what="a positive finite number or null")
_string = Scalar(str)
_expr = Scalar(str, what="an expression string")
_FLOAT32_MAX = 3.4028234663852886e38


def _finite32(value: float | None) -> bool:
    """Whether a preprocessing number is one float32 holds (the rule preprocess.json is read back with)."""
    return value is None or abs(value) <= _FLOAT32_MAX  # False for NaN and inf too


_finite = Scalar(float, check=_finite32, what="a finite number")
_auto_number = OneOf([Scalar(str, choices=("auto",)),
                      Scalar(float, nullable=True, check=_finite32, what="a finite number or null")],
                     what="a finite number, 'auto' or null")
_auto_scale = OneOf([Scalar(str, choices=("auto",)),
                     Scalar(float, nullable=True, check=lambda v: v is None or (_finite32(v) and v > 0),
                            what="a positive finite number")],
                    what="a positive finite number, 'auto' or null")
_files = OneOf([ListOf(_string), _string], what="a file path/glob or a list of them")

FEATURE = OneOf(
    [
        Record(
            {
                "name": (_string, REQUIRED),
                "expr": (Scalar(str, nullable=True), None),
                "center": (_auto_number, "auto"),
                "scale": (_auto_scale, "auto"),
                "clip": (ListOf(_finite, length=2, nullable=True), [-5.0, 5.0]),  # [min, max]; null: none
            },
            what="a feature: an expression string or a mapping {name, expr, center, scale, clip}",
        ),
        _expr,
    ],
    what="a feature: an expression string or a mapping {name, expr, center, scale, clip}",
)

_optional_expr = Scalar(str, nullable=True, what="an expression string or null")
NODE_TYPE = Record(
    {
        "select": (_optional_expr, None),
        "max_nodes": (Scalar(int, check=lambda v: v > 0, what="a positive integer"), REQUIRED),
        "pt": (_optional_expr, None),
        "eta": (_optional_expr, None),
        "phi": (_optional_expr, None),
        "mass": (OneOf([_number, _expr], what="a number or an expression"), 0.0),
        "px": (_optional_expr, None),
        "py": (_optional_expr, None),
        "pz": (_optional_expr, None),
        "energy": (_optional_expr, None),
        "coordinates": (ListOf(_expr, min_length=1, nullable=True), None),
        "features": (ListOf(FEATURE, min_length=1), REQUIRED),
    },
    what="a node type {select, max_nodes, pt/eta/phi/mass or px/py/pz/energy, coordinates, features}",
)
KINEMATICS = {"pt/eta/phi": ("pt", "eta", "phi"), "px/py/pz/energy": ("px", "py", "pz", "energy")}


class NodeTypes(Spec):
    """The node types: a mapping from names chosen by the config (charged, neutral, sv, hits, ...) to node types.

    A type's code is its position in the mapping.
    """

    description = "a mapping from node type names to node types"

    def validate(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict) or not value:
            raise self.fail(value, path)
        if len(value) > MAX_NODE_TYPES:
            raise ConfigError(f"{path}: at most {MAX_NODE_TYPES} node types, got {len(value)}")
        out = {}
        for name, entry in value.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ConfigError(f"{path}: node type name {name!r} must be a plain identifier (e.g. charged)")
            out[name] = NODE_TYPE.validate(entry, f"{path}.{name}")
        return out


class BinEdges(Spec):
    """data.weights.reweight.vars: a mapping {jet-level expression: increasing bin edges}, one or two variables
    (weaver-core's reweight_vars)."""

    description = "a mapping of one or two jet-level expressions to increasing bin edges, e.g. {pt: [200, 400, 800]}"

    def validate(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict) or not 1 <= len(value) <= 2:
            raise self.fail(value, path)
        out = {}
        for expression, edges in value.items():
            key = f"{path}.{expression}"
            edges = ListOf(_number, min_length=2).validate(edges, key)
            if any(b <= a for a, b in zip(edges, edges[1:])):
                raise ConfigError(f"{key}: bin edges must increase, got {edges}")
            out[str(expression)] = edges
        return out


REWEIGHT = Record(
    {
        "vars": (BinEdges(), REQUIRED),
        # flat: each class flat in the histogram; ref: every class shaped like the first of `classes`
        "method": (Scalar(str, choices=("flat", "ref")), "flat"),
        "classes": (ListOf(_string, min_length=1, nullable=True), None),  # label names; null: all labels
        "class_weights": (ListOf(_positive, nullable=True),
                          None),
        # percentile of the non-empty bins (flat) or of the ratios (ref, 100 - threshold) where weights are capped
        "threshold": (Scalar(float, check=lambda v: 0 <= v < 100, what="a percentile in [0, 100)"), 10.0),
        # jets outside the edges get weight 0; false: they take the weight of the nearest bin
        "discard_outside": (Scalar(bool), True),
    },
    what="a reweighting mapping {vars, method, classes, class_weights, threshold, discard_outside}",
    nullable=True,
)

WEIGHTS = Record(
    {
        "expr": (_optional_expr, None),  # a per-jet weight (a precomputed branch); null: 1
        "allow_negative": (Scalar(bool), False),  # NLO generators' negative weights
        "reweight": (REWEIGHT, None),
    },
    what="a weights mapping {expr, allow_negative, reweight}",
    nullable=True,
)

class Variables(Spec):
    """data.variables: {name: expression} (parsed with the data spec, `data.expressions.compile_variables`)."""

    description = "a mapping {variable name: expression}"

    def validate(self, value: Any, path: str) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(value, path)
        return _named_expressions(value, path, "variable", "other expressions use it by name", "\"count(sv_pt)\"")


DATA = Record(
    {
        "train": (_files, []),
        "val": (_files, []),
        "test": (_files, []),
        "val_fraction": (Scalar(float, check=lambda v: 0.0 <= v < 1.0, what="a number in [0, 1)"), 0.1),
        # train on a seeded fraction of the training jets (after the validation split)
        "fraction": (Scalar(float, check=lambda v: 0.0 < v <= 1.0, what="a number in (0, 1]"), 1.0),
        # a seeded fraction of the validation jets kept out of training and validation for bin/calibrate.py
        # (recorded in the run: calibration_jets.json)
        "calibration_fraction": (Scalar(float, check=lambda v: 0.0 <= v < 1.0, what="a number in [0, 1)"), 0.0),
        "tree": (Scalar(str, nullable=True), "Jets"),  # ROOT files' tree; null: each file's only tree
        # named variables {name: expression} that every other expression may use (per jet or per constituent;
        # count/sum/min/max/mean reduce a collection to one value per jet)
        "variables": (Variables(), {}),
        "selection": (Scalar(str, nullable=True), None),
        # the selection of predictions and of the test set (null: data.selection)
        "test_selection": (Scalar(str, nullable=True), None),
        "jet_axis": (Record({"eta": (_expr, "eta"), "phi": (_expr, "phi")}), {}),
        "node_types": (NodeTypes(), REQUIRED),
        "jet_features": (ListOf(FEATURE), []),
        "observers": (ListOf(_expr), []),
        # per-jet loss weights: an expression and/or histogram reweighting fitted on the training split
        "weights": (WEIGHTS, None),
        "cache_dir": (Scalar(str, nullable=True), None),
        "step_size": (Scalar(int, check=lambda v: v > 0, what="a positive integer"), 100_000),
        # processes that fill the cache (null: every available core; small samples use fewer)
        "workers": (Scalar(int, nullable=True, check=lambda v: v is None or v > 0, what="a positive integer or null"),
                    None),
    },
    what="the data section",
)

def _named_expressions(mapping: dict[Any, Any], path: str, kind: str, used: str, example: str) -> dict[str, str]:
    """A mapping {name: expression} of task.labels, task.targets or data.variables: names are identifiers (`used`
    says why), expressions non-empty strings."""
    for name, expression in mapping.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{path}: {kind} name {name!r} must be a name of letters, digits and _ ({used})")
        if not isinstance(expression, str) or not expression.strip():
            raise ConfigError(f"{path}.{name}: expected an expression, e.g. {example}, got {expression!r}")
    return dict(mapping)


class Labels(Spec):
    """task.labels: a list of one-hot label branches, or a mapping {class name: expression} (a jet belongs to the
    classes whose expression is true; the expressions are parsed with the data spec)."""

    description = ("a list of at least two one-hot label branches, or a mapping {class name: expression} of at least "
                   "two classes")

    def validate(self, value: Any, path: str) -> Any:
        if value is None or isinstance(value, list):
            return ListOf(_string, min_length=2, nullable=True).validate(value, path)
        if not isinstance(value, dict) or len(value) < 2:
            raise self.fail(value, path)
        return _named_expressions(value, path, "class",
                                  "it names the score_<name> and <name> branches of the predictions",
                                  "\"is_signal_new == 1\"")


class NamedExpressions(Spec):
    """A mapping {name: expression} of at least one entry, or null: task.targets (jet-level regression targets; a
    name labels the target's prediction branches, and a target named after an observer (pt, mass) is taken as the
    log correction log(<name>_gen / <name>) of it: <name>_corr = <name> * exp(prediction)) and task.node_targets (per
    node type, each constituent's class index or target value; NaN leaves a constituent unlabelled, out of the loss
    and metrics, and node types not named have no labels)."""

    def __init__(self, kind: str, used: str, example: str, description: str):
        self.kind, self.used, self.example, self.description = kind, used, example, description

    def validate(self, value: Any, path: str) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict) or not value:
            raise self.fail(value, path)
        return _named_expressions(value, path, self.kind, self.used, self.example)


_TARGETS = NamedExpressions("target", "it names the pred_<name> and <name>_corr branches of the predictions",
                            "\"log(mass_gen / mass)\"", "a mapping {target name: expression} of one or more "
                            "targets, e.g. {pt: \"log(pt_gen / pt)\"}")
_NODE_TARGETS = NamedExpressions("node type", "it names a node type of data.node_types", "ch_is_pu",
                                 "a mapping {node type: per-constituent expression}, e.g. {charged: ch_is_pu, "
                                 "neutral: ne_is_pu}")


class TargetLimits(Spec):
    """task.target_abs_max: null (every jet enters the loss), a number (a target with |y| above it is masked from the
    loss for that jet), or a mapping {target name: number or null} per target."""

    description = "a number, null, or a mapping {target name: number or null}"

    def validate(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            return _positive_or_null.validate(value, path)
        return {str(name): _positive_or_null.validate(limit, f"{path}.{name}")
                for name, limit in value.items()}


DECORRELATION = Record(
    {
        "expr": (_expr, REQUIRED),  # a jet-level variable the score should not depend on, e.g. the jet mass
        "method": (Scalar(str, choices=("disco",)), "disco"),
        "strength": (_non_negative, 10.0),
        "classes": (ListOf(_string, min_length=1, nullable=True), None),  # background label names; null: all but score
        "score": (Scalar(str, nullable=True), None),  # the label whose score is decorrelated; null: the first
    },
    what="a decorrelation mapping {expr, method, strength, classes, score}",
    nullable=True,
)


TASK = Record(
    {
        "type": (Scalar(str, choices=tuple(LOSSES)), REQUIRED),
        "labels": (Labels(), None),
        # node tasks: each node type's per-constituent target (`NamedExpressions`); node_classification: the class
        # names, the target being the class index
        "node_targets": (_NODE_TARGETS, None),
        "classes": (ListOf(_string, min_length=2, nullable=True), None),
        # regression: one target (named pt; default log(pt_gen / pt)) or several named ones (`NamedExpressions`);
        # resolved into `targets` (target: null)
        "target": (_optional_expr, None),
        "targets": (_TARGETS, None),
        # a built-in of LOSSES, or users' per-jet loss 'file.py:name' (`references`, `tasks`)
        "loss": (Scalar(str, nullable=True, check=lambda v: v in _BUILTIN_LOSSES or is_user_code(v),
                        what=f"one of {', '.join(_BUILTIN_LOSSES)} or your own, {FORM}"), None),
        "target_abs_max": (TargetLimits(), None),
        # loss quantile: the quantiles predicted per jet (null: [0.16, 0.5, 0.84]); odd in number, with the median
        "quantiles": (ListOf(_number, min_length=1, nullable=True), None),
        "decorrelation": (DECORRELATION, None),
    },
    what="the task section",
)

KFOLD = Record(
    {
        "k": (Scalar(int, check=lambda v: v >= 2, what="an integer >= 2"), REQUIRED),
        "expr": (_expr, REQUIRED),  # per jet, an integer in [0, k): e.g. "event % 5"
        "fold": (Scalar(int, nullable=True, check=lambda v: v is None or v >= 0, what="a fold number or null"),
                 None),  # the fold this run holds out (set by the k-fold driver; null: train every fold)
    },
    what="a k-fold mapping {k, expr}",
    nullable=True,
)

TRAINING = Record(
    {
        "seed": (Scalar(int, check=lambda v: 0 <= v < 2**32, what="an integer in [0, 2^32)"), 42),
        "batch_size": (Scalar(int, check=lambda v: v > 1, what="an integer >= 2 (BatchNorm needs two jets a batch)"),
                       512),
        "epochs": (Scalar(int, check=lambda v: v > 0, what="a positive integer"), 20),
        # a built-in (OPTIMIZERS) or any torch.optim class by its name (NAdam, RMSprop, ...), with keyword options
        "optimizer": (Optimizer(), "adamw"),
        "optimizer_options": (KeywordOptions(), {}),
        "lr": (_non_negative, 1e-3),
        "weight_decay": (_non_negative, 0.01),
        "momentum": (_non_negative, 0.9),
        "scheduler": (Scalar(str, choices=("cosine", "cosine_restarts", "onecycle", "plateau", "step", "flat_decay",
                                           "flat_linear", "flat_cos",
                                           "none")), "cosine"),
        "restart_epochs": (Scalar(int, check=lambda v: v > 0, what="a positive number of epochs"), 4),
        "warmup_epochs": (_non_negative, 0.0),
        "step_epochs": (Scalar(int, check=lambda v: v > 0, what="a positive integer"), 10),
        "gamma": (_positive, 0.1),
        "plateau_patience": (Scalar(int, check=lambda v: v >= 0, what="an integer >= 0"), 3),
        "grad_clip": (_positive_or_null, 1.0),
        # mixed precision on CUDA: true or bf16 (bfloat16 autocast), fp16 (float16 autocast with a gradient scaler,
        # for GPUs without bfloat16); resolved to false, "bf16" or "fp16"
        "amp": (Precision(), False),
        "compile": (Scalar(bool), False),
        "early_stopping_patience": (Scalar(int, nullable=True, check=lambda v: v is None or v > 0,
                                           what="a positive integer or null"), None),
        # best.pt: the lowest val_loss, the highest val_auc / val_accuracy, or the last epoch's model
        "monitor": (Scalar(str, choices=MONITORS), "val_loss"),
        # classification: the cross-entropy's target smoothed by this much (0: one-hot)
        "label_smoothing": (Scalar(float, check=lambda v: 0 <= v < 1, what="a number in [0, 1)"), 0.0),
        # jets per epoch from an endless stream of shuffled passes (validation, checkpoint, schedule and early
        # stopping once per such epoch); null: one pass over the training jets per epoch
        "samples_per_epoch": (Scalar(int, nullable=True, check=lambda v: v is None or v > 0,
                                     what="a positive number of jets or null"), None),
        "prefetch": (Scalar(int, check=lambda v: v >= 0, what="an integer >= 0"), 2),
        # null: shuffle jet by jet; N: shuffle blocks of N consecutive jets (stores larger than the page cache)
        "shuffle_blocks": (Scalar(int, nullable=True, check=lambda v: v is None or v > 0,
                                  what="a positive number of jets or null"), None),
        "output_dir": (Scalar(str, nullable=True), None),
        # fine-tuning: start from a weaver-core checkpoint or a gnnjet model directory (bin/train.py --pretrained)
        "pretrained": (Scalar(str, nullable=True), None),
        # fine-tuning: regular expressions over the pretrained tensors' names (gnnjet's names; a weaver-core or
        # LorentzNet checkpoint's after conversion): renamed first ({pattern: replacement}, re.sub), then the
        # tensors matching an exclude pattern are left out (the new model keeps its initial values for them)
        "pretrained_rename": (RegexMapping(), {}),
        "pretrained_exclude": (ListOf(Scalar(str, check=_compiles, what="a regular expression")), []),
        # learning-rate factor of the output layer; null: 50 with `pretrained`, else 1
        "head_lr_mult": (_positive_or_null, None),
        # backbone: all but the head MLP; batchnorm: every BatchNorm layer (statistics and affine parameters)
        # and regular expressions over parameter names (re.search): the parameters they match are frozen
        "freeze": (ListOf(Scalar(str, check=_freezable, what=f"one of {', '.join(FREEZABLE)} or a regular expression "
                                                             "over the model's parameter names")), []),
        # k-fold: k runs in OUT/fold_0..fold_{k-1}, run i trained on the jets whose fold expression is not i
        "kfold": (KFOLD, None),
    },
    what="the training section",
)

class ModelSection(Spec):
    """The model section, checked by the model registry (imported lazily: it needs torch)."""

    description = "a model section {name, preset, ...}"

    def validate(self, value: Any, path: str) -> Any:
        from gnnjet.nn.registry import validate_model_section

        return validate_model_section(value, path)


class WeaverSection(Spec):
    """weaver: {data_config: the weaver-core data config a run was made from} (`weaver_config`): its input groups
    are what the network file's model receives."""

    description = "a mapping {data_config: a weaver-core data config}"

    def validate(self, value: Any, path: str) -> Any:
        if value is None:
            return None
        section = Record({"data_config": (Scalar(dict, what="a weaver-core data config mapping"), REQUIRED)},
                         what=self.description).validate(value, path)
        parse_data_config(section["data_config"], f"{path}.data_config")
        return section


CONFIG = Record(
    {
        "data": (DATA, REQUIRED),
        "model": (ModelSection(), REQUIRED),
        "task": (TASK, REQUIRED),
        "training": (TRAINING, {}),
        # a run of a weaver-core network file on a weaver-core data config (bin/train.py --data-config)
        "weaver": (WeaverSection(), None),
    },
    what="a gnnjet config with sections data, model, task, training",
)


def _normalise_features(features: list[Any]) -> list[dict[str, Any]]:
    """Turn the short string form into the full mapping: a raw, unprocessed feature."""
    out = []
    for feature in features:
        if isinstance(feature, str):
            feature = {"name": feature, "expr": feature, "center": None, "scale": None, "clip": None}
        elif feature["expr"] is None:
            feature = {**feature, "expr": feature["name"]}
        out.append(feature)
    return out


def _check_consistency(config: dict[str, Any]) -> None:
    """Cross-key rules a per-key schema cannot express."""
    task = config["task"]
    if task["type"] == "classification" and not task["labels"]:
        raise ConfigError("task.labels: classification needs a list of one-hot label branches, e.g. [label_q, "
                          "label_g], or a mapping of class names to expressions, e.g. {top: \"is_signal_new == 1\", "
                          "qcd: \"is_signal_new == 0\"}")
    kfold = config["training"]["kfold"]
    if kfold is not None and kfold["fold"] is not None and kfold["fold"] >= kfold["k"]:
        raise ConfigError(f"training.kfold.fold: {kfold['fold']} is not a fold of k = {kfold['k']}")
    if is_user_code(task["loss"]):
        parse_reference(task["loss"], "task.loss")
    elif task["loss"] not in LOSSES[task["type"]]:
        raise ConfigError(f"task.loss: {task['loss']!r} is not a {task['type']} loss; choose one of "
                          f"{', '.join(LOSSES[task['type']])}")
    if config["weaver"] is not None and not is_user_code(config["model"]["name"]):
        raise ConfigError("model.name: a weaver data config (weaver.data_config) feeds a weaver-core network file: "
                          "name its get_model, e.g. networks/net.py:get_model (bin/train.py --network-config)")
    _check_quantiles(task)
    _resolve_targets(task)
    _check_node_task(config)
    _check_optimizer_options(config["training"])
    if config["training"]["label_smoothing"] and task["type"] not in CLASSIFICATIONS:
        raise ConfigError(f"training.label_smoothing: needs a classification task (task.type is {task['type']})")
    monitor = config["training"]["monitor"]
    if monitor in ("val_auc", "val_accuracy") and task["type"] not in CLASSIFICATIONS:
        raise ConfigError(f"training.monitor: {monitor} needs a classification task; use val_loss or last")
    if monitor == "last" and config["training"]["early_stopping_patience"] is not None:
        raise ConfigError("training.early_stopping_patience: with training.monitor: last nothing is compared; "
                          "leave it null")
    _check_node_types(config["data"]["node_types"])
    _check_pair_features(config)
    _check_weighting(config)
    for i, feature in enumerate(config["data"]["jet_features"]):
        _check_clip(feature, f"data.jet_features[{i}]")
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    for type_name, node_type in config["data"]["node_types"].items():
        for i, feature in enumerate(node_type["features"]):
            path = f"data.node_types.{type_name}.features[{i}]"
            _check_clip(feature, path)
            spec = {k: feature[k] for k in ("center", "scale", "clip")}
            if feature["name"] in seen and seen[feature["name"]][1] != spec:
                raise ConfigError(
                    f"{path}: feature {feature['name']!r} shares its column with {seen[feature['name']][0]} "
                    "but has different center/scale/clip; give it another name or the same preprocessing"
                )
            seen.setdefault(feature["name"], (path, spec))


def _check_clip(feature: dict[str, Any], path: str) -> None:
    if feature["clip"] is not None and feature["clip"][0] > feature["clip"][1]:
        raise ConfigError(f"{path}.clip: [min, max] with min <= max, got {feature['clip']}")


def _check_optimizer_options(training: dict[str, Any]) -> None:
    """training.optimizer_options: keywords that the optimizer's torch.optim class takes (besides its params)."""
    if not training["optimizer_options"]:
        return
    optimizer = optimizer_class(training["optimizer"])
    accepted = [name for name in inspect.signature(optimizer).parameters if name != "params"]
    for key in training["optimizer_options"]:
        if key not in accepted:
            raise ConfigError(f"training.optimizer_options.{key}: torch.optim.{optimizer.__name__} takes no option "
                              f"{key!r} (its options: {', '.join(accepted)})")


def _check_quantiles(task: dict[str, Any]) -> None:
    """task.quantiles: only with loss quantile; increasing levels in (0, 1), an odd number of them, 0.5 among them
    (the median is the point estimate and the others pair around it); filled with the default for loss quantile."""
    quantiles = task["quantiles"]
    if quantiles is not None and task["loss"] != "quantile":
        raise ConfigError(f"task.quantiles: given, but task.loss is {task['loss']!r}; set task.loss: quantile")
    if task["loss"] != "quantile":
        return
    if quantiles is None:
        task["quantiles"] = list(DEFAULT_QUANTILES)
        return
    if not all(0 < q < 1 for q in quantiles):
        raise ConfigError(f"task.quantiles: {quantiles}: every quantile must lie in (0, 1)")
    if any(b <= a for a, b in zip(quantiles, quantiles[1:])):
        raise ConfigError(f"task.quantiles: {quantiles}: the quantiles must increase")
    if 0.5 not in quantiles or len(quantiles) % 2 == 0:
        raise ConfigError(f"task.quantiles: {quantiles}: give an odd number of quantiles including 0.5 (the median, "
                          "the point estimate), e.g. [0.16, 0.5, 0.84]")


def _resolve_targets(task: dict[str, Any]) -> None:
    """task.target (one target, named pt) or task.targets (named targets), not both, and only for regression;
    resolved into task.targets (task.target: null), so that a resolved config validates again unchanged."""
    if task["type"] != "regression":
        if task["targets"] is not None:
            raise ConfigError(f"task.targets: regression targets, but task.type is {task['type']}")
        task["target"] = None  # ignored, as it always was (configs of older runs carry the default)
        return
    if task["target"] is not None and task["targets"] is not None:
        raise ConfigError("task.target and task.targets: give one target expression (task.target) or a mapping of "
                          "named targets (task.targets), not both")
    if task["targets"] is None:
        task["targets"] = {"pt": task["target"] or DEFAULT_TARGET}
    task["target"] = None
    limits = task["target_abs_max"]
    unknown = sorted(set(limits) - set(task["targets"])) if isinstance(limits, dict) else []
    if unknown:
        raise ConfigError(f"task.target_abs_max.{unknown[0]}: not a target; the targets are "
                          f"{', '.join(task['targets'])}{_did_you_mean(unknown[0], list(task['targets']))}")


def _check_node_task(config: dict[str, Any]) -> None:
    """A node task needs task.node_targets naming node types (and task.classes for node_classification), one of
    gnnjet's model families (they have per-node embeddings), and none of the jet tasks' keys; a jet task takes
    neither key."""
    task = config["task"]
    if task["type"] not in NODE_TASKS:
        for key in ("node_targets", "classes"):
            if task[key] is not None:
                raise ConfigError(f"task.{key}: for node tasks (node_classification, node_regression); task.type is "
                                  f"{task['type']}")
        return
    if task["node_targets"] is None:
        raise ConfigError(f"task.node_targets: {task['type']} needs each node type's per-constituent target, e.g. "
                          "{charged: ch_is_pu, neutral: ne_is_pu}")
    types = list(config["data"]["node_types"])
    for name in task["node_targets"]:
        if name not in types:
            raise ConfigError(f"task.node_targets.{name}: not a node type of data.node_types ({', '.join(types)})"
                              f"{_did_you_mean(name, types)}")
    if task["type"] == "node_classification" and task["classes"] is None:
        raise ConfigError("task.classes: node_classification needs the class names, e.g. [hard, pileup] (a "
                          "constituent's target is its class index)")
    if task["type"] == "node_regression" and task["classes"] is not None:
        raise ConfigError("task.classes: for node_classification; node_regression has no classes")
    for name in task["classes"] or []:
        if not name.isidentifier():
            raise ConfigError(f"task.classes: class name {name!r} must be a name of letters, digits and _ (it "
                              "names the <type>_score_<class> branches of the predictions)")
    for key in ("labels", "quantiles", "decorrelation"):
        if task[key] is not None:
            raise ConfigError(f"task.{key}: a jet task's key; {task['type']} takes task.node_targets")
    if is_user_code(task["loss"]):
        raise ConfigError(f"task.loss: your own loss takes one row per jet; {task['type']} takes a built-in one "
                          f"({', '.join(LOSSES[task['type']])})")
    if is_user_code(config["model"]["name"]) or config["weaver"] is not None:
        raise ConfigError(f"model.name: {task['type']} needs per-node outputs, which gnnjet's own model families "
                          "give; your own network's output is per jet")


def _did_you_mean(name: str, names: list[str]) -> str:
    """'; did you mean 'mass'?' for the closest of `names`, or ''."""
    close = difflib.get_close_matches(name, names, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def label_names(task: dict[str, Any]) -> list[str]:
    """The class names of a classification task: the one-hot branches or the keys of task.labels' mapping."""
    return list(task["labels"] or [])


def _check_weighting(config: dict[str, Any]) -> None:
    """Reweighting and decorrelation name classes of task.labels and need a classification task."""
    task, weights = config["task"], config["data"]["weights"]
    reweight = weights["reweight"] if weights else None
    decorrelation = task["decorrelation"]
    for path, section in (("data.weights.reweight", reweight), ("task.decorrelation", decorrelation)):
        if section is not None and task["type"] != "classification":
            raise ConfigError(f"{path}: needs a classification task (task.type is {task['type']})")
    names = label_names(task)

    def check_names(path: str, given: list[str]) -> None:
        for name in given:
            if name not in names:
                raise ConfigError(f"{path}: {name!r} is not a class of task.labels ({', '.join(names)})"
                                  f"{_did_you_mean(name, names)}")

    if reweight is not None:
        check_names("data.weights.reweight.classes", reweight["classes"] or [])
        classes = reweight["classes"] or names
        if reweight["class_weights"] is not None and len(reweight["class_weights"]) != len(classes):
            raise ConfigError(f"data.weights.reweight.class_weights: {len(reweight['class_weights'])} weights for "
                              f"{len(classes)} classes ({', '.join(classes)})")
    if decorrelation is not None:
        check_names("task.decorrelation.score", [decorrelation["score"]] if decorrelation["score"] else [])
        check_names("task.decorrelation.classes", decorrelation["classes"] or [])
        score = decorrelation["score"] or names[0]
        if score in (decorrelation["classes"] or []):
            raise ConfigError(f"task.decorrelation.classes: the score's own class {score!r} cannot be a background "
                              "class")


def _check_pair_features(config: dict[str, Any]) -> None:
    """Pairwise (Lorentz) features need four-vectors: at least one node type with kinematics; LorentzNet needs
    them for every node type."""
    node_types = config["data"]["node_types"]
    model = config["model"]
    uses_pairs = model["name"] == "mipart" or (model.get("pair_features") == "lorentz" and model.get("pair_dims"))
    def has_kinematics(node_type: dict[str, Any]) -> bool:
        return any(node_type[k] is not None for keys in KINEMATICS.values() for k in keys)

    if model["name"] == "lorentznet":
        for name, node_type in node_types.items():
            if not has_kinematics(node_type):
                raise ConfigError(f"data.node_types.{name}: lorentznet works on four-vectors, but this node type "
                                  "gives no pt/eta/phi or px/py/pz/energy")
    if uses_pairs and not any(has_kinematics(t) for t in node_types.values()):
        raise ConfigError(f"model.pair_features: {model['name']}'s pair features need four-vectors, but no node type "
                          f"({', '.join(node_types)}) gives pt/eta/phi or px/py/pz/energy; set "
                          "model.pair_features: none")


def _check_node_types(node_types: dict[str, Any]) -> None:
    """Each node type gives its kinematics in one form (or none, with coordinates); coordinates agree in size."""
    sizes = {}
    for name, node_type in node_types.items():
        path = f"data.node_types.{name}"
        given = {form: [k for k in keys if node_type[k] is not None] for form, keys in KINEMATICS.items()}
        complete = [form for form, keys in KINEMATICS.items() if len(given[form]) == len(keys)]
        partial = [form for form in KINEMATICS if given[form] and form not in complete]
        if partial or len(complete) > 1:
            form = (partial or complete)[-1]
            missing = [k for k in KINEMATICS[form] if node_type[k] is None]
            what = f"is missing {', '.join(missing)}" if missing else "is given together with pt/eta/phi"
            raise ConfigError(f"{path}: give the kinematics as pt/eta/phi(/mass) or as px/py/pz/energy; {form} {what}")
        if not complete and node_type["coordinates"] is None:
            raise ConfigError(f"{path}: a node type without kinematics (pt/eta/phi or px/py/pz/energy) needs "
                              "coordinates: the expressions its graph is built in")
        sizes[name] = len(node_type["coordinates"] or ["deta", "dphi"])
    if len(set(sizes.values())) > 1:
        raise ConfigError("data.node_types: every node type needs the same number of coordinates, got "
                          + ", ".join(f"{n}: {c}" for n, c in sizes.items()))


def validate_config(raw: Any) -> dict[str, Any]:
    """Validate a parsed config mapping; returns the normalised config (a new dict)."""
    config = CONFIG.validate(copy.deepcopy(raw), "")
    for node_type in config["data"]["node_types"].values():
        node_type["features"] = _normalise_features(node_type["features"])
    config["data"]["jet_features"] = _normalise_features(config["data"]["jet_features"])
    for split in ("train", "val", "test"):
        if isinstance(config["data"][split], str):
            config["data"][split] = [config["data"][split]]
    if config["task"]["loss"] is None:
        config["task"]["loss"] = LOSSES[config["task"]["type"]][0]
    _check_consistency(config)
    return config


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it. Raises ConfigError naming the file and key path."""
    path = Path(path)
    raw = read_yaml_file(path, "config file")
    try:
        return validate_config(raw)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def dump_config(config: dict[str, Any], path: str | Path) -> None:
    """Write a validated config back as YAML (the resolved config of a run)."""
    atomic_write_text(path, yaml.safe_dump(config, sort_keys=False))


def apply_overrides(config: dict[str, Any], assignments: list[str], allowed: tuple[str, ...] | None = None,
                    option: str = "--set") -> dict[str, Any]:
    """A validated config with ``KEY=VALUE`` assignments applied (KEY a dotted path such as training.lr or
    data.node_types.charged.max_nodes, VALUE parsed as YAML) and validated again; returns a new config.

    Every key of a validated config is spelled out, so an unknown key is a ConfigError with the closest valid
    one; `allowed` restricts the keys that may be set (prefixes of dotted paths)."""
    config = copy.deepcopy(config)
    for assignment in assignments:
        key, equals, text = assignment.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ConfigError(f"{option} {assignment!r}: give KEY=VALUE, e.g. {option} training.lr=3e-4")
        if allowed is not None and not any(key == a or key.startswith(a + ".") for a in allowed):
            raise ConfigError(f"{option} {key}: only {', '.join(allowed)} may be set here")
        value = parse_yaml(text, f"{option} {key}: the value {describe(text)}")
        node, parts = config, key.split(".")
        for depth, part in enumerate(parts):
            path = ".".join(parts[: depth + 1])
            if not isinstance(node, dict) or part not in node:
                choices = list(node) if isinstance(node, dict) else []
                close = difflib.get_close_matches(part, choices, n=1)
                hint = f"; did you mean {'.'.join([*parts[:depth], close[0]])!r}?" if close else ""
                raise ConfigError(f"{option} {key}: unknown key {path!r}{hint}")
            if depth == len(parts) - 1:
                node[part] = value
            else:
                node = node[part]
    try:
        return validate_config(config)
    except ConfigError as err:
        raise ConfigError(f"{option}: {err}") from None


# keys a --resume may change without changing what the run computes (documented in the README); a run's checkpoints
# may differ from its config.yaml in these only
RESUMABLE_KEYS = ("training.epochs", "training.early_stopping_patience", "training.prefetch", "training.output_dir",
                  "data.cache_dir", "data.workers", "data.test", "data.test_selection")


def flatten_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1} (lists stay values): a config's key paths, for comparing two configs."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out |= flatten_config(value, f"{path}.")
        else:
            out[path] = value
    return out


def with_kfold(config: dict[str, Any], k: int, expr: str) -> dict[str, Any]:
    """A validated config whose training.kfold is {k, expr} (bin/train.py --kfold K --fold-expr EXPR)."""
    try:
        return validate_config({**config, "training": {**config["training"], "kfold": {"k": k, "expr": expr}}})
    except ConfigError as err:
        raise ConfigError(f"--kfold/--fold-expr: {err}") from None
