"""bin/plot.py and bin/visualize_data.py produce every figure, non-empty, PNG and PDF."""

import json

import numpy as np
import pytest
import uproot

from gnnjet.config import validate_config
from gnnjet.data.dataset import JetDataset
from gnnjet.data.spec import DataSpec
from gnnjet.data.writer import write_jets
from gnnjet.errors import GnnjetError
from gnnjet.plots.compare import plot_models, split_list
from gnnjet.plots.dataset import plot_dataset
from gnnjet.plots.style import use_style
from tests.evaluate.test_jec import jets


def test_split_list():
    assert split_list(" a, b ,c,") == ["a", "b", "c"]


def test_regression_figures(tmp_path):
    sample = jets(6000)
    rng = np.random.default_rng(0)
    for name, spread in (("gnn", 0.05), ("standard", 0.08)):
        corrected = sample["pt_gen"] * rng.normal(1, spread, len(sample["pt"]))
        write_jets(tmp_path / f"{name}.root", {"pred": np.log(corrected / sample["pt"]).astype(np.float32),
                                               "pt_corr": corrected.astype(np.float32), **sample})
    paths = plot_models([str(tmp_path / "gnn.root"), str(tmp_path / "standard.root")], ["GNN", "Standard"],
                        tmp_path / "figs")
    names = {p.name for p in paths}
    for figure in ("resolution_central", "median_response_central", "response_distributions_forward",
                   "flavour_dependence_central", "residual_response_central", "median_response_flavour_GNN_central"):
        assert f"{figure}.png" in names and f"{figure}.pdf" in names
    assert all(p.stat().st_size > 1000 for p in paths if p.suffix in (".png", ".pdf"))
    summary = (tmp_path / "figs" / "jec_summary.md").read_text()
    assert "| GNN |" in summary and "relative to Standard" in summary


def test_figures_of_a_corrected_mass(tmp_path):
    """A pt + mass model (with a Gaussian interval of mass_corr of the right width) and a mass-only model: the
    mass figures and table compare them with the uncorrected mass; the mass-only model alone draws no JEC figures."""
    sample = {k: v for k, v in jets(6000).items() if not k.endswith("_flavor")}  # no flavour figures: faster
    rng = np.random.default_rng(1)
    mass_gen = rng.uniform(5, 50, len(sample["pt"]))
    sample.update(mass_gen=mass_gen.astype(np.float32), mass=(mass_gen * rng.normal(0.7, 0.2, len(mass_gen))
                                                              ).clip(0.5).astype(np.float32))
    mass_corr = mass_gen * rng.normal(1, 0.1, len(mass_gen))  # sigma 10%: the interval below has that width
    both = {"pt_corr": (sample["pt_gen"] * rng.normal(1, 0.05, len(mass_gen))).astype(np.float32),
            "mass_corr": mass_corr.astype(np.float32), "mass_corr_q16": (mass_corr * 0.9).astype(np.float32),
            "mass_corr_q84": (mass_corr * 1.1).astype(np.float32),
            "mass_corr_sigma": (mass_corr * 0.1).astype(np.float32)}
    write_jets(tmp_path / "both.root", {"pred_pt": np.zeros(len(mass_gen), np.float32), **both, **sample},
               notes={"task": "regression"})
    write_jets(tmp_path / "mass.root", {"pred": np.zeros(len(mass_gen), np.float32),
                                        "mass_corr": (mass_gen * rng.normal(1, 0.15, len(mass_gen))).astype(np.float32),
                                        **sample}, notes={"task": "regression"})
    names = {p.name for p in plot_models([str(tmp_path / "both.root"), str(tmp_path / "mass.root")],
                                         ["pt+mass", "mass"], tmp_path / "figs")}
    for figure in ("mass_response", "mass_response_distribution", "coverage_mass_central", "pulls_mass",
                   "calibration_mass", "resolution_central"):
        assert f"{figure}.png" in names, figure
    table = json.loads((tmp_path / "figs" / "mass_summary.json").read_text())["models"]
    central = (np.abs(sample["eta_gen"]) < 2.5) & (sample["pt_gen"] >= 30)
    raw = (sample["mass"] / mass_gen)[central]
    iqr = np.subtract(*np.percentile(raw, [75, 25])) / np.median(raw)
    assert table["Uncorrected"]["resolution_pt>30"] == pytest.approx(iqr, rel=1e-3)
    assert table["pt+mass"]["resolution_pt>30"] < table["mass"]["resolution_pt>30"] < iqr
    assert table["pt+mass"]["resolution_improvement_pt>30_%"] > 0
    coverage = json.loads((tmp_path / "figs" / "regression_metrics.json").read_text())["targets"]["mass"]
    assert list(coverage) == ["pt+mass"] and coverage["pt+mass"]["coverage"] == pytest.approx(0.68, abs=0.03)
    alone = {p.name for p in plot_models([str(tmp_path / "mass.root")], ["mass"], tmp_path / "alone")}
    assert "mass_response.png" in alone and not any(name.startswith("resolution_") for name in alone)
    assert not (tmp_path / "alone" / "jec_summary.json").exists()


def test_classification_figures(tmp_path):
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 2000)
    score = np.clip(truth * 0.3 + rng.uniform(0, 0.7, 2000), 0, 1).astype(np.float32)
    jets_and_truth = {"label_q": truth.astype(np.int32), "label_g": 1 - truth.astype(np.int32),
                      "pt": rng.uniform(500, 550, 2000).astype(np.float32),
                      "eta": rng.uniform(-1, 1, 2000).astype(np.float32)}
    better = np.clip(truth * 0.5 + rng.uniform(0, 0.5, 2000), 0, 1).astype(np.float32)
    for name, q in (("p", score), ("better", better)):
        write_jets(tmp_path / f"{name}.root", {"score_label_q": q, "score_label_g": 1 - q, **jets_and_truth})
    paths = plot_models([str(tmp_path / "p.root"), str(tmp_path / "better.root")], ["model", "better"],
                        tmp_path / "figs")
    assert {"roc_q.png", "scores_model.png", "classification_metrics.md"} <= {p.name for p in paths}
    metrics = json.loads((tmp_path / "figs" / "classification_metrics.json").read_text())

    def mann_whitney(scores):  # AUC = P(score of a quark > score of a gluon), ties counted half
        quark, gluon = scores[truth == 1][:, None], scores[truth == 0][None, :]
        return float(np.mean((quark > gluon) + 0.5 * (quark == gluon)))

    assert metrics["model"]["auc"] == pytest.approx(mann_whitney(score), abs=1e-6)
    assert metrics["better"]["auc"] == pytest.approx(mann_whitney(better), abs=1e-6)
    assert metrics["better"]["delta_auc"] == pytest.approx(mann_whitney(better) - mann_whitney(score), abs=1e-6)
    assert metrics["better"]["delta_auc"] > 5 * metrics["better"]["delta_auc_err"] > 0


def test_multiclass_figures_and_discriminants(tmp_path):
    """4 classes: b is perfectly separated from uds and g but not from c, so Rej(b vs uds+g) is a bound."""
    rng = np.random.default_rng(5)
    names = ["b", "c", "uds", "g"]
    truth = rng.integers(0, 4, 3000)
    logits = rng.normal(0, 1, (3000, 4)) + 2.0 * np.eye(4)[truth]
    logits[:, 0] = np.where(np.isin(truth, [0, 1]), logits[:, 0] + 10, logits[:, 0] - 10)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    columns = {f"score_label_{n}": probabilities[:, i].astype(np.float32) for i, n in enumerate(names)}
    columns.update({f"label_{n}": (truth == i).astype(np.int32) for i, n in enumerate(names)})
    write_jets(tmp_path / "pred.root", {**columns, "pt": rng.uniform(30, 500, 3000).astype(np.float32),
                                        "eta": rng.uniform(-2, 2, 3000).astype(np.float32)})
    paths = plot_models([str(tmp_path / "pred.root")], ["PN"], tmp_path / "figs", ["b:uds+g", "uds:g"])
    files = {p.name for p in paths}
    assert {"roc_b.png", "roc_g.pdf", "roc_b_vs_uds_g.png", "roc_uds_vs_g.png", "confusion_PN.png",
            "confusion_PN.pdf"} <= files
    metrics = json.loads((tmp_path / "figs" / "classification_metrics.json").read_text())["PN"]
    background = int(np.isin(truth, [2, 3]).sum())
    assert metrics["auc_b_vs_uds_g"] == 1.0 and metrics["rej50_b_vs_uds_g"] == f"> {background}"
    assert metrics["auc_b"] < 0.995 and isinstance(metrics["rej50_b"], float)
    assert f"| > {background} |" in (tmp_path / "figs" / "classification_metrics.md").read_text()
    with pytest.raises(GnnjetError, match="unknown class"):
        plot_models([str(tmp_path / "pred.root")], ["PN"], tmp_path / "figs", ["t:qcd"])


@pytest.fixture
def dataset(base_config, fake_file, cache_root):
    base_config["task"] = {"type": "regression"}
    base_config["data"]["observers"].append("parton_flavor")
    return JetDataset.from_files(DataSpec.from_config(validate_config(base_config)), [str(fake_file)],
                                 cache_root=cache_root, progress=False)


def test_dataset_figures(dataset, tmp_path):
    use_style()
    paths = plot_dataset(dataset, tmp_path)
    names = {p.name for p in paths}
    for figure in ("occupancy_pt_eta", "flavour_composition", "multiplicity", "particle_cloud", "regression_target",
                   "features_0"):
        assert f"{figure}.png" in names, figure


def test_weighted_tables_sculpting_and_reweighting_figures(tmp_path):
    """Predictions with a weight branch give weighted AUCs (--no-weights: unweighted), --sculpting mass draws the
    background mass after score cuts and tabulates 1/JSD, a run with weights.json gets its reweighting figures."""
    from gnnjet.data.reweight import Reweighting
    from gnnjet.plots.classification import summary
    from gnnjet.plots.compare import load_models

    rng = np.random.default_rng(3)
    jets = 3000
    truth = (rng.random(jets) < 0.5).astype(np.int32)
    mass = np.where(truth == 1, rng.normal(170, 15, jets), rng.exponential(80, jets) + 20).astype(np.float32)
    score = np.clip(0.1 * truth + 0.5 * (mass > 120) + 0.4 * rng.random(jets), 0, 1).astype(np.float32)
    weight = rng.uniform(0.2, 3.0, jets).astype(np.float32)
    run = tmp_path / "run"
    run.mkdir()
    write_jets(run / "pred.root", {"score_label_top": score, "score_label_qcd": 1 - score, "label_top": truth,
                                   "label_qcd": 1 - truth, "mass": mass, "weight": weight,
                                   "pt": rng.uniform(500, 600, jets).astype(np.float32),
                                   "eta": rng.uniform(-2, 2, jets).astype(np.float32)})
    settings = {"vars": {"pt": [500.0, 550.0, 600.0], "mass": [0.0, 100.0, 200.0, 300.0]}, "method": "flat",
                "classes": None, "class_weights": None, "threshold": 10.0, "discard_outside": True}
    aux = np.stack([rng.uniform(500, 600, jets), mass], axis=1)
    Reweighting.fit(settings, ["label_top", "label_qcd"], 1 - truth, aux, np.ones(jets)).save(run / "weights.json")

    paths = plot_models([str(run)], ["tagger"], tmp_path / "figs", sculpting="mass")
    names = {p.name for p in paths}
    assert {"sculpting_mass_tagger.png", "reweighting_tagger.png", "reweighting_projections_tagger.pdf"} <= names
    metrics = json.loads((tmp_path / "figs" / "classification_metrics.json").read_text())["tagger"]

    def weighted_auc(w):
        top, qcd = score[truth == 1][:, None], score[truth == 0][None, :]
        pairs = w[truth == 1][:, None] * w[truth == 0][None, :]
        return float(np.sum(pairs * ((top > qcd) + 0.5 * (top == qcd))) / pairs.sum())

    assert metrics["weights"] == "weight" and metrics["auc"] == pytest.approx(weighted_auc(weight), abs=1e-6)
    assert 1 < metrics["inv_jsd50"] < 30 and metrics["inv_jsd50_err"] > 0  # the mass-dependent score sculpts
    assert "background sculpting in mass" in (tmp_path / "figs" / "classification_metrics.md").read_text()
    # a gnnjet predictions file (it records its task) whose `weight` branch is only an observer is not weighted
    columns = uproot.open(run / "pred.root")["Jets"].arrays(library="np")
    write_jets(tmp_path / "observer.root", columns, notes={"task": "classification"})
    assert summary(load_models([str(tmp_path / "observer.root")], ["m"]), tmp_path / "o")["m"]["weights"] == "none"
    plain = summary(load_models([str(run)], ["m"], weights=False), tmp_path / "plain")["m"]
    assert plain["weights"] == "none" and plain["auc"] == pytest.approx(weighted_auc(np.ones(jets)), abs=1e-6)
    with pytest.raises(GnnjetError, match="no branch 'mass_sd' for --sculpting"):
        summary(load_models([str(run)], ["m"]), tmp_path / "bad", sculpting="mass_sd")
    write_jets(tmp_path / "unweighted.root", {"score_label_top": score, "score_label_qcd": 1 - score,
                                               "label_top": truth, "label_qcd": 1 - truth})
    with pytest.raises(GnnjetError, match="--weights: .*unweighted.root carry no weight branch"):
        load_models([str(tmp_path / "unweighted.root")], ["x"], weights=True)


def test_reliability_diagram_and_ece_of_a_calibrated_tagger(tmp_path):
    """Scores that are exact probabilities have an ECE near 0; their overconfident raw version (kept by a
    calibrated run as score_<label>_raw) a large one: both in the metrics and in the reliability figure."""
    rng = np.random.default_rng(5)
    probability = rng.uniform(0, 1, 20000)
    truth = (rng.uniform(0, 1, 20000) < probability).astype(np.int32)  # P(quark) = the score
    logit = np.log(probability / (1 - probability))
    raw = 1 / (1 + np.exp(-3 * logit))  # three times too confident
    write_jets(tmp_path / "cal.root", {"score_label_q": probability.astype(np.float32),
                                       "score_label_g": (1 - probability).astype(np.float32),
                                       "score_label_q_raw": raw.astype(np.float32),
                                       "score_label_g_raw": (1 - raw).astype(np.float32),
                                       "label_q": truth, "label_g": 1 - truth})
    paths = plot_models([str(tmp_path / "cal.root")], ["tagger"], tmp_path / "figs")
    assert "reliability_tagger.png" in {p.name for p in paths}
    metrics = json.loads((tmp_path / "figs" / "classification_metrics.json").read_text())["tagger"]
    assert metrics["ece"] < 0.02 and metrics["ece_raw"] > 0.08
    assert "ECE before calibration" in (tmp_path / "figs" / "classification_metrics.md").read_text()
