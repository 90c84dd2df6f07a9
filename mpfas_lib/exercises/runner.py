"""The grader's helper process: execute one prepared submission and hand back its answers.

Started by :mod:`mpfas_lib.exercises.grade` as ``python -P -m mpfas_lib.exercises.runner``
(``-P``: the current folder never shadows an installed package), it reads one job from its
standard input (with a per-run secret), executes the notebook in a kernel whose standard
streams go nowhere, keeps only the outputs of the grader's export cells, and prints one line:
the secret and a JSON report. The student's kernel cannot write that line: it does not hold
the pipe, and this process is made non-dumpable so that ``/proc`` does not give it away. The
process is its children's subreaper, so every process the kernel starts (even one that left
its session) is found and killed when the notebook ends or its time is up.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import subprocess
import sys
import time

import nbformat

from mpfas_lib.exercises.answers import MIME

KERNEL_NAME = "mpfas-grade"  # the kernelspec the grader writes for each run
_PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER = 4, 36


def _harden() -> None:
    """Not dumpable (no /proc access to our pipes and memory); reaper of orphaned children."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _descendants(root: int) -> list[int]:
    """Live processes below ``root`` (from /proc; zombies are left to the reaping)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_descendants() -> int:
    """SIGKILL every process below this one until none is left; how many were killed."""
    killed = set()
    for _ in range(50):
        alive = _descendants(os.getpid())
        if not alive:
            break
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        _reap()
        time.sleep(0.02)
    _reap()
    return len(killed)


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _client(nb: nbformat.NotebookNode, export: set[int], cwd: str):
    from nbclient import NotebookClient

    class Client(NotebookClient):
        """Drops every output except the export cells' answers; counts error outputs."""

        def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001
            content = msg.get("content", {})
            if msg["msg_type"] == "error":
                self.errors.setdefault(cell_index, f"{content.get('ename')}: "
                                                   f"{str(content.get('evalue'))[:200]}")
            elif cell_index in export and msg["msg_type"] in ("display_data",
                                                                "execute_result"):
                payload = content.get("data", {}).get(MIME)
                if isinstance(payload, dict):
                    self.answers[cell_index] = payload
            return None

    client = Client(nb, timeout=None, allow_errors=True, kernel_name=KERNEL_NAME,
                    resources={"metadata": {"path": cwd}}, shutdown_kernel="immediate")
    client.answers, client.errors = {}, {}
    return client


def run(job: dict) -> dict:
    """Execute the job's notebook within its time limit; the report (answers, errors, status)."""
    nb = nbformat.read(job["notebook"], as_version=4)
    client = _client(nb, set(job["export_cells"]), os.path.dirname(job["notebook"]))
    status = "ok"

    async def execute() -> str:
        task = asyncio.ensure_future(client.async_execute(stdout=subprocess.DEVNULL,
                                                          stderr=subprocess.DEVNULL))
        done, _ = await asyncio.wait({task}, timeout=job["timeout"])
        if done:
            task.result()  # raises what the execution raised
            return "ok"
        kill_descendants()  # the kernel first: a cell holding the GIL ignores interrupts
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return "timeout"

    try:
        status = asyncio.run(execute())
    except Exception as err:  # a dead kernel or a kernel that never started
        status = f"kernel failed ({type(err).__name__}: {str(err)[:200]})"
    finally:
        kill_descendants()
    return {"status": status, "answers": {str(k): v for k, v in client.answers.items()},
            "errors": {str(k): v for k, v in client.errors.items()}}


def main() -> int:
    """Read the job from standard input; print the secret and the report on one line."""
    job = json.loads(sys.stdin.readline())
    _harden()
    report = run(job)
    sys.stdout.write(job["secret"] + json.dumps(report) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
