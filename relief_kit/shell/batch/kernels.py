"""The kernel pool: one kernel and one kernel client per worker, kept for the run.

Each worker thread of a run gets a :class:`WorkerKernel` — a kernel process started
by an ``AsyncKernelManager`` and the one ``AsyncKernelClient`` that talks to it — and
reuses it for up to ``cases_per_kernel`` cases (a fresh one per case when
``isolated``), emptying its namespace before each case after the first
(:meth:`WorkerKernel.reset`). The pool owns everything it opens: one zmq context for the run, each
worker's kernel, client channels (heartbeat thread included), IPC socket folder and
connection file, and the event loop each worker thread ran them on. :meth:`close`
releases all of it, so a run of any length leaves the process with the descriptors,
threads and memory it started with. (papermill, handed only a kernel manager, builds a
new client — a zmq context, four sockets and a heartbeat thread — for every notebook
and never closes it: that is what this pool exists to avoid.)

Interruption: :meth:`stop_taking` refuses new kernels; :meth:`abandon` kills every
kernel process group at once (the worker's case then fails with a dead kernel within a
second and is not written).

Kernels are started in their own session (jupyter_client's default), so a Ctrl-C at
the terminal reaches the runner only, which decides what happens to them. They are
told the runner's pid and exit if it disappears (ipykernel's parent poller); a kernel
folder whose runner is gone is removed by :func:`clean_stale_kernels` at the next run.

``on_start`` runs once per started kernel (the runner loads the portfolio there), and
:meth:`KernelPool.warm` starts a worker's kernel before its first case.

The batch's kernels run without ipykernel's debugger (:class:`BatchKernelSpecs`): nobody
attaches one to a record being written, and ipykernel imports ``debugpy`` whenever it is
installed (no setting turns that off), about 45 ms of every kernel's start-up.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from relief_kit.core.errors import ReliefKitError

#: Prefix of the private folder of each kernel: ``<prefix><runner pid>-<random>``.
KERNEL_DIR_PREFIX = "relief-kit-kernel-"
_KERNEL_DIR = re.compile(rf"^{KERNEL_DIR_PREFIX}(\d+)-")


class Abandoned(ReliefKitError):
    """The run was told to stop: no kernel is started or used any more."""


def clean_stale_kernels(root: str | Path | None = None) -> list[Path]:
    """Remove kernel folders (sockets, connection file) left by runs that died (kill -9).

    Only folders whose runner pid no longer exists and that belong to this user."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for path in entries:
        match = _KERNEL_DIR.match(path.name)
        if not match or psutil.pid_exists(int(match.group(1))):
            continue
        try:
            if path.is_symlink() or path.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


#: What runs in a reused kernel before each case: IPython's ``%reset -f`` (the user
#: namespace, the output cache and history emptied), then everything still alive —
#: modules, the portfolio loaded once (``relief_kit.shell.case``) — is moved out of the
#: garbage collector's reach (``gc.freeze``), so the reset's full collections walk only
#: what the last case left instead of the whole loaded portfolio.
RESET_CODE = ("get_ipython().run_line_magic('reset', '-f')\n"
              "import gc as _gc; _gc.freeze(); del _gc")


#: Cases a worker's kernel serves before it is replaced. Each new kernel loads the
#: portfolio again (seconds at 100,000 customers), so kernels live for a run; the bound
#: only caps what a slow leak in a long run could grow to (measured: about 6 KB of
#: kernel memory per case with the review notebook).
CASES_PER_KERNEL = 1000


#: What the batch's kernels run instead of ``-m ipykernel_launcher``: that module's own
#: two steps (the working folder out of ``sys.path``, then ``launch_new_instance``),
#: with ``debugpy`` made unimportable first. ipykernel then runs without its debugger
#: (``ipykernel.debugger._is_debugpy_available`` is false; the kernel's ``kernel_info``
#: says ``debugger: false``); what the cells run and show is the same. Its streams skip
#: the flushes with nothing to send (:mod:`relief_kit.shell.kernel_streams`; best
#: effort: without it the kernel flushes the stock way).
LAUNCH_WITHOUT_DEBUGGER = (
    "import sys\n"
    "if sys.path and sys.path[0] == '': del sys.path[0]\n"
    "sys.modules['debugpy'] = None\n"
    "try:\n"
    "    from relief_kit.shell.kernel_streams import skip_empty_flushes\n"
    "    skip_empty_flushes()\n"
    "except Exception:\n"
    "    pass\n"
    "from ipykernel import kernelapp\n"
    "kernelapp.launch_new_instance()")


def _batch_kernel_specs():
    """A ``KernelSpecManager`` whose specs launch ipykernel without its debugger."""
    from jupyter_client.kernelspec import KernelSpecManager

    class BatchKernelSpecs(KernelSpecManager):
        """The installed kernel specs, ``-m ipykernel_launcher`` replaced by
        :data:`LAUNCH_WITHOUT_DEBUGGER` (a spec that does not launch ipykernel's module
        is used as it is)."""

        def get_kernel_spec(self, kernel_name):
            spec = super().get_kernel_spec(kernel_name)
            argv = list(spec.argv)
            for i in range(len(argv) - 1):
                if argv[i] == "-m" and argv[i + 1] == "ipykernel_launcher":
                    argv[i:i + 2] = ["-c", LAUNCH_WITHOUT_DEBUGGER]
                    spec.argv = argv
                    break
            return spec

    return BatchKernelSpecs()


#: Seconds a wait for a kernel's answer lasts before the kernel is checked to be alive.
ALIVE_CHECK = 1.0


class WorkerKernel:
    """One kernel process and the one client that talks to it."""

    def __init__(self, context, loop, *, start_timeout: int = 60) -> None:
        from jupyter_client import AsyncKernelManager

        self.loop = loop
        # IPC transport avoids the TCP port race between concurrent kernels; its socket
        # files (and the connection file) live in a private folder named after our pid,
        # so a later run can tell a leftover from a live kernel.
        self.folder = Path(tempfile.mkdtemp(prefix=f"{KERNEL_DIR_PREFIX}{os.getpid()}-"))
        self.manager = AsyncKernelManager(
            kernel_name="python3", transport="ipc", ip=str(self.folder / "kernel"),
            connection_file=str(self.folder / "kernel.json"), context=context,
            kernel_spec_manager=_batch_kernel_specs())
        self.client = None
        #: The kernel's ``language_info``, from its ``kernel_info`` reply at start
        #: (:meth:`_ready`): what papermill's client asks for again after every notebook.
        self.language_info: dict | None = None
        self.served = 0
        self.pending_reset: str | None = None  # see reset_ahead
        self.start_timeout = start_timeout

    def start(self, launched: Callable[[], None] | None = None) -> None:
        """Start the kernel and its client (on this worker's loop); ``launched()`` is
        called once the kernel's process is started (or failed to start), before the
        client waits for it to be ready."""
        try:
            self._launch()
        finally:
            if launched is not None:
                launched()
        self.client = self.manager.client(context=self.manager.context)
        self.client.start_channels()
        self.client.allow_stdin = False
        self.loop.run_until_complete(self._ready(self.start_timeout))

    def _launch(self) -> None:
        # An in-memory history database avoids SQLite locking errors between kernels.
        self.loop.run_until_complete(self.manager.start_kernel(
            extra_arguments=["--HistoryManager.hist_file=:memory:",
                             # No half-millisecond nap before each reply (ipykernel's
                             # "mitigation" for output arriving late): every client of
                             # these kernels waits for the idle status on IOPub, which
                             # comes after the output, before it reads anything else.
                             "--IPythonKernel._execute_sleep=0",
                             # Its logger at its handler's level (traitlets sets the
                             # logger to DEBUG and filters at the handler): the debug
                             # lines of every request are then not built only to be
                             # dropped (a stack walk each, three per cell).
                             "--IPKernelApp.logging_config="
                             '{"loggers": {"IPKernelApp": {"level": "WARNING"}}}']))

    async def _ready(self, timeout: float) -> None:
        """Wait until the kernel answers on both channels the runner reads: its
        ``kernel_info`` reply on shell, then its idle status after that request on
        IOPub (the proof that our subscription is connected; a status sent before it
        was is lost, so the request is sent again). jupyter_client's ``wait_for_ready``
        checks the same things, then drains IOPub until 0.2 s pass with nothing on it:
        0.2 s of both kernels idle at the start of every run, for messages that the
        runner's readers skip anyway (each reads only what answers its own request).

        Raises ``RuntimeError`` as ``wait_for_ready`` does: the kernel died before
        replying, or did not reply within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            msg_id = self.client.kernel_info()
            try:
                reply = await self.client._async_recv_reply(msg_id, timeout=1)
            except TimeoutError:
                reply = None
            if reply is not None and await self._idle_after(msg_id, 0.2):
                self.client._handle_kernel_info_reply(reply)  # the protocol's version
                self.language_info = reply["content"].get("language_info")
                return
            if not await self.manager.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    async def _idle_after(self, msg_id: str, timeout: float) -> bool:
        """Whether the kernel's idle status after request ``msg_id`` arrives on IOPub
        within ``timeout`` seconds; the messages read before it are dropped."""
        from queue import Empty

        deadline = time.monotonic() + timeout
        while True:
            try:
                message = await self.client._async_get_iopub_msg(
                    timeout=max(0.0, deadline - time.monotonic()))
            except Empty:
                return False
            if (message["parent_header"].get("msg_id") == msg_id
                    and message["msg_type"] == "status"
                    and message["content"].get("execution_state") == "idle"):
                return True

    def run_silently(self, code: str, timeout: float = 60) -> None:
        """Run ``code`` in the kernel silently: no execution count, no history, no
        output kept, nothing in any notebook. Waits for the kernel's reply (and its idle
        status) up to ``timeout`` seconds.

        Raises ``TimeoutError`` when the kernel does not answer in time and
        :class:`ReliefKitError` when the code failed (with the kernel's error) or the
        kernel died meanwhile (noticed within about :data:`ALIVE_CHECK` seconds); a
        reset sent ahead (:meth:`reset_ahead`) is waited for first, and raises the same
        way."""
        pending, self.pending_reset = self.pending_reset, None
        if pending is not None:  # its reply comes first: read it, not skip it
            self.finish_silently(pending, timeout)
        self.finish_silently(self.send_silently(code), timeout)

    def send_silently(self, code: str) -> str:
        """Send ``code`` to run silently (as :meth:`run_silently`) without waiting; the
        kernel runs it before anything sent later. Returns the request's id, for
        :meth:`finish_silently`."""
        return self.client.execute(code, silent=True, store_history=False,
                                   allow_stdin=False)

    def finish_silently(self, msg_id: str, timeout: float = 60) -> None:
        """Wait for the reply to a request of :meth:`send_silently` and for the kernel's
        idle status after it; raises as :meth:`run_silently`."""
        reply = self.loop.run_until_complete(self._finish(msg_id, timeout))
        content = reply["content"]
        if content.get("status") != "ok":
            raise ReliefKitError(f"erro no kernel: {content.get('ename', '')}: "
                                 f"{content.get('evalue', '')}")

    async def _finish(self, msg_id: str, timeout: float) -> dict:
        """The reply to request ``msg_id``, then its idle status on IOPub (nothing of it
        is left there for the next case), within ``timeout`` seconds. The wait is cut
        into slices of :data:`ALIVE_CHECK` seconds, the kernel checked alive between
        them: a kernel killed meanwhile (the pool abandoned, say, when a run finds
        nothing to write while its kernels are still loading) ends the wait within a
        second or so instead of at the timeout (ten minutes for the portfolio's load;
        the runner waited all of it, deaf to Ctrl-C).

        Raises ``TimeoutError`` when the time runs out and :class:`ReliefKitError` when
        the kernel is dead."""
        deadline = time.monotonic() + timeout

        async def reply(wait: float) -> dict | None:
            try:
                return await self.client._async_recv_reply(msg_id, timeout=wait)
            except TimeoutError:
                return None

        async def idle(wait: float) -> bool | None:
            return await self._idle_after(msg_id, wait) or None

        answer = await self._while_alive(reply, deadline, "Timeout waiting for reply")
        await self._while_alive(idle, deadline, "Timeout waiting for the kernel's idle status")
        return answer

    async def _while_alive(self, attempt, deadline: float, timed_out: str):
        """``await attempt(seconds)`` again and again, each for at most
        :data:`ALIVE_CHECK` seconds, the kernel checked alive in between, until it
        returns something other than None (returned) or ``deadline`` (``time.monotonic``)
        passes (``TimeoutError(timed_out)``). Raises :class:`ReliefKitError` when the
        kernel is dead."""
        while True:
            left = deadline - time.monotonic()
            found = await attempt(max(0.0, min(left, ALIVE_CHECK)))
            if found is not None:
                return found
            if left <= ALIVE_CHECK:
                raise TimeoutError(timed_out)
            if not await self.manager.is_alive():
                raise ReliefKitError("o kernel parou antes de responder")

    def reset(self, timeout: float = 60) -> None:
        """Empty the kernel's namespace (:data:`RESET_CODE`) between two cases; raises
        as :meth:`run_silently`. A reset sent ahead (:meth:`reset_ahead`) is waited
        for instead of sent again."""
        pending, self.pending_reset = self.pending_reset, None
        self.finish_silently(pending or self.send_silently(RESET_CODE), timeout)

    def reset_ahead(self) -> None:
        """Send the reset for the next case now, without waiting: the kernel empties its
        namespace while the runner exports the case just executed. :meth:`reset` waits
        for it."""
        if self.pending_reset is None:
            self.pending_reset = self.send_silently(RESET_CODE)

    @property
    def pid(self) -> int | None:
        process = getattr(self.manager.provisioner, "process", None)
        return getattr(process, "pid", None)

    def alive(self) -> bool:
        return bool(self.loop.run_until_complete(self.manager.is_alive()))

    def kill(self) -> None:
        """SIGKILL the kernel's process group now (safe from any thread)."""
        pid = self.pid
        if pid is None:
            return
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self, *, killed: bool = False) -> None:
        """Stop the client's channels, shut the kernel down, remove its folder.

        ``killed``: the caller has just killed the kernel (:meth:`kill`); its process
        is reaped here first, so the shutdown finds it gone instead of polling for it
        (jupyter_client checks every tenth of a second)."""
        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        process = getattr(self.manager.provisioner, "process", None)
        if killed and process is not None:
            import subprocess

            try:
                process.wait(timeout=5)
            except (subprocess.TimeoutExpired, OSError):
                pass  # the shutdown below kills and waits as usual
        try:
            if self.manager.has_kernel:
                self.loop.run_until_complete(self.manager.shutdown_kernel(now=True))
            else:
                self.loop.run_until_complete(self.manager.cleanup_resources())
        except Exception:  # a kernel already dead cannot be shut down twice
            self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


class _Slot:
    """One worker thread's state in the pool: its event loop and its kernel."""

    def __init__(self, loop) -> None:
        self.loop = loop
        self.kernel: WorkerKernel | None = None


class KernelPool:
    """Kernels for the workers of one run; a context manager that releases them all."""

    def __init__(self, *, cases_per_kernel: int = CASES_PER_KERNEL, isolated: bool = False,
                 on_start: Callable[[WorkerKernel], None] | None = None,
                 start_timeout: int = 60) -> None:
        import zmq.asyncio

        self.cases_per_kernel = cases_per_kernel
        self.isolated = isolated
        self.on_start = on_start
        self.start_timeout = start_timeout
        self._context = zmq.asyncio.Context()
        self._local = threading.local()
        self._slots: list[_Slot] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._abandoned = threading.Event()
        self._closed = False
        self._launches = threading.Condition()
        self._launched = 0  # kernel processes started (or failed to start) so far

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- used by workers

    def _slot(self) -> _Slot:
        slot = getattr(self._local, "slot", None)
        if slot is None:
            from jupyter_core.utils import ensure_event_loop

            # The loop nbclient (through jupyter_core.run_sync) runs on in this thread:
            # the kernel and its client live on it too, and it is closed with the pool.
            slot = _Slot(ensure_event_loop())
            with self._lock:
                if self._closed:
                    raise Abandoned("o lote foi encerrado")
                self._slots.append(slot)
            self._local.slot = slot
        return slot

    @property
    def abandoned(self) -> bool:
        return self._abandoned.is_set()

    def kernel(self) -> WorkerKernel:
        """This worker's kernel for its next case: started afresh when isolated, dead or
        worn out, else the same kernel with its namespace emptied (every case starts
        from an empty namespace, so nothing of one case shows in the next)."""
        if self._abandoned.is_set():
            raise Abandoned("o lote foi interrompido")
        slot = self._slot()
        current = slot.kernel
        fresh = (current is None or self.isolated or current.served >= self.cases_per_kernel
                 or not current.alive())
        if not fresh and current.served:
            try:
                current.reset()
            except Exception:  # a kernel that cannot reset is replaced, not trusted
                if self._abandoned.is_set():
                    raise Abandoned("o lote foi interrompido") from None
                fresh = True
        if fresh:
            self._start(slot)
        slot.kernel.served += 1
        return slot.kernel

    def case_done(self) -> None:
        """This worker's case has been executed: when its kernel serves the next case
        too, its reset is sent now (:meth:`WorkerKernel.reset_ahead`) and runs while the
        worker exports this one. Best effort: a failed send leaves the reset to
        :meth:`kernel`."""
        slot = self._slot()
        current = slot.kernel
        if (current is None or self.isolated or self._stopping.is_set()
                or current.served >= self.cases_per_kernel):
            return
        try:
            current.reset_ahead()
        except Exception:
            current.pending_reset = None

    def warm(self) -> None:
        """Start this worker thread's kernel now, ahead of its first case (``on_start``
        included), so that start-up overlaps the runner's planning. Nothing to do when
        the thread has a kernel or the pool is isolated (a fresh kernel per case)."""
        if self._abandoned.is_set():
            raise Abandoned("o lote foi interrompido")
        slot = self._slot()
        if slot.kernel is None and not self.isolated:
            self._start(slot)

    def _start(self, slot: _Slot) -> None:
        self.retire()
        kernel = WorkerKernel(self._context, slot.loop, start_timeout=self.start_timeout)
        slot.kernel = kernel  # before starting: abandon() can reach a half-started one
        kernel.start(launched=self._note_launch)
        if self._abandoned.is_set():
            raise Abandoned("o lote foi interrompido")
        if self.on_start is not None:
            self.on_start(kernel)

    def _note_launch(self) -> None:
        with self._launches:
            self._launched += 1
            self._launches.notify_all()

    def wait_launched(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` kernel processes of this pool have been started (or
        failed to start), at most ``timeout`` seconds; True when they were or the pool
        was abandoned meanwhile, False when the time ran out. Their own start-up then
        goes on in their processes while the caller works."""
        with self._launches:
            return self._launches.wait_for(
                lambda: self._launched >= count or self._abandoned.is_set(), timeout)

    def retire(self) -> None:
        """Close this worker's kernel (dead, or about to be replaced)."""
        slot = self._slot()
        if slot.kernel is not None:
            kernel, slot.kernel = slot.kernel, None
            kernel.close()

    # -- used by the runner

    def stop_taking(self) -> None:
        """First interruption: cases in progress finish, nothing new starts."""
        self._stopping.set()

    def abandon(self) -> None:
        """Second interruption: kill every kernel now; their cases are not written."""
        self._stopping.set()
        self._abandoned.set()
        with self._launches:  # whoever waits for a launch stops waiting
            self._launches.notify_all()
        with self._lock:
            kernels = [s.kernel for s in self._slots if s.kernel is not None]
        for kernel in kernels:
            kernel.kill()

    def live_pids(self) -> list[int]:
        with self._lock:
            return [s.kernel.pid for s in self._slots
                    if s.kernel is not None and s.kernel.pid is not None]

    def close(self) -> None:
        """Shut every kernel down; close clients, loops and the zmq context.

        Call once the workers are done (after the executor's shutdown)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            slots, self._slots = self._slots, []
        # Every kernel killed at once (as jupyter_client's shutdown_kernel(now=True) would
        # one after the other), then each reaped and cleaned up: the shutdowns do not
        # wait in turn for each process to die.
        for slot in slots:
            if slot.kernel is not None:
                slot.kernel.kill()
        for slot in slots:
            if slot.kernel is not None:
                slot.kernel.close(killed=True)
                slot.kernel = None
            if not slot.loop.is_running() and not slot.loop.is_closed():
                slot.loop.run_until_complete(slot.loop.shutdown_asyncgens())
                slot.loop.close()
        self._context.destroy(linger=0)
