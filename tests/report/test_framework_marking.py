"""Runs whose framework is not solid are marked in the report tables; active fractions carry intervals."""

import json

from pydriver.report.markdown import framework_mark
from pydriver.report.rows import run_row
from tests.report.test_report import sigma, write_analysis


def mark_run(folder, solid, reason=None, rate=None):
    path = folder / "analysis.json"
    data = json.loads(path.read_text())
    data["diagnostics"].update(framework_solid=solid, framework_reason=reason)
    data["active"].update(fraction_msd_21A2=0.25, fraction_msd_21A2_ci68=[0.18, 0.33])
    if rate is not None:
        data["active"].update(fraction_d_threshold=rate, fraction_d_threshold_ci68=[rate - 0.1, rate + 0.1])
    data["thermo"] = {"equilibrated_from_ps": 1.5, "drift_warnings": ["volume still drifts in production"]}
    path.write_text(json.dumps(data))
    return path


def test_rows_carry_the_framework_check_and_both_active_fractions(tmp_path):
    write_analysis(tmp_path / "T700", 700.0, {"BH4": 1.0}, sigma(700.0))
    row = run_row(mark_run(tmp_path / "T700", False, "volume changed by 26 %", rate=0.5))
    assert row["framework_solid"] is False and row["framework_reason"] == "volume changed by 26 %"
    assert row["active_fraction"] == 0.25 and row["active_fraction_ci68"] == [0.18, 0.33]
    assert row["active_fraction_d_threshold"] == 0.5 and row["active_fraction_d_threshold_ci68"] == [0.4, 0.6]
    assert row["equilibrated_from_ps"] == 1.5
    assert framework_mark(row) == "**no**: volume changed by 26 %"


def test_older_analyses_read_as_unknown(tmp_path):
    write_analysis(tmp_path / "T500", 500.0, {"BH4": 1.0}, sigma(500.0))
    row = run_row(tmp_path / "T500" / "analysis.json")
    assert row["framework_solid"] is None and row["active_fraction"] == 0.5
    assert row["active_fraction_ci68"] is None and row["active_fraction_d_threshold"] is None
    assert framework_mark(row).startswith("unknown")


def test_report_marks_runs_whose_framework_is_not_solid(tmp_path):
    from pydriver.report import build_report

    for t in (500.0, 600.0, 700.0):
        write_analysis(tmp_path / "runs" / f"T{t:g}", t, {"BH4": 1.0, "B12H12": 1.0}, sigma(t))
        mark_run(tmp_path / "runs" / f"T{t:g}", t < 700, None if t < 700 else "cell length b changed by 46 %", 0.5)
    build_report([tmp_path / "runs"], tmp_path / "rep", n_bootstrap=50)
    md = (tmp_path / "rep" / "report.md").read_text()
    row_700 = next(line for line in md.splitlines() if "| unscaled | 700 |" in line)
    assert row_700.endswith("| 0.25 [0.18, 0.33] | 0.50 [0.40, 0.60] | **no**: cell length b changed by 46 % |")
    row_600 = next(line for line in md.splitlines() if "| unscaled | 600 |" in line)
    assert row_600.endswith("| solid |")
    assert "Equilibration warnings:" in md and "volume still drifts in production" in md
