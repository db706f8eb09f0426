"""The Inductor code-generation rules of :mod:`pydriver.m3gnet.cpu_loops` (their effect on a real package
is checked in ``test_compiled.py``): patched only inside the context, restored after it, and a torch
without the hooks is reported, not half-patched."""

from __future__ import annotations

import pytest
import torch._inductor.codegen.cpp as cpp
from torch._inductor import config

from pydriver.m3gnet.cpu_loops import UnsupportedInductor, hooked_methods, run_time_thread_loops


def _methods() -> dict[tuple[type, str], object]:
    return hooked_methods(cpp)


def test_rules_apply_inside_the_context_only():
    before = _methods()
    assert any(n == "store" for _, n in before) and any(n == "decide_parallel_depth" for _, n in before)
    dynamic = config.cpp.dynamic_threads
    with run_time_thread_loops():
        inside = _methods()
        assert config.cpp.dynamic_threads is True
        assert all(inside[k] is not before[k] for k in before)
    assert _methods() == before
    assert config.cpp.dynamic_threads == dynamic


def test_rules_restore_the_methods_when_compiling_fails():
    before = _methods()
    with pytest.raises(RuntimeError, match="compile failed"), run_time_thread_loops():
        raise RuntimeError("compile failed")
    assert _methods() == before


def test_torch_without_the_hooks_is_reported(monkeypatch):
    monkeypatch.delattr(cpp, "ParallelDepth")
    before = _methods()
    with pytest.raises(UnsupportedInductor, match="ParallelDepth"), run_time_thread_loops():
        pass
    assert _methods() == before
