"""Preprocessing: auto fit, manual values, clipping, non-finite handling, reuse without refit."""

import json

import numpy as np
import pytest

from gnnjet.config import validate_config
from gnnjet.data.cache.build import build_store
from gnnjet.data.dataset import JetDataset
from gnnjet.data.preprocess import Params, Preprocessing
from gnnjet.data.spec import DataSpec
from gnnjet.errors import DataError
from tests.conftest import write_fake, write_fake_with_nonfinite_dxy


def test_params_apply_clip_and_nonfinite():
    params = Params(np.array([1.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32),
                    np.array([-3.0, -np.inf], np.float32), np.array([3.0, np.inf], np.float32))
    raw = np.array([[2.0, 5.0], [np.nan, np.nan], [np.inf, np.inf], [-np.inf, 1.0], [10.0, -2.0]], np.float32)
    np.testing.assert_array_equal(params.apply(raw), [[2.0, 5.0], [0.0, 0.0], [3.0, 0.0], [-3.0, 1.0], [3.0, -2.0]])


def test_auto_fit_matches_weaver_definition(base_config, fake_file, cache_root):
    spec = DataSpec.from_config(validate_config(base_config))
    dataset = JetDataset.from_files(spec, [str(fake_file)], cache_root=cache_root, progress=False)
    raw_x = dataset.store.arrays["x"]
    log_pt = [f.name for f in spec.columns].index("log_pt")
    values = raw_x[:, log_pt]  # every node type owns log_pt
    p16, p50, p84 = np.percentile(values, [16, 50, 84])
    params = dataset.preprocessing.node
    assert params.center[log_pt] == np.float32(p50)
    assert params.scale[log_pt] == np.float32(1 / max(p84 - p50, p50 - p16))
    dxy = [f.name for f in spec.columns].index("dxy")
    assert (params.center[dxy], params.scale[dxy], params.low[dxy], params.high[dxy]) == (0, 2, -3, 3)
    processed = dataset.x.numpy()
    expected = np.clip((raw_x[:, log_pt] - p50) * params.scale[log_pt], -5, 5)
    np.testing.assert_allclose(processed[:, log_pt], expected, rtol=1e-5, atol=1e-5)
    charged = dataset.node_type.numpy() == 0
    assert processed[charged, dxy].max() <= 3 and processed[charged, dxy].min() >= -3
    for code in range(3):  # columns a type does not own stay 0 after centering
        rows = processed[dataset.node_type.numpy() == code]
        assert np.all(rows[:, ~spec.type_columns[code]] == 0)


def test_nonfinite_replaced_in_processed_data(base_config, tmp_path):
    path = write_fake_with_nonfinite_dxy(tmp_path / "nan.root", 30)
    base_config["data"]["node_types"]["charged"]["max_nodes"] = 64  # keep every track
    spec = DataSpec.from_config(validate_config(base_config))
    dataset = JetDataset.from_files(spec, [str(path)], cache_root=tmp_path / "c", progress=False)
    column = [f.name for f in spec.columns].index("dxy")
    raw_dxy, processed = dataset.store.arrays["x"][:, column], dataset.x[:, column].numpy()
    assert processed[np.isnan(raw_dxy)].tolist() == [0.0]
    assert processed[raw_dxy == np.inf].tolist() == [3.0]
    assert processed[raw_dxy == -np.inf].tolist() == [-3.0]
    assert np.isfinite(dataset.x.numpy()).all()


def test_saved_preprocessing_is_reused_not_refit(base_config, tmp_path):
    spec = DataSpec.from_config(validate_config(base_config))
    train = JetDataset.from_files(spec, [str(write_fake(tmp_path / "a.root", 200, seed=1))],
                                  cache_root=tmp_path / "c", progress=False)
    train.preprocessing.save(tmp_path / "preprocess.json")
    loaded = Preprocessing.load(tmp_path / "preprocess.json", spec)
    assert loaded.to_json() == train.preprocessing.to_json()
    other = JetDataset.from_files(spec, [str(write_fake(tmp_path / "b.root", 100, seed=2))], preprocessing=loaded,
                                  cache_root=tmp_path / "c", progress=False)
    refit = Preprocessing.fit(spec, other.store)
    assert refit.to_json() != loaded.to_json()
    assert other.preprocessing is loaded
    np.testing.assert_array_equal(other.preprocessing.node.center, train.preprocessing.node.center)


def _set(key, value):
    """A preprocess.json whose node feature log_pt has `key` replaced by the JSON text `value`."""
    def damage(text):
        values = json.loads(text)
        values["node"]["log_pt"][key] = "@@"
        return json.dumps(values).replace('"@@"', value)
    return damage


# name -> (damage of a valid preprocess.json's text, what the error says)
DAMAGES = {
    "truncated": (lambda text: text[: len(text) // 2], "not readable JSON"),
    "not json": (lambda text: "\x00\x01 not json", "not readable JSON"),
    "empty": (lambda text: "", "not readable JSON"),
    "nested": (lambda text: "[" * 100_000 + "]" * 100_000, "not readable JSON"),
    "foreign": (lambda text: '{"node": {"other": {"center": 0, "scale": 1, "min": null, "max": null}}, "jet": {}}',
                "node: no parameters for feature(s) log_pt"),
    "a list": (lambda text: "[1, 2, 3]", "expected a mapping with keys node and jet"),
    "NaN center": (_set("center", "NaN"), "node.log_pt.center: nan is not a finite float32 number"),
    "inf scale": (_set("scale", "Infinity"), "node.log_pt.scale: inf is not a finite float32 number"),
    "1e308 center": (_set("center", "1e308"), "node.log_pt.center: 1e+308 is not a finite float32 number"),
    "10**400 scale": (_set("scale", "1" + "0" * 400), "node.log_pt.scale: 1000000000"),
    "zero scale": (_set("scale", "0"), "node.log_pt.scale: the scale must be positive"),
    "string scale": (_set("scale", '"2"'), "node.log_pt.scale: expected a number, got '2'"),
    "boolean center": (_set("center", "true"), "node.log_pt.center: expected a number, got True"),
    "min above max": (_set("min", "10"), "node.log_pt: min 10.0 is above max 5.0"),
    "missing key": (lambda text: text.replace('"center"', '"centre"', 1), "node.log_pt: expected {center, scale"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_or_foreign_file_is_refused_naming_the_key(base_config, tmp_path, damage):
    spec = DataSpec.from_config(validate_config(base_config))
    path = tmp_path / "preprocess.json"
    Preprocessing.fit(spec, build_store(spec, [str(write_fake(tmp_path / "j.root", 50))], tmp_path / "cache",
                                        progress=False)).save(path)
    Preprocessing.load(path, spec)  # the undamaged file loads
    change, message = DAMAGES[damage]
    path.write_text(change(path.read_text()))
    with pytest.raises(DataError, match="preprocess.json: not usable") as error:
        Preprocessing.load(path, spec)
    assert message in str(error.value)
