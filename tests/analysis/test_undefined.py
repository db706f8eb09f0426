"""No silent sentinels: undefined numbers are NaN (null in JSON) with a recorded reason."""

import json

import numpy as np

from pydriver.analysis.diffusion import diffusivity_std_correlated
from pydriver.analysis.run_output import json_ready
from pydriver.analysis.synthetic import random_walk
from pydriver.analysis.transport import UNDEFINED_KINISI_REASON, DiffusionAnalysis


def test_kinisi_uncertainty_is_nan_for_non_positive_slope():
    t = np.linspace(0.1, 1.0, 10)
    assert np.isnan(diffusivity_std_correlated(t, -0.5 * t, n_particles=10, duration_ps=2.0))
    assert diffusivity_std_correlated(t, 6e-4 * t / 1e-4, 10, 2.0) > 0


def test_haven_ratio_nan_with_reason_when_charge_diffusivity_not_positive():
    # two ions moving exactly opposite: the centre of charge never moves, charge D = 0
    walk = random_walk(60, 1, 1e-5, 0.1, seed=2)[:, 0]
    pos = np.stack([walk, -walk], axis=1)
    elements = np.array(["Na", "Na"])
    res = DiffusionAnalysis(pos, 0.1 * np.arange(60), elements, elements, np.full(60, 8000.0), 500.0,
                            drift_correction=False).run().results
    assert res["charge_diffusivity_cm2_s"] <= 1e-12
    assert np.isnan(res["haven_ratio"]) and np.isnan(res["haven_ratio_std"])
    assert "Haven ratio undefined" in res["undefined"]["haven_ratio"]
    assert res["undefined"]["charge_diffusivity_kinisi_std_cm2_s"] == UNDEFINED_KINISI_REASON
    # the two ions mirror each other: one group of concerted ions, so no independent second ion to
    # estimate the tracer error from; it is undefined, with that reason
    assert res["diffusivity_cm2_s"] > 0 and np.isnan(res["diffusivity_std_cm2_s"])
    assert "move as one group" in res["undefined"]["diffusivity_std_cm2_s"]


def test_json_writes_undefined_as_null():
    text = json.dumps(json_ready({"a": float("nan"), "b": [np.float64(1.5), float("inf")], "c": np.arange(2)}),
                      allow_nan=False)
    assert json.loads(text) == {"a": None, "b": [1.5, None], "c": [0, 1]}
