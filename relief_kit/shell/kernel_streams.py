"""The batch's kernels: ``sys.stdout.flush()`` with nothing written returns at once.

ipykernel's ``OutStream.flush``, called from the kernel's main thread, hands a flush to
its IOPub thread and waits for that thread to run it, written or not. The kernel
flushes both streams around every execution, every displayed output and every
execution result: about fifty such hand-overs in a case of the review notebook, each
two messages on the IOPub thread's event pipe, a wake-up of that thread and a wait (a
tenth of a case's CPU in its kernel), with nothing to send: the case notebook prints
nothing.

:func:`skip_empty_flushes` (run by the batch's kernels before ipykernel starts, see
``relief_kit.shell.batch.kernels.LAUNCH_WITHOUT_DEBUGGER``) makes a flush with nothing
buffered since the last one return at once. Whatever was written is still flushed the
stock way. Every message the kernel publishes goes through the same IOPub thread, in
order, so an output still reaches the client before the kernel's idle status (which
the batch's clients wait for). An ipykernel whose streams are not laid out as expected
(``_buffers``, ipykernel 7; ``_buffer``, ipykernel 6) keeps its own flush.
"""

from __future__ import annotations


def _nothing_buffered(stream) -> bool:
    """Whether ``stream`` (an ipykernel ``OutStream``) holds nothing to send and echoes
    nowhere; False when its layout is not one this module knows."""
    if getattr(stream, "echo", None) is not None:
        return False
    buffers = getattr(stream, "_buffers", None)  # ipykernel 7: one buffer per parent
    if isinstance(buffers, dict):
        return not buffers
    buffer = getattr(stream, "_buffer", None)  # ipykernel 6
    if buffer is not None and hasattr(buffer, "tell"):
        return buffer.tell() == 0
    return False


def skip_empty_flushes() -> None:
    """Make ipykernel's ``OutStream.flush`` return at once when nothing was written
    since the last flush. For the batch's kernels only (call before the kernel starts)."""
    from ipykernel import iostream

    stock = iostream.OutStream.flush
    if getattr(stock, "skips_empty", False):
        return

    def flush(self):
        if _nothing_buffered(self):
            return None
        return stock(self)

    flush.skips_empty = True
    flush.__doc__ = stock.__doc__
    iostream.OutStream.flush = flush
