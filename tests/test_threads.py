"""One math-library thread per harness process unless the user asks for more (harness/threads.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness import threads
from harness.cli import main as cli_main

# what a fresh process reports: the threads of each math library loaded (numpy's OpenBLAS, and
# torch's OpenMP when torch is there)
PROBE = """
import json, sys
order = sys.argv[1]
if order == "numpy-first":
    import numpy
    import harness
    harness.threads.limit_loaded_math_threads()
else:
    import harness, numpy
import numpy as np
np.ones((300, 300)) @ np.ones((300, 300))          # OpenBLAS's pool started
import scipy.linalg                                # scipy's own OpenBLAS, loaded after harness
scipy.linalg.solve(np.eye(300), np.ones(300))
from threadpoolctl import threadpool_info
threads = {}   # the most threads of any library of each kind (numpy, scipy, torch: an OpenBLAS each)
for d in threadpool_info():
    threads[d["internal_api"]] = max(threads.get(d["internal_api"], 0), d["num_threads"])
print(json.dumps(threads))
"""


def _probe(order: str, **env: str) -> dict[str, int]:
    base = {k: v for k, v in os.environ.items() if k not in threads.MATH_THREAD_VARS and k != threads.KNOB}
    out = subprocess.run([sys.executable, "-c", PROBE, order], env={**base, **env}, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@pytest.mark.parametrize("order", ["harness-first", "numpy-first"])
def test_one_math_thread_by_default(order, cores):
    if cores < 2:
        pytest.skip("one core: OpenBLAS runs one thread anyway")
    info = _probe(order)
    assert info.get("openblas") == 1, info


def test_knob_asks_for_more(cores):
    if cores < 2:
        pytest.skip("one core: OpenBLAS caps its threads at the cores")
    assert _probe("harness-first", AVHARNESS_MATH_THREADS="2")["openblas"] == 2
    assert _probe("numpy-first", AVHARNESS_MATH_THREADS="2")["openblas"] == 2


def test_users_own_library_variable_wins(cores):
    if cores < 2:
        pytest.skip("one core: OpenBLAS caps its threads at the cores")
    assert _probe("harness-first", OPENBLAS_NUM_THREADS="2")["openblas"] == 2
    # numpy loaded first with the user's variable: the harness changes nothing afterwards
    assert _probe("numpy-first", OPENBLAS_NUM_THREADS="2")["openblas"] == 2


def test_defaults_stand_back_for_any_user_variable():
    env: dict[str, str] = {}
    assert threads.default_math_threads(env) == list(threads.MATH_THREAD_VARS)
    assert all(env[v] == "1" for v in threads.MATH_THREAD_VARS)
    env = {"OMP_NUM_THREADS": "2"}
    assert threads.default_math_threads(env) == [] and env == {"OMP_NUM_THREADS": "2"}
    env = {threads.KNOB: "3"}
    threads.default_math_threads(env)
    assert env["OPENBLAS_NUM_THREADS"] == "3"


def test_users_omp_variable_reaches_torch(cores):
    pytest.importorskip("torch")
    if cores < 2:
        pytest.skip("one core")
    base = {k: v for k, v in os.environ.items() if k not in threads.MATH_THREAD_VARS and k != threads.KNOB}
    code = "import harness, torch; print(torch.get_num_threads())"
    got = subprocess.run([sys.executable, "-c", code], env={**base, "OMP_NUM_THREADS": "2"},
                         check=True, capture_output=True, text=True).stdout.split()[-1]
    assert got == "2"
    got = subprocess.run([sys.executable, "-c", code], env=base, check=True, capture_output=True,
                         text=True).stdout.split()[-1]
    assert got == "1"


@pytest.mark.parametrize("bad", ["0", "-2", "two", ""])
def test_bad_knob_is_a_clear_error(bad, capsys, monkeypatch):
    monkeypatch.setenv(threads.KNOB, bad)
    with pytest.raises(threads.MathThreadsError, match="AVHARNESS_MATH_THREADS.*positive integer.*fix"):
        threads.math_threads()
    code = cli_main(["analyze", "/nonexistent.wav"])
    assert code == 2
    err = capsys.readouterr().err
    assert "AVHARNESS_MATH_THREADS" in err and "fix" in err


def test_this_pytest_run_has_one_math_thread(cores):
    # the plugin (pytest_configure) limits what was loaded before it
    if cores < 2 or any(v in os.environ and v not in threads.SET_AT_IMPORT for v in threads.MATH_THREAD_VARS):
        pytest.skip("one core, or the user chose the math threads")
    from threadpoolctl import threadpool_info
    assert max(d["num_threads"] for d in threadpool_info() if d["internal_api"] == "openblas") == 1
