"""Peak memory of one forward+backward call, three ways.

- :class:`StorageTracker` (CPU, exact): a ``TorchDispatchMode`` that records every tensor storage an ATen
  op produces during the call once and releases it when the storage is freed. Storages that existed
  before the call (the inputs) and views / in-place results on them are not counted. Scratch memory that
  a kernel allocates and frees internally without producing a tensor is invisible to it. It also counts
  the ATen ops per call (about one kernel launch each on a GPU).
- :func:`peak_call` on CUDA: ``max_memory_allocated()`` after ``reset_peak_memory_stats()`` minus
  ``memory_allocated()`` before the call (the inputs); kernel workspace goes through the caching allocator
  and is counted.
- :func:`allocator_peak_cpu`: the CPU allocator's own balance from ``torch.profiler(profile_memory=True)``,
  an independent cross-check that also sees kernel-internal temporaries (e.g. the dtype-cast copies
  TensorIterator makes on CPU).

A measured call is a closure returning ``(loss, metrics)``; the helpers run ``loss.backward()`` and clear
``log_prob.grad`` before and after.
"""

from __future__ import annotations

import gc
import os
import sys
import weakref
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .baselines import LossCall

StorageKey = tuple[str, int | None, int]


def _storages(tree: Any) -> Iterator[torch.UntypedStorage]:
    for leaf in tree_flatten(tree)[0]:
        if isinstance(leaf, torch.Tensor):
            yield leaf.untyped_storage()


def _storage_key(st: torch.UntypedStorage) -> StorageKey:
    return (st.device.type, st.device.index, st.data_ptr())


class StorageTracker(TorchDispatchMode):
    """Live bytes of the tensor storages produced inside the ``with`` block, and their peak.

    Every output of every ATen op is inspected; a storage is counted once (keyed by device and data
    pointer, its full ``nbytes``) and released by a ``weakref.finalize`` on the storage object, which runs
    when the storage itself is freed (torch keeps a storage's Python object alive as long as the storage,
    so views and autograd-saved tensors keep it counted). Outputs that alias an input storage not created
    inside the block (views, ``detach``, in-place ops on pre-existing tensors) are not counted.
    ``peak_bytes`` is the peak of ``live_bytes`` above the baseline at entry, which is 0 by construction.
    """

    def __init__(self) -> None:
        super().__init__()
        self._live: dict[StorageKey, tuple[int, int]] = {}  # key -> (token, nbytes)
        self._token = 0
        self.live_bytes = 0
        self.peak_bytes = 0
        self.allocations = 0
        self.ops = 0  # ATen ops dispatched (about one kernel launch each on an accelerator)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        kwargs = kwargs or {}
        self.ops += 1
        out = func(*args, **kwargs)
        outputs = list(_storages(out))
        if outputs:
            inputs = {_storage_key(st) for st in _storages((args, kwargs))}
            for st in outputs:
                key = _storage_key(st)
                nbytes = st.nbytes()
                if nbytes == 0 or key in self._live or key in inputs:
                    continue
                self._token += 1
                self._live[key] = (self._token, nbytes)
                weakref.finalize(st, self._release, key, self._token)
                self.allocations += 1
                self.live_bytes += nbytes
                self.peak_bytes = max(self.peak_bytes, self.live_bytes)
        return out

    def _release(self, key: StorageKey, token: int) -> None:
        entry = self._live.get(key)
        if entry is not None and entry[0] == token:
            del self._live[key]
            self.live_bytes -= entry[1]


def tracked_call(call: LossCall, log_prob: torch.Tensor) -> StorageTracker:
    """One forward+backward under the storage tracker (peak bytes above the inputs, ATen op count)."""
    log_prob.grad = None
    gc.collect()
    with StorageTracker() as tracker:
        loss, metrics = call()
        loss.backward()
    del loss, metrics
    log_prob.grad = None
    return tracker


def peak_call(call: LossCall, log_prob: torch.Tensor, device: torch.device) -> int:
    """Peak bytes above what was allocated before one forward+backward (the inputs)."""
    if device.type != "cuda":
        return tracked_call(call, log_prob).peak_bytes
    log_prob.grad = None
    gc.collect()
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    loss, metrics = call()
    loss.backward()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - base
    del loss, metrics
    log_prob.grad = None
    return peak


class _Silenced:
    """Redirect the process's stdout/stderr file descriptors (the profiler's C++ start/stop chatter)."""

    def __enter__(self) -> _Silenced:
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = [os.dup(1), os.dup(2)]
        self._null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self._null, 1)
        os.dup2(self._null, 2)
        return self

    def __exit__(self, *exc: object) -> bool:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in (*self._saved, self._null):
            os.close(fd)
        return False


def allocator_peak_cpu(call: LossCall, log_prob: torch.Tensor) -> int | None:
    """Peak of the CPU allocator's running balance during one forward+backward, from
    ``torch.profiler(profile_memory=True)`` allocation/free events. None when the profiler's raw events
    are not available in this torch version."""
    from torch.profiler import ProfilerActivity, profile

    log_prob.grad = None
    gc.collect()
    try:
        with _Silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            loss, metrics = call()
            loss.backward()
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    except Exception:  # private API (kineto_results): degrade to "not available"
        return None
    finally:
        log_prob.grad = None
    del loss, metrics
    balance = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        balance += e.nbytes()
        peak = max(peak, balance)
    return peak
