"""Runs of one adaptive target are fitted over the same lags, whatever length they stopped at."""

from __future__ import annotations

import pytest

from pydriver.analysis import AnalysisOptions
from pydriver.analysis.run_analysis import target_fit_window


def test_adaptive_runs_share_one_fit_window_in_ps():
    opts = target_fit_window(AnalysisOptions(), {"min_hops": 100, "min_prod_ps": 6.0, "max_prod_ps": 8.0})
    assert (opts.fit_start_ps, opts.fit_end_ps) == pytest.approx((0.6, 3.0))  # default fractions 0.1-0.5 of 6 ps
    assert opts.active_lag_ps == pytest.approx(3.0)  # the active-Na lag too (default half of it)
    explicit = AnalysisOptions(fit_start_ps=1.0, fit_end_ps=2.0)
    assert target_fit_window(explicit, {"min_prod_ps": 6.0}) is explicit  # the user's window wins
    assert target_fit_window(AnalysisOptions(), None) == AnalysisOptions()  # fixed-length runs: fractions of the run
    custom = target_fit_window(AnalysisOptions(fit_fraction=(0.2, 0.6), active_lag_ps=1.5), {"min_prod_ps": 10.0})
    assert (custom.fit_start_ps, custom.fit_end_ps, custom.active_lag_ps) == pytest.approx((2.0, 6.0, 1.5))
