"""Worker processes that do not outlive their parent.

``index`` and ``prepare`` decode in ``spawn`` worker processes. If the parent is killed (SIGKILL,
out-of-memory killer, the app crashing), nothing would otherwise tell the workers: they would sit
on hundreds of MB each, and a ``prepare`` worker would go on writing a shard under a restarted run.
:func:`die_with_parent`, called first thing in a worker's initializer, makes the worker end itself:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker the moment its parent
  dies, even while the worker is busy in C code. (The kernel ties this to the parent *thread* that
  started the worker; the pools here are created and shut down within one call on one thread.)
* everywhere, a daemon thread that waits on the parent's sentinel (the pipe multiprocessing keeps
  open from the parent; it reads EOF when the parent is gone) and, failing that, polls the parent
  pid; it ends the process with ``os._exit``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_S = 0.5  # parent-pid polling interval when there is no sentinel
EXIT_CODE = 1


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the Linux kernel to send ``sig`` to this process when its parent dies; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _parent_alive(parent_pid: int) -> bool:
    # reparenting (to init or a subreaper) is the sign: the pid itself could be reused
    return os.getppid() == parent_pid


def _watch(parent_pid: int, sentinel: int | None) -> None:
    if sentinel is not None:
        from multiprocessing.connection import wait

        try:
            wait([sentinel])  # returns when the parent's end of the pipe closes: it has exited
        except (OSError, ValueError):
            pass
        else:
            os._exit(EXIT_CODE)
    while _parent_alive(parent_pid):
        threading.Event().wait(POLL_S)
    os._exit(EXIT_CODE)


def die_with_parent() -> None:
    """End this worker process as soon as its parent process dies (see the module docstring)."""
    import multiprocessing

    set_parent_death_signal()
    parent = multiprocessing.parent_process()
    parent_pid = parent.pid if parent is not None and parent.pid else os.getppid()
    sentinel = getattr(parent, "sentinel", None) if parent is not None else None
    if not _parent_alive(parent_pid):  # the parent died before the signal was armed (we were re-parented)
        os._exit(EXIT_CODE)
    threading.Thread(target=_watch, args=(parent_pid, sentinel), name="foley-lifeline", daemon=True).start()
