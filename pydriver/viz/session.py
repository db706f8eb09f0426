"""Write an OVITO session state (``.ovito``) that opens in the free OVITO desktop application.

Every modifier of :mod:`pydriver.viz` is one of OVITO's built-in modifiers (no Python script
modifier, which only OVITO Pro runs), so the saved pipeline opens ready in OVITO Basic: File > Load
Session State, or ``ovito pipeline.ovito``. The dump and density file are referenced by absolute
path; keep the run directory where it is, or use "Pick new file" on the pipeline's source.
"""

from __future__ import annotations

import logging
from pathlib import Path

import ovito

from pydriver.rundir import OVITO_SESSION_FILE
from pydriver.viz.scene import Scene

log = logging.getLogger(__name__)


def default_path(run_dir: str | Path) -> Path:
    """Where ``--session`` without a file name writes: ``RUN_DIR/pipeline.ovito``."""
    return Path(run_dir) / OVITO_SESSION_FILE


def write_session(scene: Scene, path: str | Path) -> Path:
    """Save the scene's pipelines as an ``.ovito`` session state file; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ovito.scene.pipelines.clear()
    for pipeline in scene.pipelines:
        pipeline.add_to_scene()
    ovito.scene.save(str(path.resolve()))
    log.info("wrote OVITO session state %s (%d pipelines)", path, len(scene.pipelines))
    return path
