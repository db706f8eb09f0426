"""Headless renders (Tachyon) checked by pixel statistics, movies, and the render CLI in-process."""

from __future__ import annotations

import ast
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pydriver.cli.main import main
from pydriver.viz import style
from pydriver.viz.run_files import locate
from pydriver.viz.scene import MODES, SceneOptions, build_scene

SIZE = (200, 150)
RENDERED = ("structure", "anions", "active", "density", "hops")


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=float) / 255.0


def _hue_deg(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HSV hue (degrees) and saturation of each pixel."""
    mx, mn = rgb.max(axis=2), rgb.min(axis=2)
    delta = np.where(mx > mn, mx - mn, 1.0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    hue = np.where(mx == r, (g - b) / delta % 6, np.where(mx == g, (b - r) / delta + 2, (r - g) / delta + 4)) * 60
    return hue, np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-9), 0.0)


def _isosurface_fraction(rgb: np.ndarray) -> float:
    """Fraction of saturated pixels with the isosurface's hue (yellow, 47 deg; B orange is 25 deg)."""
    hue, sat = _hue_deg(rgb)
    return float(np.mean((hue > 38) & (hue < 62) & (sat > 0.5) & (rgb.max(axis=2) > 0.4)))


@pytest.fixture(scope="module")
def renders(synthetic_run, tmp_path_factory):
    from pydriver.viz.render import render_image

    folder = tmp_path_factory.mktemp("renders")
    out = {}
    for what in RENDERED:
        scene = build_scene(locate(synthetic_run), SceneOptions(what=what, threshold_per_A3=0.05))
        out[what] = _pixels(render_image(scene, folder / f"{what}.png", SIZE, frame=5))
    return out


def test_renders_are_non_empty_and_differ(renders):
    for what, rgb in renders.items():
        assert rgb.shape == (SIZE[1], SIZE[0], 3)
        drawn = np.mean(rgb.sum(axis=2) < 2.9)  # not white background
        assert 0.02 < drawn < 0.9, (what, drawn)
    for i, a in enumerate(RENDERED):
        for b in RENDERED[i + 1:]:
            assert np.abs(renders[a] - renders[b]).mean() > 0.002, (a, b)


def test_density_render_has_the_isosurface_colour(renders):
    assert _isosurface_fraction(np.array([[style.ISOSURFACE_COLOR]])) == 1.0
    assert _isosurface_fraction(renders["density"]) > 0.005
    for what in ("structure", "anions", "hops"):
        assert _isosurface_fraction(renders[what]) < 0.2 * _isosurface_fraction(renders["density"]), what


def test_active_render_shows_active_and_inactive_colours(renders):
    rgb = renders["active"]
    red = np.mean((rgb[..., 0] > 0.5) & (rgb[..., 1] < 0.3 * rgb[..., 0]) & (rgb[..., 2] < 0.3 * rgb[..., 0]))
    assert red > 0.002  # the two active Na
    assert np.mean((renders["structure"][..., 0] > 0.5) & (renders["structure"][..., 1] < 0.15)) < red


def test_cli_renders_png_movie_and_session(synthetic_run, tmp_path):
    png, gif, state = tmp_path / "hops.png", tmp_path / "hops.gif", tmp_path / "hops.ovito"
    code = main(["-q", "render", str(synthetic_run), "--what", "hops", "-o", str(png), "--size", "160", "120",
                 "--movie", str(gif), "--frames", "0:3", "--session", str(state)])
    assert code == 0
    assert _pixels(png).shape == (120, 160, 3)
    with Image.open(gif) as movie:
        assert movie.n_frames == 4
    # the session state opens again, in a fresh process as in the desktop app (scene.load would also
    # leave this process without an active scene for later renders)
    code = ("import ovito; ovito.scene.load(%r); "
            "print([[type(m).__name__ for m in p.modifiers] for p in ovito.scene.pipelines])" % str(state))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    pipelines = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    assert len(pipelines) == 1
    assert "GenerateTrajectoryLinesModifier" in pipelines[0] and "PythonModifier" not in pipelines[0]


@pytest.mark.parametrize("args, message", [
    (["--what", "density", "--density-threshold-per-A3", "3"], "outside the density range"),
    (["--what", "hops", "--frame", "99"], "frame 99 outside the dump's frames 0..10"),
    (["--movie", "x.webm"], "suffix '.webm'"),
    (["--what", "hops", "--frames", "5"], "expected FIRST:LAST"),
])
def test_cli_errors_are_one_line(synthetic_run, tmp_path, capsys, args, message):
    code = main(["render", str(synthetic_run), "-o", str(tmp_path / "x.png"), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1] and err[-1].startswith("python -m pydriver render: error:")
    assert not (tmp_path / "x.png").exists()


def test_cli_without_analysis_and_without_dump(tmp_path, capsys):
    from .conftest import write_synthetic_run

    bare = write_synthetic_run(tmp_path / "bare", with_analysis_files=False)
    assert main(["render", str(bare), "--what", "active", "-o", str(tmp_path / "a.png")]) == 2
    assert "needs the analysis: no analysis.json" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["render", str(tmp_path / "empty"), "-o", str(tmp_path / "a.png")]) == 2
    assert "no dump file" in capsys.readouterr().err


def test_cli_modes_match_the_library():
    from pydriver.cli import render as cli_render

    assert cli_render.MODES == MODES


def test_cli_bare_dump_needs_types(synthetic_run, tmp_path, capsys):
    dump = tmp_path / "alone.lammpstrj"
    dump.write_text((synthetic_run / "dump.lammpstrj").read_text())
    assert main(["render", str(dump), "--what", "anions", "-o", str(tmp_path / "a.png")]) == 2
    assert "no element column and no run.json" in capsys.readouterr().err
    types = "1:Na 2:B_BH4 3:H_BH4 4:B_B12H12 5:H_B12H12"
    assert main(["-q", "render", str(dump), "--what", "anions", "--types", types, "-o", str(tmp_path / "a.png"),
                 "--size", "120", "90"]) == 0
    assert _pixels(tmp_path / "a.png").shape == (90, 120, 3)
