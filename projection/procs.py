"""The one way the project runs a subprocess (Apertium, the eflomal binary).

* its own process group, so that a timeout or an interrupt ends the whole pipeline it starts
  (``apertium`` is a shell script running ``lt-proc`` and friends), not only its first process;
* on Linux the command runs under a small ``sh`` guard that the kernel signals when the
  projection process dies (``PR_SET_PDEATHSIG``, kept across ``exec``), and that then kills the
  whole group: a ``kill -9`` of the projection process leaves neither the command nor its
  children running;
* a timeout, after which the group is killed and :class:`ProcessTimeout` is raised.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any


class ProcessTimeout(subprocess.TimeoutExpired):
    """The command ran past its timeout; its process group was killed."""


# The guard: stdin passed on explicitly (a background command would get /dev/null), the command
# run in the background so that `wait` can be interrupted by the TERM the kernel sends when the
# parent dies, and then the whole process group killed.
_GUARD = 'exec 3<&0; trap "kill -KILL 0" TERM; "$@" <&3 3<&- & child=$!; exec 3<&-; wait $child; exit $?'


def _guarded(cmd: list[str]) -> list[str]:
    if sys.platform.startswith("linux") and os.path.exists("/bin/sh"):
        return ["/bin/sh", "-c", _GUARD, "sh", *cmd]
    return cmd


def _die_with_parent(parent: int) -> Any:
    """A ``preexec_fn``: ask the kernel to send SIGTERM to the child (the guard) when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None

    def setup() -> None:
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return setup


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group of ``proc`` (started by :func:`run`) and reap ``proc``."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.kill()
    proc.wait()


def run(cmd: Sequence[str], *, input: bytes | None = None, timeout: float | None = None,
        env: Mapping[str, str] | None = None, capture_output: bool = True, check: bool = False,
        **ignored: Any) -> subprocess.CompletedProcess:
    """Like :func:`subprocess.run` (bytes in and out), in a new process group that dies with this
    process; on a timeout or an exception (Ctrl-C included) the whole group is killed."""
    pipe = subprocess.PIPE if capture_output else None
    proc = subprocess.Popen(_guarded(list(cmd)), stdin=subprocess.PIPE if input is not None else None, stdout=pipe, stderr=pipe,
                            env=dict(env) if env is not None else None, start_new_session=True,
                            preexec_fn=_die_with_parent(os.getpid()))
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise ProcessTimeout(list(cmd), timeout or 0.0) from None
    except BaseException:
        kill_group(proc)
        raise
    # the group may still hold children that outlived the command (a broken pipeline)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    res = subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)
    if check:
        res.check_returncode()
    return res


class _SubprocessShim:
    """A stand-in for the ``subprocess`` module of a library that calls ``subprocess.run``:
    its calls go through :func:`run` (process group, death with the parent)."""

    CalledProcessError = subprocess.CalledProcessError
    TimeoutExpired = subprocess.TimeoutExpired
    PIPE = subprocess.PIPE
    DEVNULL = subprocess.DEVNULL

    def run(self, args: Sequence[str], *, input: bytes | None = None, timeout: float | None = None,
            check: bool = False, capture_output: bool = False, **kwargs: Any) -> subprocess.CompletedProcess:
        return run(args, input=input, timeout=timeout, env=kwargs.get("env"), capture_output=capture_output,
                   check=check)

    def call(self, args: Sequence[str], **kwargs: Any) -> int:
        return self.run(args, **kwargs).returncode

    def check_call(self, args: Sequence[str], **kwargs: Any) -> int:
        return self.run(args, check=True, **kwargs).returncode


subprocess_shim = _SubprocessShim()


def descendants(pid: int) -> list[Any]:
    """Every process below ``pid`` (``psutil.Process`` objects, which know their start time, so a
    recycled pid is never mistaken for one of them); empty when ``pid`` is gone."""
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def reap(procs: Sequence[Any], grace_s: float = 3.0) -> None:
    """Wait up to ``grace_s`` for these processes to exit, then SIGKILL the ones still running."""
    import psutil

    _, alive = psutil.wait_procs(list(procs), timeout=grace_s)
    for p in alive:
        try:
            p.kill()  # psutil checks the pid still names the same process
        except psutil.Error:
            pass
