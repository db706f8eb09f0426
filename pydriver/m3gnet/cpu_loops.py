"""Inductor CPU code-generation rules that make one compiled package fast on any number of threads.

Why hand-written: Inductor's CPU code generator (torch 2.13) makes two choices that cost M3GNet's
compiled energy + gradient most of what a second thread could give (648-atom NaBH4, float32, 2 threads,
in-process: 464 ms with a one-thread package, 330 ms with these rules; 1536 atoms 1055 vs 753 ms):

* In the three-body density kernels it parallelises the 9-long reduction inside a serial loop over the
  short bonds: one OpenMP fork/join per bond, ~100 ms per call on 2 threads (6 ms serial). Rule: a
  parallel region never opens below a serial loop (such a loop nest runs serially).
* Sums over bonds (``index_add``) become ``atomic_add`` when a kernel is generated for more than one
  thread; with run-time thread counts (``cpp.dynamic_threads``) always. Rule: a loop nest that scatters
  runs serially with plain ``+=`` (it is a small part of the work), every other loop nest in parallel.
  With the first rule alone (scatters as parallel atomic adds) the same call took 527 ms instead of
  340 (1536 atoms: 1199 vs 839).

With ``cpp.dynamic_threads`` the parallel regions take the run's OpenMP thread count, which libtorch sets
(``at::set_num_threads``: LAMMPS's ``comm->nthreads``, ``torch.set_num_threads``), so the same package
serves one thread and many. The rules hook private Inductor classes (``torch._inductor.codegen.cpp``);
:func:`run_time_thread_loops` raises :class:`UnsupportedInductor` where they are missing (another torch),
and the compiler then builds a one-thread package instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Callable

import torch


class UnsupportedInductor(RuntimeError):
    """This torch's Inductor lacks the code-generation hooks the rules patch."""


def _scatters(kernel: Any) -> bool:
    """Whether a kernel (or the kernels of a proxy or an outer-loop-fused group) stores with atomic adds."""
    if getattr(kernel, "_m3gnet_scatter", False):
        return True
    if any(getattr(k, "_m3gnet_scatter", False) for k in getattr(kernel, "kernels", None) or []):
        return True
    return any(_scatters(nest.get_kernel()) for nest in getattr(kernel, "inner", None) or [])


def _plain_scatter_store(store: Callable, config: Any) -> Callable:
    """``store`` that writes ``atomic_add`` as ``+=`` (the kernel is then kept serial, see below)."""

    def patched(self: Any, name: str, index: Any, value: Any, mode: Any = None) -> Any:
        if mode != "atomic_add":
            return store(self, name, index, value, mode)
        self._m3gnet_scatter = True
        threads, dynamic = self.num_threads, config.cpp.dynamic_threads
        self.num_threads, config.cpp.dynamic_threads = 1, False  # Inductor's own rule for serial kernels
        try:
            return store(self, name, index, value, mode)
        finally:
            self.num_threads, config.cpp.dynamic_threads = threads, dynamic

    return patched


def _parallel_depth(decide: Callable, parallel_depth_type: type) -> Callable:
    """``decide_parallel_depth`` that keeps scattering and nested loop nests serial."""

    def patched(self: Any, max_parallel_depth: Any, threads: int) -> Any:
        serial = parallel_depth_type(parallel_depth=0, start_depth=max_parallel_depth.start_depth)
        if _scatters(self):
            return serial
        depth = decide(self, max_parallel_depth, threads)
        if depth.parallel_depth > 0 and depth.start_depth > 0:  # a region per iteration of an outer loop
            return parallel_depth_type(parallel_depth=0, start_depth=depth.start_depth)
        return depth

    return patched


#: the Inductor methods the rules patch, on every CppKernel subclass that defines its own
HOOKED = ("store", "decide_parallel_depth")


def hooked_methods(cpp: Any) -> dict[tuple[type, str], Callable]:
    """{(kernel class, method name): function} of the methods in :data:`HOOKED` that ``cpp``
    (``torch._inductor.codegen.cpp``) defines on its ``CppKernel`` classes."""
    kernels = [c for c in vars(cpp).values() if isinstance(c, type) and issubclass(c, cpp.CppKernel)]
    return {(c, name): vars(c)[name] for c in kernels for name in HOOKED if name in vars(c)}


@contextlib.contextmanager
def run_time_thread_loops() -> Iterator[None]:
    """Within this context Inductor generates CPU loops for the run's thread count under the rules above.

    Raises
    ------
    UnsupportedInductor
        On entry, if this torch's ``torch._inductor.codegen.cpp`` lacks a class or method patched here.
    """
    from torch._inductor import config  # noqa: PLC0415 (inductor: heavy, only when compiling)

    try:
        import torch._inductor.codegen.cpp as cpp  # noqa: PLC0415

        parallel_depth_type = cpp.ParallelDepth
        saved = hooked_methods(cpp)
        _ = config.cpp.dynamic_threads
    except (ImportError, AttributeError) as exc:
        raise UnsupportedInductor(f"torch {torch.__version__}: {exc}") from exc
    if {name for _, name in saved} != set(HOOKED):
        raise UnsupportedInductor(f"torch {torch.__version__}: no CppKernel.store / decide_parallel_depth")
    try:
        for (cls, name), fn in saved.items():
            setattr(cls, name, _plain_scatter_store(fn, config) if name == "store"
                    else _parallel_depth(fn, parallel_depth_type))
        with config.patch({"cpp.dynamic_threads": True}):
            yield
    finally:
        for (cls, name), fn in saved.items():
            setattr(cls, name, fn)
