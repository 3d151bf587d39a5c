"""The explorer's slow jobs (derive, Monte Carlo, training) in worker processes.

Each *lane* owns one worker process (started with ``spawn``: the server has threads) and runs
its jobs one at a time. Formulas have their own lane, so a derivation never waits behind a
training or a Monte Carlo run. Every job is held to:

* a **wall-clock limit** (``JobLimits.time_limit_s``, counted from the moment the job reaches
  a ready worker): past it the worker is killed and replaced, and the client gets **503** with
  the limit named;
* **cancellation**: while a job waits in the queue or runs, the client's connection is polled;
  when it has gone, a queued job is dropped and a running one's worker is killed and replaced;
* a **bounded queue** (``max_queued`` jobs per lane, the running one included): one more is
  refused at once with 503;
* a **memory limit** (``RLIMIT_AS``, set in the worker once it has warmed up: its address space
  then, thread pools included, plus ``memory_headroom_mb``): a job that runs out gets 503 naming
  the limit, and its worker is replaced.

The cost model (``cost.py``) refuses a request expected to run longer than its budget with a 422
before it is queued; the limits here are the backstop for what the model did not foresee.
Each answer carries the seconds the job took inside the worker (queue wait excluded).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from gradtrace.core.errors import SpecError

__all__ = ["JobError", "JobLimits", "JobResult", "JobRunner", "Lane"]


class JobError(Exception):
    """A job that did not finish: the HTTP status to answer (503) and a one-line reason."""

    def __init__(self, message: str, status: int = 503) -> None:
        super().__init__(message)
        self.status = status


class JobCancelled(Exception):
    """The client went away; nobody is left to answer."""


@dataclass(frozen=True)
class JobLimits:
    """The bounds every job is held to (``create_app(job_limits=...)`` changes them)."""

    time_limit_s: float = 10.0
    """Wall-clock seconds a job may run in its worker before the worker is killed."""
    memory_headroom_mb: int | None = 1536
    """Address space a job may add to the warmed-up worker's (``RLIMIT_AS``); None: no limit.
    Virtual, not resident: counted from the warm worker, whose thread pools (NumPy's, numba's:
    more on more cores) reserve address space they never touch. The worst accepted request
    adds about 1 GB of virtual memory (0.8 GB resident)."""
    max_queued: int = 4
    """Jobs per lane, the running one included; one more gets 503 at once."""
    poll_s: float = 0.05
    """How often a waiting job checks on its worker and its client."""
    start_timeout_s: float = 120.0
    """Seconds a fresh worker may take to import the engine and warm up."""


@dataclass(frozen=True)
class JobResult:
    """A finished job: its answer, and the seconds it took inside the worker."""

    value: Any
    seconds: float


# ---- the worker process ------------------------------------------------------------------------


def _address_space_mb() -> int:
    """This process's address space (``VmSize``), or 1 GB where ``/proc`` is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 1024


def _worker_main(
    conn: Connection, memory_headroom_mb: int | None, warm: Callable[[], None] | None
) -> None:
    """A worker's life: warm up, limit its memory, say ready, then answer jobs one at a time.

    Every message back is ``(kind, payload, seconds, peak_rss_kb)``; ``kind`` is ``ready``,
    ``ok``, ``spec`` (the engine's SpecError: a 422), ``memory`` or ``error``.
    """

    def peak_kb() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    if warm is not None:
        warm()
    limit_mb = None
    if memory_headroom_mb is not None:
        limit_mb = _address_space_mb() + memory_headroom_mb
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
    conn.send(("ready", limit_mb, 0.0, peak_kb()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        job, req = msg
        start = time.perf_counter()
        try:
            value = job(req)
            reply = ("ok", value, time.perf_counter() - start, peak_kb())
            conn.send(reply)
            continue
        except MemoryError:
            reply = ("memory", None, time.perf_counter() - start, peak_kb())
        except SpecError as e:
            reply = ("spec", str(e), time.perf_counter() - start, peak_kb())
        except Exception as e:  # the server answers 500 with this line; the worker goes on
            reply = ("error", f"{type(e).__name__}: {e}", time.perf_counter() - start, peak_kb())
        del job, req
        try:
            conn.send(reply)
        except MemoryError:  # the answer itself was too large to pickle
            conn.send(("memory", None, reply[2], peak_kb()))


# ---- a lane: one worker, its queue, its counters ---------------------------------------------


@dataclass
class LaneStats:
    done: int = 0
    failed: int = 0  # SpecError or another exception inside the job
    cancelled: int = 0  # the client left (queued or running)
    timed_out: int = 0
    out_of_memory: int = 0
    refused: int = 0  # the queue was full
    restarts: int = 0  # workers killed and replaced
    peak_rss_mb: float = 0.0  # the largest worker resident set seen (ru_maxrss)
    last_pid: int | None = None


class Lane:
    """One worker process and the jobs queued for it (FIFO, one running at a time)."""

    def __init__(
        self,
        name: str,
        limits: JobLimits,
        warm: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.limits = limits
        self.warm = warm
        self.stats = LaneStats()
        self._ctx = multiprocessing.get_context("spawn")
        self._mutex = threading.Lock()  # guards the queue below; held only briefly
        self._queue: list[int] = []  # tickets in arrival order, the running one first
        self._next = 0
        self._proc: Any = None
        self._conn: Connection | None = None
        self._ready = False
        self._closed = False
        self.memory_limit_mb: int | None = None  # the running worker's, once it is ready
        self._start()

    # the process

    def _start(self) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=_worker_main,
            args=(child, self.limits.memory_headroom_mb, self.warm),
            name=f"gradtrace-{self.name}",
            daemon=True,
        )
        proc.start()
        child.close()
        self._proc, self._conn, self._ready = proc, parent, False
        self.stats.last_pid = proc.pid

    def _kill(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if proc is not None and proc.is_alive():
            proc.kill()
        if proc is not None:
            proc.join(5)
        if conn is not None:
            conn.close()

    def _replace(self) -> None:
        self._kill()
        self.stats.restarts += 1
        if not self._closed:
            self._start()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def queued(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        self._closed = True
        if self._conn is not None:
            try:
                self._conn.send(None)
            except OSError:
                pass
        proc = self._proc
        if proc is not None:
            proc.join(2)
        self._kill()

    # waiting

    async def _wait_readable(
        self, deadline: float, gone: Callable[[], Awaitable[bool]]
    ) -> tuple[Any, ...] | None:
        """The worker's next message; None past ``deadline``. Raises JobCancelled when the
        client has gone, JobError when the worker died."""
        loop = asyncio.get_running_loop()
        conn, proc = self._conn, self._proc
        assert conn is not None and proc is not None
        while True:
            step = max(0.0, min(self.limits.poll_s, deadline - time.monotonic()))
            if await loop.run_in_executor(None, conn.poll, step):
                try:
                    return conn.recv()
                except (EOFError, OSError):
                    proc.join(1)
                    code = proc.exitcode
                    raise JobError(
                        f"the {self.name} worker stopped (exit code {code}); it was replaced"
                    ) from None
            if await gone():
                raise JobCancelled
            if time.monotonic() >= deadline:
                return None

    # running a job

    async def run(
        self,
        job: Callable[[Any], Any],
        req: Any,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> JobResult:
        """``job(req)`` in this lane's worker. ``gone()`` says whether the client has left.

        Raises ``SpecError`` (the engine's, a 422), ``JobError`` (503: queue full, over the time
        or memory limit, worker died), ``JobCancelled`` (the client left)."""
        if gone is None:

            async def gone() -> bool:
                return False

        with self._mutex:
            if len(self._queue) >= self.limits.max_queued:
                self.stats.refused += 1
                raise JobError(
                    f"busy: {len(self._queue)} {self.name} jobs queued or running "
                    f"(at most {self.limits.max_queued}); try again shortly"
                )
            ticket = self._next
            self._next += 1
            self._queue.append(ticket)
        try:
            while self._queue[0] != ticket:  # FIFO: wait for the jobs ahead
                if await gone():
                    self.stats.cancelled += 1
                    raise JobCancelled
                await asyncio.sleep(self.limits.poll_s)
            return await self._run_now(job, req, gone)
        finally:
            with self._mutex:
                self._queue.remove(ticket)

    async def _run_now(
        self, job: Callable[[Any], Any], req: Any, gone: Callable[[], Awaitable[bool]]
    ) -> JobResult:
        if self._closed:
            raise JobError(f"the {self.name} worker is shutting down")
        if self._proc is None or not self._proc.is_alive():
            self._replace()
        try:
            if not self._ready:  # a fresh worker: its warm-up is not the job's time
                msg = await self._wait_readable(
                    time.monotonic() + self.limits.start_timeout_s, gone
                )
                if msg is None:
                    raise JobError(
                        f"the {self.name} worker did not start within "
                        f"{self.limits.start_timeout_s:g} s"
                    )
                self._ready = True
                self.memory_limit_mb = msg[1]
            assert self._conn is not None
            self._conn.send((job, req))
            msg = await self._wait_readable(time.monotonic() + self.limits.time_limit_s, gone)
        except JobCancelled:
            self._replace()
            self.stats.cancelled += 1  # counted once the worker is gone
            raise
        except asyncio.CancelledError:  # the server is stopping: do not leave the job running
            self._replace()
            raise
        except JobError:
            self._replace()
            raise
        if msg is None:
            self._replace()
            self.stats.timed_out += 1
            raise JobError(
                f"stopped: the job ran past the {self.limits.time_limit_s:g} s wall-clock limit"
            )
        kind, payload, seconds, peak_kb = msg
        self.stats.peak_rss_mb = max(self.stats.peak_rss_mb, peak_kb / 1024)
        if kind == "ok":
            self.stats.done += 1
            return JobResult(payload, seconds)
        if kind == "memory":
            self._replace()
            self.stats.out_of_memory += 1
            raise JobError(
                f"stopped: the job needed more memory than the worker's limit "
                f"({self.limits.memory_headroom_mb} MB over its warm size, "
                f"{self.memory_limit_mb} MB of address space)"
            )
        self.stats.failed += 1
        if kind == "spec":
            raise SpecError(payload)
        raise RuntimeError(f"{self.name} job failed: {payload}")


class JobRunner:
    """The lanes by name: ``derive`` for formulas, ``compute`` for Monte Carlo and training."""

    def __init__(
        self,
        limits: JobLimits | None = None,
        warm: dict[str, Callable[[], None] | None] | None = None,
    ) -> None:
        self.limits = limits or JobLimits()
        warm = warm or {}
        self.lanes = {
            name: Lane(name, self.limits, warm.get(name)) for name in ("derive", "compute")
        }

    async def run(
        self,
        lane: str,
        job: Callable[[Any], Any],
        req: Any,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> JobResult:
        return await self.lanes[lane].run(job, req, gone)

    def close(self) -> None:
        for lane in self.lanes.values():
            lane.close()
