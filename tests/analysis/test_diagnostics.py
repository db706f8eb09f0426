"""Numbers that say when they mean nothing: diffusive-regime diagnostics and the measured temperature."""

import json
import logging

import numpy as np
import pytest

from pydriver.analysis import AnalysisOptions, analyze_run
from pydriver.analysis.diagnostics import DiffusiveCriteria, choose_temperature, diffusive_diagnostics, loglog_slope
from pydriver.analysis.diffusion import nernst_einstein_conductivity_mS_cm
from pydriver.analysis.run_inputs import production_thermo
from pydriver.analysis.synthetic import random_walk, write_lammps_dump

N_NA, N_FRAMES, DT_PS, EVERY = 24, 200, 0.001, 100
TYPES = [{"type": 1, "label": "Na", "element": "Na", "anion": None, "mass_amu": 22.98977},
         {"type": 2, "label": "Cl", "element": "Cl", "anion": None, "mass_amu": 35.45}]


def make_run(folder, positions, temperature_K=500.0, log_temps=None):
    folder.mkdir(parents=True)
    n = positions.shape[1]
    types = np.array([1] * N_NA + [2] * (n - N_NA))
    write_lammps_dump(folder / "dump.lammpstrj", positions, types, steps=2000 + np.arange(N_FRAMES) * EVERY)
    run = {"format": "pydriver-run/1", "formula": f"Na{N_NA}Cl{n - N_NA}", "types": TYPES,
           "temperature_K": temperature_K, "dt_ps": DT_PS, "production_start_step": 2000}
    (folder / "run.json").write_text(json.dumps(run))
    if log_temps is not None:  # equilibration block at the set point, then the production block
        equil = "\n".join(f"{s} {temperature_K:.1f} 1.0 8000.0" for s in range(0, 2000, 500))
        prod = "\n".join(f"{2000 + 100 * k} {t:.3f} 1.0 8000.0" for k, t in enumerate(log_temps))
        (folder / "log.lammps").write_text(f"Step Temp Press Volume\n{equil}\nLoop time of 1.0\n"
                                           f"Step Temp Press Volume\n{prod}\nLoop time of 2.0\n")


def sites(seed):
    return np.random.default_rng(seed).uniform(0, 20, (N_NA + 8, 3))


def test_loglog_slope_of_power_laws():
    t = np.linspace(0.1, 10, 50)
    assert loglog_slope(t, 3 * t) == pytest.approx(1.0)
    assert loglog_slope(t, 0.5 * t**2) == pytest.approx(2.0)
    assert np.isnan(loglog_slope(t, np.zeros_like(t)))


def test_caged_run_is_not_diffusive_and_flagged(tmp_path):
    rng = np.random.default_rng(0)
    caged = sites(0)[None] + rng.normal(0, 0.3, (N_FRAMES, N_NA + 8, 3))  # rattling on sites, MSD ~0.5 A^2
    make_run(tmp_path / "caged", caged)
    res = analyze_run(tmp_path / "caged", AnalysisOptions(plots=False, max_frames=10))
    diag = res["diagnostics"]
    assert diag["diffusive"] is False
    assert diag["loglog_slope"] < 0.2 and diag["msd_end_of_window_A2"] == pytest.approx(0.54, rel=0.2)
    assert diag["reason"].startswith("D not resolved from zero: D / std = ") and diag["d_resolved"] is False
    assert "reported as an upper bound" in diag["reason"]
    assert res["transport"]["bound"] == "upper" and "excluded from Arrhenius fits" in res["transport"]["flag"]
    assert res["active"]["active_fraction"] == 0.0


def test_diffusive_run_passes_and_criteria_are_overridable(tmp_path):
    walk = random_walk(N_FRAMES, N_NA + 8, 4e-4, EVERY * DT_PS, seed=1, start_A=sites(1))
    walk[:, N_NA:] = walk[0, N_NA:]  # framework at rest
    make_run(tmp_path / "run", walk)
    res = analyze_run(tmp_path / "run", AnalysisOptions(plots=False, max_frames=10))
    assert res["diagnostics"]["diffusive"] is True and res["diagnostics"]["reason"] is None
    assert 0.8 < res["diagnostics"]["loglog_slope"] < 1.2 and res["transport"]["bound"] is None
    strict = analyze_run(tmp_path / "run", AnalysisOptions(plots=False, max_frames=10, diffusive_min_msd_A2=1e4),
                         write=False)
    assert strict["diagnostics"]["diffusive"] is False
    assert strict["diagnostics"]["criteria"] == {"min_loglog_slope": None, "max_loglog_slope": None, "min_msd_A2": 1e4}
    assert "A^2 < 10000 A^2 (--diffusive-min-msd)" in strict["diagnostics"]["reason"]
    sloped = analyze_run(tmp_path / "run", AnalysisOptions(plots=False, max_frames=10,
                                                           diffusive_slope_range=(1.5, 2.0)), write=False)
    assert "outside 1.5-2.0 (sub-diffusive or caged)" in sloped["diagnostics"]["reason"]


def test_measured_temperature_used_for_nernst_einstein_with_warning(tmp_path, caplog):
    walk = random_walk(N_FRAMES, N_NA + 8, 4e-4, EVERY * DT_PS, seed=2, start_A=sites(2))
    temps = 409.0 + np.random.default_rng(3).normal(0, 12, N_FRAMES)
    make_run(tmp_path / "run", walk, temperature_K=500.0, log_temps=temps)
    with caplog.at_level(logging.WARNING):
        res = analyze_run(tmp_path / "run", AnalysisOptions(plots=False, max_frames=10))
    tr, run = res["transport"], res["run"]
    assert run["set_temperature_K"] == 500.0
    assert run["measured_temperature_K"] == pytest.approx(temps.mean(), abs=1e-3)
    assert run["measured_temperature_std_K"] == pytest.approx(temps.std(ddof=1), abs=1e-3)
    assert tr["temperature_K"] == pytest.approx(temps.mean(), abs=1e-3) and tr["temperature_source"] == "measured"
    expected = nernst_einstein_conductivity_mS_cm(tr["diffusivity_cm2_s"], N_NA, tr["mean_volume_A3"],
                                                  temps.mean())
    assert tr["conductivity_mS_cm"] == pytest.approx(expected, rel=1e-4)
    assert "differs from the set point 500 K by 1" in caplog.text and len(res["warnings"]) >= 1


def test_choose_temperature_rules():
    assert choose_temperature(500.0, {}) == (500.0, "set point", None)
    assert choose_temperature(500.0, {"thermo_temperature_K": 490.0}) == (490.0, "measured", None)
    t, source, warning = choose_temperature(500.0, {"thermo_temperature_K": 409.0})
    assert (t, source) == (409.0, "measured") and "18.2% (> 3%)" in warning


def test_production_thermo_selects_production_rows(tmp_path):
    log = tmp_path / "log.lammps"
    log.write_text("Step Temp Volume\n0 300 10\n100 310 10\nLoop time\nStep Temp Volume\n100 400 12\n200 420 14\n"
                   "Loop time\n")
    assert production_thermo(log, 100)["thermo_temperature_K"] == pytest.approx(410.0)  # step 100 counted once
    assert production_thermo(log)["thermo_volume_A3"] == pytest.approx(13.0)  # default: last block
    assert production_thermo(tmp_path / "missing") == {}


def test_diagnostics_criteria_validation():
    with pytest.raises(ValueError, match="must be 0 < low < high"):
        DiffusiveCriteria(1.2, 0.8)
    out = diffusive_diagnostics(np.arange(10.0), 30 * np.arange(10.0), 1.0, 9.0, 0.7)
    assert out["diffusive"] and out["msd_end_of_window_A2"] == 270.0


def test_production_thermo_lattice_parameters_of_a_triclinic_box(tmp_path):
    """Box columns -> a, b, c, alpha, beta, gamma: exact against ASE's cellpar of the same cells."""
    from ase.geometry import cell_to_cellpar, cellpar_to_cell

    pars = np.array([[6.9, 10.4, 7.1, 88.0, 91.0, 92.5], [7.0, 10.5, 7.2, 89.0, 91.4, 90.5]])
    rows = []
    for i, par in enumerate(pars):
        cell = cellpar_to_cell(par)  # a along x, b in the xy plane: LAMMPS's restricted triclinic form
        rows.append(f"{100 * (i + 1)} {cell[0, 0]} {cell[1, 1]} {cell[2, 2]} {cell[1, 0]} {cell[2, 0]} {cell[2, 1]}")
        assert np.allclose(cell_to_cellpar(cell), par)
    log = tmp_path / "log.lammps"
    log.write_text("Step Lx Ly Lz Xy Xz Yz\n" + "\n".join(rows) + "\nLoop time\n")
    thermo = production_thermo(log)
    assert thermo["thermo_cell_lengths_A"] == pytest.approx(pars[:, :3].mean(axis=0), abs=1e-9)
    assert thermo["thermo_cell_angles_deg"] == pytest.approx(pars[:, 3:].mean(axis=0), abs=1e-9)
    assert thermo["thermo_cell_lengths_std_A"] == pytest.approx(pars[:, :3].std(axis=0, ddof=1), abs=1e-9)
    log.write_text("Step Temp\n0 300\nLoop time\n")
    assert "thermo_cell_lengths_A" not in production_thermo(log)


def test_msd_plot_flag_is_not_covered_by_the_legend_or_curves(tmp_path):
    """The 'not diffusive' flag sat under the legend in the study's plots; it now sits between title and axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pydriver.analysis import plots

    captured = {}
    real_save = plots.save_figure

    def keep(fig, path, plt_module):
        fig.canvas.draw()
        ax = fig.axes[0]
        renderer = fig.canvas.get_renderer()
        captured["flag"] = next(t for t in ax.texts if "upper bound" in t.get_text()).get_window_extent(renderer)
        captured["legend"] = ax.get_legend().get_window_extent(renderer)
        captured["axes"] = ax.get_window_extent(renderer)
        captured["title"] = ax.title.get_window_extent(renderer)
        return real_save(fig, path, plt_module)

    lag = np.linspace(0, 8, 200)
    msd = {f"X{i}_A": 0.5 * i * lag for i in range(5)} | {"Na": 3 + 2 * lag}
    plots.save_figure = keep
    try:
        plots.plot_msd(tmp_path / "msd.png", lag, msd, 0.8, 4.0, 2e-5, title="o-NBH, 700 K",
                       flag="not diffusive: D is an upper bound")
    finally:
        plots.save_figure = real_save
    plt.close("all")
    flag = captured["flag"]
    assert not flag.overlaps(captured["legend"]) and not flag.overlaps(captured["title"])
    assert flag.y0 >= captured["axes"].y1 - 1  # above the plotting area: no curve can cross it
    assert (tmp_path / "msd.png").stat().st_size > 10_000


def test_a_fit_window_in_free_flight_is_not_diffusive():
    """MSD = <v^2> t^2 (a run of a few hundred fs: every ion's D 'resolved', no ion left its site)."""
    t = np.linspace(0.0, 0.25, 251)
    v2 = 3 * 1.380649e-23 * 500 / (22.98977 * 1.66054e-27) * 1e-4  # Na at 500 K, A^2/ps^2
    msd = v2 * t**2
    sel = (t >= 0.025) & (t <= 0.125)
    slope, offset = np.polyfit(t[sel], msd[sel], 1)
    d = diffusive_diagnostics(t, msd, 0.025, 0.125, 0.0, resolved=True, msd_offset_A2=offset)
    assert offset < 0 and d["loglog_slope"] == pytest.approx(2.0, abs=0.05)
    assert d["ballistic_window"] and not d["diffusive"] and "ballistic regime" in d["reason"]
    # diffusion with a vibrational plateau: never taken for free flight
    diffusive = 0.5 + 6 * 0.01 * t
    d = diffusive_diagnostics(t, diffusive, 0.025, 0.125, 0.0, resolved=True, msd_offset_A2=0.5)
    assert not d["ballistic_window"] and d["diffusive"] and d["reason"] is None
