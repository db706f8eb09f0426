"""Render a scene headless to PNG, or a frame range to MP4/GIF, with OVITO's Tachyon ray tracer.

Tachyon is a software ray tracer built into the ``ovito`` module: it needs no display, no OpenGL
and no GPU. OVITO's ``OpenGLRenderer`` refuses to run without a graphics environment on such a
machine (measured: "cannot be used in headless mode"; with ``OVITO_GUI_MODE=1`` and Qt's
offscreen platform "Failed to create an OpenGL context"). ``ovito`` 3.16 and later render through
Vulkan, so they also need ``libvulkan1`` and a driver (e.g. Debian's ``mesa-vulkan-drivers``); we pin
``ovito<3.16`` to stay pip-only.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import ovito
from ovito.modifiers import GenerateTrajectoryLinesModifier
from ovito.vis import TachyonRenderer, Viewport

from pydriver.viz import style
from pydriver.viz.scene import Scene

log = logging.getLogger(__name__)

DEFAULT_SIZE = (640, 480)
#: viewing direction of the default camera (orthographic, slightly from above)
CAMERA_DIR = (-0.45, 1.0, -0.55)
MOVIE_SUFFIXES = (".mp4", ".gif", ".avi", ".mov")
#: Tachyon quality: ambient occlusion off keeps a 640x480 frame near a second on one core
ANTIALIASING_SAMPLES = 4
#: zoom_all leaves a wide margin; the field of view is narrowed by this factor
ZOOM = 1.15


def renderer() -> TachyonRenderer:
    """The headless renderer used for every image (no shadows: the cell edges would streak the atoms)."""
    return TachyonRenderer(ambient_occlusion=False, shadows=False, antialiasing_samples=ANTIALIASING_SAMPLES)


def _viewport(scene: Scene, size: tuple[int, int]) -> Viewport:
    ovito.scene.pipelines.clear()
    for pipeline in scene.pipelines:
        pipeline.add_to_scene()
    viewport = Viewport(type=Viewport.Type.Ortho, camera_dir=CAMERA_DIR)
    viewport.zoom_all(size)
    viewport.fov /= ZOOM
    return viewport


def render_image(scene: Scene, path: str | Path, size: tuple[int, int] = DEFAULT_SIZE, frame: int = 0) -> Path:
    """Render frame ``frame`` of ``scene`` to a PNG (or any image suffix OVITO knows).

    Raises
    ------
    ValueError
        If ``frame`` is outside the dump's frames.
    """
    _check_frame(frame, scene.n_frames)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    viewport = _viewport(scene, size)
    _run(lambda: viewport.render_image(size=size, filename=str(path), background=style.BACKGROUND,
                                       frame=frame, renderer=renderer()))
    log.info("rendered %s (%dx%d, frame %d) in %.1f s", path, *size, frame, time.perf_counter() - start)
    return path


def render_movie(scene: Scene, path: str | Path, frames: tuple[int, int], size: tuple[int, int] = DEFAULT_SIZE,
                 fps: int = 10) -> Path:
    """Render frames ``first..last`` (inclusive) to a movie; the suffix picks the format.

    Raises
    ------
    ValueError
        If the suffix is not a movie format or the frames are outside the dump.
    """
    path = Path(path)
    check_request(scene.n_frames, frames[0], path, frames)
    first, last = frames
    path.parent.mkdir(parents=True, exist_ok=True)
    _lines_grow_with_time(scene)
    start = time.perf_counter()
    viewport = _viewport(scene, size)
    _run(lambda: viewport.render_anim(filename=str(path), size=size, background=style.BACKGROUND, fps=fps,
                                      range=(first, last), renderer=renderer()))
    log.info("rendered %s (%d frames) in %.1f s", path, last - first + 1, time.perf_counter() - start)
    return path


def _lines_grow_with_time(scene: Scene) -> None:
    """In a movie, trajectory lines are drawn up to the current frame (stills show them whole)."""
    for pipeline in scene.pipelines:
        for mod in pipeline.modifiers:
            if isinstance(mod, GenerateTrajectoryLinesModifier):
                mod.vis.upto_current_time = True


def check_request(n_frames: int, frame: int = 0, movie: str | Path | None = None,
                  frames: tuple[int, int] | None = None) -> None:
    """Check an image frame and a movie request before anything is rendered.

    Raises
    ------
    ValueError
        If a frame is outside ``0..n_frames-1``, the movie range is reversed or its suffix unknown.
    """
    _check_frame(frame, n_frames)
    if movie is not None:
        if Path(movie).suffix.lower() not in MOVIE_SUFFIXES:
            raise ValueError(f"--movie {movie}: suffix {Path(movie).suffix!r}; use one of {', '.join(MOVIE_SUFFIXES)}")
    if frames is not None:
        first, last = frames
        _check_frame(first, n_frames)
        _check_frame(last, n_frames)
        if last < first:
            raise ValueError(f"--frames {first}:{last}: last frame before the first")


def _check_frame(frame: int, n_frames: int) -> None:
    if not 0 <= frame < n_frames:
        raise ValueError(f"frame {frame} outside the dump's frames 0..{n_frames - 1}")


def _run(call) -> None:
    """Run an OVITO render call; a missing Vulkan (ovito >= 3.16) becomes one actionable line."""
    try:
        call()
    except RuntimeError as exc:
        if "Vulkan" in str(exc):
            raise RuntimeError(f"ovito {ovito.version_string} renders through Vulkan, which this machine lacks: "
                               "install ovito<3.16 (pip) or libvulkan1 + mesa-vulkan-drivers") from exc
        raise
