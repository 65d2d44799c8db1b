"""The C heap of a command that computes over a whole portfolio.

glibc's ``malloc`` hands a freed block larger than its mmap threshold (128 KiB at
first, raised as large blocks are freed, up to 32 MiB) straight back to the system, and
trims the top of its heap whenever enough of it is free. The history features, the band
calibration and the payment model's facts at 100,000 customers make and drop some
hundreds of NumPy arrays of 15 MB each (one value per bill): each one is then faulted in
afresh, and each return to the system, with the fitting's threads running on other
cores, interrupts them all to flush their address translations. On the 2-core machine
of the benchmark, in fresh processes reading and fitting 100,000 customers, keeping
freed memory took the system time from 1.3–1.6 s to 0.7–0.8 s and the wall time from
3.3–3.6 s to 2.9–3.0 s (``python -m relief_kit.tools.bench --only features`` measures
the whole with this setting).

:func:`keep_freed_memory` asks ``malloc`` to keep what is freed for the next arrays
instead. The price is that the process's memory stays at its peak until it exits: it
is for commands that compute and exit (the meeting report), not for the review app or
a kernel that lives for a day.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt(3) parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

#: Blocks up to this size come from the heap (reused) rather than from their own mapping.
MMAP_THRESHOLD = 64 << 20
#: Free memory at the heap's top kept rather than given back.
TRIM_THRESHOLD = 1 << 30
#: Extra memory taken each time the heap grows (fewer, larger growths).
TOP_PAD = 64 << 20

_applied = False


def keep_freed_memory() -> bool:
    """Have glibc's ``malloc`` keep freed memory for reuse until the process exits
    (``mallopt``: mmap threshold :data:`MMAP_THRESHOLD`, trim threshold
    :data:`TRIM_THRESHOLD`, top pad :data:`TOP_PAD`; bytes). True when the settings are
    in force (already, or now); False on a system whose C library is not glibc (macOS,
    musl), where nothing changes. Never raises."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _applied = all(mallopt(parameter, value) == 1 for parameter, value in (
        (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (_M_TOP_PAD, TOP_PAD)))
    return _applied
