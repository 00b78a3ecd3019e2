"""Local sweep workers: one host process warms up once, then forks the K workers, each warm from its start.

A worker started as an interpreter of its own paid a cold start before its first trial: Python, Optuna and
SQLAlchemy, the engine, cirq (the native-compile cross-check imports ~2,500 modules), numba's cached kernels:
~5 s of CPU, and K workers paid it K times at once while the 1-worker sweep paid it once. The host
(`python -m engine.sweep`) imports all of that once, freezes it out of the garbage collector (no full
collection, and no interpreter teardown, walks it again) and forks: a forked worker starts in milliseconds.

Fork needs a process with no other thread and no open database connection at that moment: the host is a fresh
interpreter that never opens the storage itself (each worker opens its own after the fork). The parent starts
the host before it creates the study, so the warm-up overlaps the parent's own start-up; the job (JSON on
stdin, so a storage password never appears on a command line) follows once the study exists. Closing stdin
without a job ends the host quietly (the parent gave up, e.g. a refused space).

Signals: the host and its workers are a process group of their own, so the terminal's Ctrl-C and hangup reach
only the parent, which passes one SIGINT on to the group (`interrupt`) for each it gets. Before, they shared the
terminal's group: a SIGTERM or SIGHUP to the parent alone left the workers running the whole sweep while the
parent waited for them, and a Ctrl-C reached each worker once from the terminal, which a forwarded one would
have doubled (a second Ctrl-C abandons the step in flight). Ctrl+Z likewise reaches only the parent, which stops
the group with itself and continues it when it is continued (`stopped_with_this_process`). So the host takes
SIGINT as the interrupt even when it inherited it ignored (a sweep a script started with `&`): only the parent
sends it one, and ignored, the workers ran the whole sweep on after the parent's SIGTERM or SIGHUP.

Threads: K workers share the cores, so each gets cores // K of them (at least 1) for BLAS / OpenMP / numba
(environment of the host, set before numpy loads; a value the user set wins). QSTORE_SIM_THREADS carries the
same share for the simulator's chunk pool. The 1-worker sweep runs in the parent's process with every core for
its one trial.
"""

from __future__ import annotations

import gc
import importlib
import os
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .worker import WorkerJob

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
               "QSTORE_SIM_THREADS")
# What a trial imports (the engine's run, the storage, the sampler's maths); the SDK of the cross-check is added
# by name. A module that fails to import here is left to the trial, which reports it as a failed run.
WARM_MODULES = ("engine.session", "engine.sweep.objective", "engine.backends.local", "engine.backends.ionq",
                "engine.nativecheck", "engine.compiler.crosscheck", "engine.trainer", "engine.batch_runner",
                "engine.model", "engine.store", "engine.embeddings", "engine.mitigation", "engine.cache",
                "optuna.samplers", "optuna.pruners", "sqlalchemy.dialects.sqlite")
SDK_MODULES = {"cirq": ("cirq", "cirq_ionq"), "qiskit": ("qiskit", "qiskit.quantum_info")}


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def host_env(workers: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The host's environment: every thread pool sized to this worker's share of the cores."""
    env = dict(os.environ if base is None else base)
    share = str(threads_per_worker(workers))
    for var in THREAD_VARS:
        env.setdefault(var, share)
    return env


@dataclass
class WorkerHost:
    """The parent's handle on the host process: start it early, hand it the job, wait for its workers."""

    proc: subprocess.Popen[bytes]
    workers: int

    @classmethod
    def start(cls, workers: int, sdk: str | None = None) -> WorkerHost:
        args = [sys.executable, "-m", "engine.sweep"] + ([f"--warm={sdk}"] if sdk else [])
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, env=host_env(workers), process_group=0)
        return cls(proc, workers)

    @contextmanager
    def stopped_with_this_process(self) -> Iterator[None]:
        """While the parent waits: a Ctrl+Z (SIGTSTP) to it stops the host and every worker with it, and `fg`
        continues them. The group of their own keeps the terminal's Ctrl+Z from them too, so before, a suspended
        sweep's workers went on running every trial in the background. A SIGSTOP, not a SIGTSTP, for both: a
        stop signal of the terminal's is discarded in a process group that no shell job controls (a sweep
        started with setsid), and the one who sent it asked for the stop. Only the main thread sets handlers."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum: int, frame: object) -> None:
            self._signal_group(signal.SIGSTOP)
            os.kill(os.getpid(), signal.SIGSTOP)  # returns once continued (fg, or a SIGCONT)
            self._signal_group(signal.SIGCONT)

        previous = signal.signal(signal.SIGTSTP, stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGTSTP, previous)

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:  # every one of them has exited already
            pass

    def interrupt(self) -> None:
        """A Ctrl-C for the host and every worker: each worker's run stops at a checkpoint (a second one abandons
        the step in flight)."""
        self._signal_group(signal.SIGINT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, job: WorkerJob) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(job.to_json().encode())
            self.proc.stdin.close()
        except BrokenPipeError:  # the host died already: poll() says how
            pass

    def cancel(self) -> None:
        """No job after all: the host exits on the closed stdin (killed if it does not within 10 s)."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float | None = None) -> int | None:
        """The host's exit code; None when `timeout` passed first."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode


def warm_up(sdk: str | None) -> None:
    """Import what a trial imports and load numba's cached kernels, then freeze it all out of the collector."""
    for name in WARM_MODULES + SDK_MODULES.get(sdk or "", ()):
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # the trial that needs it fails with its own message
    from ..sim import statevector

    statevector.warm_up()  # numba's cache: ~0.5 s per process
    gc.freeze()  # no collect first: imports leave little garbage, and a full pass over them costs ~0.3 s


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code  # killed by signal N: 128 + N, as a shell says


def _end_with_host() -> None:
    """Linux: a worker gets SIGTERM if its host dies (killed), rather than run on unsupervised; its trial then stops
    beating and is retried like any killed worker's. Elsewhere the worker finishes its trials on its own."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:  # the host died before the call above
        os._exit(128 + signal.SIGTERM)


def run_forked(job: WorkerJob, workers: int) -> int:
    """Fork the workers and wait for them; the first failing worker's exit code, else 0."""
    from .worker import run_worker

    if threading.active_count() != 1:  # fork copies only this thread: refuse rather than risk a dead lock
        print(f"error: sweep host: {threading.active_count() - 1} extra thread(s) before fork; running one "
              "worker in this process", file=sys.stderr)
        return run_worker(job)
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker: its own storage connections, opened after the fork
            code = 1
            try:
                _end_with_host()
                code = run_worker(job)
            except BaseException:  # a bug: its traceback, as an unforked process would print it
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)  # the warm imports need no teardown
        pids.append(pid)
    # The parent's interrupt reaches every worker (one process group); the host waits for their runs to checkpoint.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    codes = [_exit_code(os.waitpid(pid, 0)[1]) for pid in pids]
    return next((c for c in codes if c != 0), 0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the parent's interrupt, even if inherited ignored
    sdk = next((a.split("=", 1)[1] for a in args if a.startswith("--warm=")), None)
    try:
        warm_up(sdk)
        text = sys.stdin.read()
    except KeyboardInterrupt:
        return 130
    if not text.strip():
        return 0  # the parent gave up before the study existed
    try:
        job = WorkerJob.from_json(text)
    except (ValueError, TypeError) as exc:
        print(f"error: sweep worker: bad job on stdin: {exc}", file=sys.stderr)
        return 2
    if job.workers <= 1:
        from .worker import run_worker

        return run_worker(job)
    if not hasattr(os, "fork"):
        print(f"error: workers: {job.workers} local workers need os.fork (Linux, macOS); use --workers 1 here "
              "and more machines with --join", file=sys.stderr)
        return 2
    return run_forked(job, job.workers)
