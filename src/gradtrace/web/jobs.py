"""The explorer's slow jobs (derive, Monte Carlo, training, simulated theory) in worker processes.

Each *lane* owns one worker process (started with ``spawn``: the server has threads) and runs
its jobs one at a time, in arrival order. Formulas have their own lane, so a derivation never
waits behind a training or a Monte Carlo run. Every request is held to:

* a **deadline**: it is answered within ``JobLimits.time_limit_s`` of reaching its lane, queue
  wait and a worker's warm-up included (the lane's first warm-up excepted: ``serve`` waits for
  it before it accepts requests, and a request that came during it has its clock started when
  it is over). On arrival the lane adds up the work ahead (each job's
  estimated seconds from ``cost.py``, less what the running one has run; a starting worker's
  warm-up, as long as the last one took) and the request's own estimate; if that passes the
  deadline, the request is refused at once with **503** and ``Retry-After`` (the seconds the work
  ahead should take). A job still running at its deadline has its worker killed and replaced,
  and its client gets 503 naming the limit: the only time a worker is killed for being slow;
* **cancellation**: while a job waits or runs, its client's connection is polled. A queued job
  whose client left is dropped, never started. A running one is asked to stop: the lane sets a
  flag shared with its worker, and the job reads it between chunks (``checkpoint``, passed as the
  engine's ``progress`` callback: every 1 % of a training's steps, every Monte Carlo block of
  65,536 samples), so the worker stays and the next job starts at once. A job without chunks (a
  derivation, a simulation: each within the 5 s budget) runs to its end, and its answer is
  dropped;
* a **bounded queue** (``max_queued`` jobs per lane, the running one included): one more is
  refused at once with 503 and ``Retry-After``;
* a **memory limit** (``RLIMIT_AS``, set in the worker once it has warmed up: its address space
  then, thread pools included, plus ``memory_headroom_mb``): a job that runs out gets 503 naming
  the limit, and its worker is replaced.

The cost model (``cost.py``) refuses a request expected to run longer than its budget with a 422
before it is queued; the deadline is the backstop for what the model did not foresee.
Each answer carries the seconds the job took inside the worker (queue wait excluded).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from gradtrace.core.errors import SpecError

__all__ = ["JobCancelled", "JobError", "JobLimits", "JobResult", "JobRunner", "Lane", "checkpoint"]


class JobError(Exception):
    """A job that did not finish: the HTTP status to answer (503), a one-line reason, and for a
    refusal, the seconds after which to try again (``Retry-After``)."""

    def __init__(self, message: str, status: int = 503, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str] | None:
        """The response's headers: ``Retry-After`` in whole seconds (at least 1), if any."""
        if self.retry_after_s is None:
            return None
        return {"retry-after": str(max(1, math.ceil(self.retry_after_s)))}


class JobCancelled(Exception):
    """The client went away; nobody is left to answer. In a worker: the job stopped at a
    ``checkpoint`` because its client left."""


@dataclass(frozen=True)
class JobLimits:
    """The bounds every job is held to (``create_app(job_limits=...)`` changes them)."""

    time_limit_s: float = 10.0
    """Wall-clock seconds from a request's arrival at its lane to its answer; a job still
    running then has its worker killed."""
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


_cancel_flag: Any = None
"""In a worker: the flag (shared memory, one byte) that its lane sets when the client left."""


def checkpoint(done: int = 0, total: int = 0) -> None:
    """In a worker: stop the running job here (``JobCancelled``) if its client has left.

    A job calls it between chunks of its work; it takes the engine's ``progress(done, total)``
    arguments, so that it can be passed as that callback. Outside a worker it does nothing."""
    if _cancel_flag is not None and _cancel_flag.value:
        raise JobCancelled


def _worker_main(
    conn: Connection,
    cancel: Any,
    memory_headroom_mb: int | None,
    warm: Callable[[], None] | None,
) -> None:
    """A worker's life: warm up, limit its memory, say ready, then answer jobs one at a time.

    Every message back is ``(kind, payload, seconds, peak_rss_kb)``; ``kind`` is ``ready``,
    ``ok``, ``spec`` (the engine's SpecError: a 422), ``cancelled`` (stopped at a checkpoint),
    ``memory`` or ``error``.
    """
    global _cancel_flag
    _cancel_flag = cancel

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
        except JobCancelled:
            reply = ("cancelled", None, time.perf_counter() - start, peak_kb())
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
    started: int = 0  # jobs sent to the worker
    done: int = 0
    failed: int = 0  # SpecError or another exception inside the job
    cancelled: int = 0  # running when the client left (stopped at a checkpoint, or finished)
    stopped: int = 0  # of those, stopped at a checkpoint
    dropped: int = 0  # queued when the client left: never started
    timed_out: int = 0  # not answered by the deadline (worker killed if the job was running)
    out_of_memory: int = 0
    refused: int = 0  # at once: the queue was full, or the work ahead would pass the deadline
    restarts: int = 0  # workers killed and replaced
    peak_rss_mb: float = 0.0  # the largest worker resident set seen (ru_maxrss)
    last_pid: int | None = None


@dataclass(eq=False)
class _Ticket:
    """A request in a lane's queue: its estimated seconds, its deadline, when its job started."""

    cost_s: float
    deadline: float
    started: float | None = None


async def _never_gone() -> bool:
    return False


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
        self._queue: list[_Ticket] = []  # arrival order, the running one first
        self._cancel = self._ctx.Value("b", 0, lock=False)  # set: the running job should stop
        self._proc: Any = None
        self._conn: Connection | None = None
        self._ready = False
        self._spawned = 0.0  # when the current worker was started (monotonic)
        self._warm_s = 0.0  # how long the last warm-up took (0 until one has been seen)
        self._first_warm_up = True  # the lane's first worker has not been ready yet
        self._closed = False
        self.memory_limit_mb: int | None = None  # the running worker's, once it is ready
        self._start()

    # the process

    def _start(self) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=_worker_main,
            args=(child, self._cancel, self.limits.memory_headroom_mb, self.warm),
            name=f"gradtrace-{self.name}",
            daemon=True,
        )
        proc.start()
        child.close()
        self._proc, self._conn, self._ready = proc, parent, False
        self._spawned = time.monotonic()
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

    # the deadline

    def expected_wait(self, now: float) -> float:
        """Seconds until the work now in the lane is expected to be done: a starting worker's
        warm-up, then each job's estimate (less what the running one has already run)."""
        wait = 0.0
        if not self._ready:
            wait += max(0.0, self._warm_s - (now - self._spawned))
        for t in self._queue:
            ran = 0.0 if t.started is None else now - t.started
            wait += max(0.0, t.cost_s - ran)
        return wait

    def _admit(self, cost_s: float, now: float) -> _Ticket:
        """A ticket at the end of the queue, or JobError (503 with Retry-After) at once when the
        queue is full or the work ahead and this job's estimate would pass the deadline."""
        wait, limit = self.expected_wait(now), self.limits.time_limit_s
        if len(self._queue) >= self.limits.max_queued:
            self.stats.refused += 1
            raise JobError(
                f"busy: {len(self._queue)} {self.name} jobs queued or running "
                f"(at most {self.limits.max_queued}); try again shortly",
                retry_after_s=wait,
            )
        if (self._queue or wait > 0) and wait + cost_s > limit:
            self.stats.refused += 1
            raise JobError(
                f"busy: the {self.name} work ahead should take about {wait:.1f} s and this "
                f"request about {cost_s:.1f} s, past the {limit:g} s within which a request is "
                "answered; try again shortly",
                retry_after_s=wait,
            )
        ticket = _Ticket(cost_s, now + limit)
        self._queue.append(ticket)
        return ticket

    # talking to the worker

    async def _receive(self, step: float) -> tuple[Any, ...] | None:
        """The worker's next message, or None if none came within ``step`` seconds. JobError
        when the worker died (the caller replaces it)."""
        conn, proc = self._conn, self._proc
        assert conn is not None and proc is not None
        if not await asyncio.get_running_loop().run_in_executor(None, conn.poll, step):
            return None
        try:
            return conn.recv()
        except (EOFError, OSError):
            proc.join(1)
            raise JobError(
                f"the {self.name} worker stopped (exit code {proc.exitcode}); it was replaced"
            ) from None

    async def _until_ready(self, ticket: _Ticket, gone: Callable[[], Awaitable[bool]]) -> None:
        """Wait for a fresh worker's warm-up (not counted as the job's time, but within the
        request's deadline, except for the lane's first worker: requests that came while the
        server was starting have their clocks started when it is ready). A client that leaves
        meanwhile drops its job; the worker warms on."""
        while True:
            msg = await self._receive(self.limits.poll_s)
            now = time.monotonic()
            if msg is not None:
                self._mark_ready(msg, now)
                return
            if now - self._spawned > self.limits.start_timeout_s:
                self._replace()
                raise JobError(
                    f"the {self.name} worker did not start within {self.limits.start_timeout_s:g} s"
                )
            if await gone():
                self.stats.dropped += 1
                raise JobCancelled
            if now >= ticket.deadline and not self._first_warm_up:
                self.stats.timed_out += 1
                raise JobError(
                    f"the {self.name} worker is still starting; try again shortly",
                    retry_after_s=self.expected_wait(now),
                )

    def _mark_ready(self, msg: tuple[Any, ...], now: float) -> None:
        self._ready = True
        self.memory_limit_mb = msg[1]
        self._warm_s = now - self._spawned
        if self._first_warm_up:  # the server's start is not the requests' time: clocks start now
            self._first_warm_up = False
            for t in self._queue:
                t.deadline = max(t.deadline, now + self.limits.time_limit_s)

    def wait_ready(self, timeout_s: float) -> bool:
        """Block until the worker has warmed up (True), or ``timeout_s`` has passed or the worker
        died (False: the first job replaces it). For a server before it accepts requests."""
        if self._ready:
            return True
        assert self._conn is not None
        try:
            if self._conn.poll(max(0.0, timeout_s)):
                self._mark_ready(self._conn.recv(), time.monotonic())
        except (EOFError, OSError):
            pass
        return self._ready

    # running a job

    async def run(
        self,
        job: Callable[[Any], Any],
        req: Any,
        gone: Callable[[], Awaitable[bool]] | None = None,
        *,
        cost_s: float = 0.0,
    ) -> JobResult:
        """``job(req)`` in this lane's worker. ``gone()`` says whether the client has left;
        ``cost_s`` is the job's estimated seconds (``cost.py``), for the deadline.

        Raises ``SpecError`` (the engine's, a 422), ``JobError`` (503: refused, past the
        deadline, over the memory limit, worker died), ``JobCancelled`` (the client left)."""
        gone = gone or _never_gone
        ticket = self._admit(cost_s, time.monotonic())
        try:
            while self._queue[0] is not ticket:  # FIFO: wait for the jobs ahead
                if await gone():
                    self.stats.dropped += 1
                    raise JobCancelled
                if time.monotonic() >= ticket.deadline and not self._first_warm_up:
                    self.stats.timed_out += 1
                    raise JobError(
                        f"stopped: waited past the {self.limits.time_limit_s:g} s wall-clock "
                        "limit behind other jobs; try again shortly",
                        retry_after_s=self.expected_wait(time.monotonic()),
                    )
                await asyncio.sleep(self.limits.poll_s)
            return await self._run_now(job, req, gone, ticket)
        finally:
            self._queue.remove(ticket)

    async def _run_now(
        self,
        job: Callable[[Any], Any],
        req: Any,
        gone: Callable[[], Awaitable[bool]],
        ticket: _Ticket,
    ) -> JobResult:
        if self._closed:
            raise JobError(f"the {self.name} worker is shutting down")
        if self._proc is None or not self._proc.is_alive():
            self._replace()
        left = False  # the client left while the job ran: the job was asked to stop
        try:
            if not self._ready:
                await self._until_ready(ticket, gone)
            if await gone():  # left while the jobs ahead ran: dropped, never started
                self.stats.dropped += 1
                raise JobCancelled
            assert self._conn is not None
            self._cancel.value = 0
            self._conn.send((job, req))
            ticket.started = time.monotonic()
            self.stats.started += 1
            while (msg := await self._receive(self.limits.poll_s)) is None:
                if not left and await gone():
                    left = True
                    self._cancel.value = 1  # the job stops at its next checkpoint
                if time.monotonic() >= ticket.deadline:  # the hard limit: kill the worker
                    self._replace()
                    self.stats.timed_out += 1
                    if left:
                        self.stats.cancelled += 1
                        raise JobCancelled
                    raise JobError(
                        f"stopped: the job ran past the {self.limits.time_limit_s:g} s "
                        "wall-clock limit"
                    )
        except asyncio.CancelledError:  # the server is stopping: do not leave the job running
            self._replace()
            raise
        except JobError:
            if self._proc is None or not self._proc.is_alive():
                self._replace()  # the worker died
            raise
        kind, payload, seconds, peak_kb = msg
        self.stats.peak_rss_mb = max(self.stats.peak_rss_mb, peak_kb / 1024)
        if kind == "memory":
            self._replace()
            self.stats.out_of_memory += 1
            raise JobError(
                f"stopped: the job needed more memory than the worker's limit "
                f"({self.limits.memory_headroom_mb} MB over its warm size, "
                f"{self.memory_limit_mb} MB of address space)"
            )
        if left or kind == "cancelled":
            self.stats.cancelled += 1
            self.stats.stopped += kind == "cancelled"
            raise JobCancelled
        if kind == "ok":
            self.stats.done += 1
            return JobResult(payload, seconds)
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
        *,
        cost_s: float = 0.0,
    ) -> JobResult:
        """``job(req)`` in the lane named ``lane`` (see ``Lane.run``)."""
        return await self.lanes[lane].run(job, req, gone, cost_s=cost_s)

    def wait_ready(self, timeout_s: float | None = None) -> bool:
        """Block until every lane's worker has warmed up (they warm up side by side), at most
        ``timeout_s`` (default: the workers' ``start_timeout_s``). Whether all did."""
        deadline = time.monotonic() + (timeout_s or self.limits.start_timeout_s)
        ready = [lane.wait_ready(deadline - time.monotonic()) for lane in self.lanes.values()]
        return all(ready)

    def close(self) -> None:
        for lane in self.lanes.values():
            lane.close()
