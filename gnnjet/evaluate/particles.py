"""Per-particle evaluation from predictions files: node classifications (pile-up identification) and PUPPI's
weights, by each method's hard-interaction score per constituent and the jets each method rebuilds; node regressions
by their residuals.

A node classification's file (bin/predict.py) holds per node type `<type>_score_<class>`, `<type>_label` and
`<type>_pt` (jagged, aligned with the input collections) and the jets rebuilt with each class's probability,
`pt_weighted_<class>`, `mass_weighted_<class>`; the first class is the one scored (for pile-up: the hard interaction).
A PUPPI file (bin/puppi.py, task "pileup") gives three methods: PUPPI (its weights), charged-hadron subtraction
(CHS: charged constituents by their vertex association, neutral ones kept) and no mitigation (every constituent
kept), scored against 1 - `<collection>_is_pu`, and its jets rebuilt with each. The hard-interaction jet, `pt_nopu`
and `mass_nopu` (the generator's), is the jets' reference. A node regression's file holds per node type
`<type>_pred`, `<type>_target` and `<type>_pt`: its residuals per node type and pt bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gnnjet import columns as column_names
from gnnjet.errors import DataError
from gnnjet.evaluate.predictions import Predictions
from gnnjet.evaluate.stats import auc, half_width, median, resolution

PUPPI_COLLECTIONS = ("ch", "ne")  # its per-constituent collections: charged, neutral
REFERENCE = "{}_nopu"  # the hard-interaction jet's quantity: pt_nopu, mass_nopu
JET_QUANTITIES = ("pt", "mass")
PUPPI_JETS = {"PUPPI": "puppi", "CHS": "chs", "no mitigation": "none"}  # method -> bin/puppi.py's column suffix
MIN_JETS = 20  # the fewest jets a bin's resolution is quoted for
MIN_REFERENCE = 1.0  # GeV: a jet counts for a quantity when its hard-interaction jet's is above (a mass to compare)


@dataclass
class ParticleScores:
    """One method's score per constituent, per node type (or collection): flat over the jets' lists [n], aligned
    with the input collections; `score` NaN where the method scores no value (not a node), `signal` 1 for the first
    class (the hard interaction), 0 for the others, NaN unknown; `counts` [J] the jets' list lengths."""

    method: str
    score: dict[str, np.ndarray]
    signal: dict[str, np.ndarray]
    pt: dict[str, np.ndarray]
    counts: dict[str, np.ndarray]


def flat(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A jagged column as read by uproot with library="np" (an object array of [J] arrays) -> (values [n] float64,
    counts [J])."""
    counts = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
    return (np.concatenate(list(values)).astype(np.float64) if counts.sum() else np.zeros(0)), counts


def node_types(model: Predictions) -> list[str]:
    """The node types of a node task's file (those with a jagged `<type>_pt` column; the ROOT writer's counter
    branches, n<type>_pt, are not), in file order."""
    suffix = f"_{column_names.NODE_PT}"
    return [name[: -len(suffix)] for name, values in model.columns.items()
            if name.endswith(suffix) and values.dtype == object]


def node_classes(model: Predictions, node_type: str) -> list[str]:
    """The classes of a node classification's file, in order (from `<type>_score_<class>`)."""
    prefix = column_names.node_column(node_type, column_names.SCORE_PREFIX)
    return [name[len(prefix):] for name in model.columns if name.startswith(prefix)]


def particle_scores(model: Predictions) -> list[ParticleScores]:
    """The methods of one predictions file: a node classification's network, or a PUPPI file's PUPPI and CHS."""
    if model.task == column_names.PUPPI_TASK:
        return _puppi_scores(model)
    types = node_types(model)
    if not types:
        raise DataError(f"{model.path}: no <type>_label columns: is it a node classification's predictions file?")
    first = node_classes(model, types[0])[0]
    score, signal, pt, counts = {}, {}, {}, {}
    for name in types:
        score[name], counts[name] = flat(model.columns[column_names.node_column(name, column_names.score(first))])
        label = flat(model.columns[column_names.node_column(name, column_names.NODE_LABEL)])[0]
        signal[name] = np.where(np.isfinite(label), label == 0, np.nan)
        pt[name] = flat(model.columns[column_names.node_column(name, column_names.NODE_PT)])[0]
    return [ParticleScores(model.name, score, signal, pt, counts)]


def _puppi_scores(model: Predictions) -> list[ParticleScores]:
    score, signal, pt, counts = {}, {}, {}, {}
    for prefix in PUPPI_COLLECTIONS:
        score[prefix], counts[prefix] = flat(model.columns[f"{prefix}_puppi"])
        truth = f"{prefix}_is_pu"
        if truth not in model.columns:
            raise DataError(f"{model.path}: no {truth}: the per-particle figures need the generator's pile-up truth")
        signal[prefix] = 1.0 - flat(model.columns[truth])[0]
        pt[prefix] = flat(model.columns[f"{prefix}_pt"])[0]
    chs = dict(score, ne=np.ones_like(score["ne"]))  # neutral constituents kept whatever they are
    every = {prefix: np.ones_like(values) for prefix, values in score.items()}
    return [ParticleScores("PUPPI", score, signal, pt, counts), ParticleScores("CHS", chs, signal, pt, counts),
            ParticleScores("no mitigation", every, signal, pt, counts)]


def align_types(methods: list[ParticleScores]) -> list[ParticleScores]:
    """Name every method's lists after the first method's node types: a PUPPI collection takes the name of the node
    type whose lists have the same lengths in every jet and the same truth where both know it (ch -> charged). A
    collection without such a type is left out."""
    reference = methods[0]
    out = [reference]
    for method in methods[1:]:
        renamed = {}
        for own in method.score:
            for name in reference.score:
                if np.array_equal(method.counts[own], reference.counts[name]):
                    a, b = method.signal[own], reference.signal[name]
                    known = np.isfinite(a) & np.isfinite(b)
                    if np.array_equal(a[known], b[known]):
                        renamed[own] = name
                        break
        out.append(ParticleScores(method.method, *({renamed[k]: v for k, v in part.items() if k in renamed}
                                                   for part in (method.score, method.signal, method.pt,
                                                                method.counts))))
    return out


def common_particles(methods: list[ParticleScores], node_type: str) -> np.ndarray:
    """[n] bool: the constituents of `node_type` that every method scores and whose truth is known (the methods are
    compared on the same particles)."""
    keep = np.isfinite(methods[0].signal[node_type])
    for method in methods:
        keep &= np.isfinite(method.score[node_type])
    return keep


def particle_table(methods: list[ParticleScores], pt_edges: list[float]) -> dict[str, dict[str, float]]:
    """Per method, over the compared constituents (`common_particles`): the per-particle AUC of the hard-interaction
    score, overall, per node type and per node type and pt bin (`auc_<type>_pt<lo>_<hi>`, GeV), the accuracy of the
    cut score >= 0.5 per node type (`accuracy_<type>`: a probability or a weight above one half kept as hard), and the
    particles compared (`particles`)."""
    table: dict[str, dict[str, float]] = {}
    types = [t for t in methods[0].score if all(t in m.score for m in methods)]
    for method in methods:
        row: dict[str, float] = {}
        scores, signals = [], []
        for name in types:
            keep = common_particles(methods, name)
            score, signal, pt = method.score[name][keep], methods[0].signal[name][keep] == 1, methods[0].pt[name][keep]
            scores.append(score)
            signals.append(signal)
            row[f"auc_{name}"] = _auc(score, signal)
            row[f"accuracy_{name}"] = float(np.mean((score >= 0.5) == signal)) if len(score) else float("nan")
            for lo, hi in zip(pt_edges[:-1], pt_edges[1:]):
                bin_ = (pt >= lo) & (pt < hi)
                row[f"auc_{name}_pt{lo:g}_{hi:g}"] = _auc(score[bin_], signal[bin_])
        row = {"auc": _auc(np.concatenate(scores), np.concatenate(signals)), **row}
        row["particles"] = float(sum(len(s) for s in scores))
        table[method.method] = row
    return table


def _auc(score: np.ndarray, signal: np.ndarray) -> float:
    """The AUC, NaN where the particles are all of one kind."""
    return auc(score, signal) if signal.any() and not signal.all() else float("nan")


def residual_table(models: list[Predictions], pt_edges: list[float]) -> dict[str, dict[str, float]]:
    """Per node regression's file, over its labelled nodes: the residual pred - target's median, half the width of
    its central 68% and RMS per node type, and its half width per node type and constituent pt bin (GeV)."""
    table: dict[str, dict[str, float]] = {}
    for model in models:
        row: dict[str, float] = {}
        for name, (residual, pt) in node_residuals(model).items():
            row |= {f"median_{name}": median(residual), f"width_{name}": half_width(residual),
                    f"rms_{name}": float(np.sqrt(np.mean(residual**2))) if len(residual) else float("nan")}
            for lo, hi in zip(pt_edges[:-1], pt_edges[1:]):
                row[f"width_{name}_pt{lo:g}_{hi:g}"] = half_width(residual[(pt >= lo) & (pt < hi)])
        table[model.name] = row
    return table


def node_residuals(model: Predictions) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per node type of a node regression's file, (pred - target [n], pt [n]) of its labelled nodes."""
    out = {}
    for name in node_types(model):
        pred, target, pt = (flat(model.columns[column_names.node_column(name, part)])[0]
                            for part in (column_names.PRED, column_names.TARGET, column_names.NODE_PT))
        known = np.isfinite(pred) & np.isfinite(target)
        if known.any():
            out[name] = (pred[known] - target[known], pt[known])
    return out


def jet_methods(model: Predictions) -> dict[str, dict[str, np.ndarray]]:
    """{method: {quantity: [J]}}: a node classification's jets rebuilt with its first class's probabilities, or a
    PUPPI file's jets rebuilt with PUPPI, CHS and every constituent."""
    if model.task == column_names.PUPPI_TASK:
        return {method: {q: model.columns[f"{q}_{suffix}"] for q in JET_QUANTITIES}
                for method, suffix in PUPPI_JETS.items()}
    first = node_classes(model, node_types(model)[0])[0]
    return {model.name: {q: model.columns[column_names.weighted_jet(q, first)] for q in JET_QUANTITIES}}


def jet_responses(model: Predictions, quantity: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(compared [J] bool: the jets whose hard-interaction `quantity` is above MIN_REFERENCE, {method: response [K]}
    of those jets: the method's jet `quantity` over the hard-interaction jet's)."""
    reference = model.columns[REFERENCE.format(quantity)]
    compared = reference > MIN_REFERENCE
    return compared, {method: jets[quantity][compared] / reference[compared]
                      for method, jets in jet_methods(model).items()}


def resolution_key(quantity: str, variable: str, low: float, high: float) -> str:
    """The `jet_resolution_table` key of a bin [low, high) of `variable`: 'mass_resolution_npv40_60'."""
    return f"{quantity}_resolution_{variable}{low:g}_{high:g}"


def jet_resolution_table(models: list[Predictions], edges: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Per method, for pt and mass: the median response (`jet_responses`) and its resolution (IQR / median), over all
    jets and per bin of each variable of `edges` ({column: bin edges}, e.g. pt_nopu, npv) that holds MIN_JETS jets or
    more (`resolution_key`)."""
    table: dict[str, dict[str, float]] = {}
    for model in models:
        for quantity in JET_QUANTITIES:
            compared, responses = jet_responses(model, quantity)
            for method, response in responses.items():
                row = table.setdefault(method, {})
                row[f"{quantity}_response"] = median(response)
                row[f"{quantity}_resolution"] = resolution(response)
                for variable, bins in edges.items():
                    values = model.columns[variable][compared]
                    for lo, hi in zip(bins[:-1], bins[1:]):
                        chosen = response[(values >= lo) & (values < hi)]
                        if len(chosen) >= MIN_JETS:
                            row[resolution_key(quantity, variable, lo, hi)] = resolution(chosen)
    return table


def has_reference(model: Predictions) -> bool:
    """The file carries the hard-interaction jet (pt_nopu, mass_nopu) the jet figures compare with."""
    return all(REFERENCE.format(q) in model.columns for q in JET_QUANTITIES)
