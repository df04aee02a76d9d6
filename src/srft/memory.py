"""Give freed tensor memory back to the operating system (glibc's malloc, Linux).

glibc serves a large allocation with its own mmap and unmaps it on free, but it raises that
size threshold each time such a block is freed, up to 32 MB. A CPU training allocates and frees
activation tensors of a few MB per layer and step; after the first few, they all come from the
heap, which glibc rarely shrinks, so the process keeps every freed tensor's pages. Measured on the
demo (SmolLM2-135M, LoRA, one 1024-token micro-batch): two steps peak at 2.19 GB with the
dynamic threshold and at 1.05 GB with a fixed one (docs/benchmarks/demo-time.md). Setting the
threshold once fixes it, as `MALLOC_MMAP_THRESHOLD_=131072` in the environment would.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_MMAP_THRESHOLD = -3  # mallopt parameter number, from glibc's malloc.h
THRESHOLD_BYTES = 128 * 1024


def return_freed_memory() -> bool:
    """Fix glibc's mmap threshold at 128 KiB (its default before it adapts); True if set.

    A no-op elsewhere than glibc on Linux, and where the user set `MALLOC_MMAP_THRESHOLD_`.
    """
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
