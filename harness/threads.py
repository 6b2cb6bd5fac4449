"""One math-library thread per harness process, unless the user asks for more.

The detectors stream: each call multiplies, transforms or filters one chunk (a second of
audio, a frame), and the parallelism of a run comes from the capture threads and the
detectors side by side, not from inside one small matrix product.  OpenBLAS (numpy, scipy)
and OpenMP (torch) start a thread per core by default and spin them for every product; with
the cores already busy (capture, video detectors, a second job on a shared runner) those
threads fight the work they are meant to speed up.  Measured on a 2-core box with two other
busy processes: the whole audio suite over 180 s of music took 5.27 s with the libraries'
defaults (the hum detector's one small complex product a hop: 8.3 s under cProfile, 0.06 s
alone) and 0.92 s with one thread each (``benchmarks/audio_detectors.py`` pins one thread
and does not see it).

:func:`default_math_threads` runs when :mod:`harness` is imported: it sets
``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``NUMEXPR_NUM_THREADS``
to ``AVHARNESS_MATH_THREADS`` (default 1) unless the user set one of them, which every library
loaded afterwards reads.  :func:`limit_loaded_math_threads` (run at the same import, and again by
the CLI and the pytest plugin, which stop with a clear error on a bad knob) does the same for
libraries loaded before :mod:`harness` (a script that imported numpy first), through
``threadpoolctl``.  A variable the user set wins: the harness then sets and limits nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, MutableMapping

MATH_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
KNOB = "AVHARNESS_MATH_THREADS"


class MathThreadsError(ValueError):
    """``AVHARNESS_MATH_THREADS`` is not a positive integer."""


def math_threads(environ: MutableMapping[str, str] = os.environ) -> int:
    """Threads per math library the harness wants (``AVHARNESS_MATH_THREADS``, default 1)."""
    raw = environ.get(KNOB, "1").strip()
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise MathThreadsError(f"environment variable {KNOB}={raw!r}: the number of threads each math "
                               f"library (OpenBLAS, OpenMP) may use, a positive integer "
                               f"(fix: unset it for 1, or e.g. {KNOB}=2)")
    return n


def default_math_threads(environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """Set :data:`MATH_THREAD_VARS`, unless the user set any of them (then none: torch, for one,
    takes the smaller of ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS``, so filling in the others
    would overrule the user's choice); returns those it set."""
    try:
        n = math_threads(environ)
    except MathThreadsError:
        return []          # reported by limit_loaded_math_threads, where it can be shown
    if any(var in environ for var in MATH_THREAD_VARS):
        return []
    chosen = list(MATH_THREAD_VARS)
    for var in chosen:
        environ[var] = str(n)
    return chosen


def limit_loaded_math_threads(environ: MutableMapping[str, str] = os.environ,
                              set_by_harness: Collection[str] | None = None) -> int | None:
    """Limit the math libraries already loaded in this process to :func:`math_threads` threads,
    unless the user set their own variables (then nothing changes).  ``set_by_harness``: the
    variables :func:`default_math_threads` set (default: those it set when :mod:`harness` was
    imported).  Returns the limit applied, ``None`` where none was (the user's choice, or
    ``threadpoolctl`` missing)."""
    n = math_threads(environ)
    ours = SET_AT_IMPORT if set_by_harness is None else tuple(set_by_harness)
    if any(var in environ and var not in ours for var in MATH_THREAD_VARS):
        return None
    if not any(name in sys.modules for name in ("numpy", "scipy", "torch")):
        return n             # nothing loaded yet: the environment variables hold for all of them
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:      # the environment variables still hold for libraries loaded later
        return None
    threadpool_limits(limits=n)
    return n


# the variables default_math_threads set when harness was imported (harness/__init__.py)
SET_AT_IMPORT: tuple[str, ...] = ()
