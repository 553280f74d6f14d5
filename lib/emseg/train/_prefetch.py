"""Training batches prepared ahead of the step, in a background thread.

Window sampling and augmentation (numpy and scipy, which release the GIL for their
array work) then run while the network trains on the previous batch. The batch of an
iteration is a pure function of the iteration (:class:`WindowSampler`), so a run makes
the same batches with and without prefetching, and resumes exactly either way.
"""
import queue
import threading
import time

__all__ = ["Prefetcher"]


class Prefetcher:
    """``make(i)`` for ``i`` in ``range(start, stop)``, in order, ``depth`` ahead.

    Parameters
    ----------
    make : callable
        ``make(i)`` returns the batch of iteration ``i``; a pure function of ``i``.
    start, stop : int
        The iterations, as in ``range(start, stop)``.
    depth : int
        Batches made ahead in one background thread; 0 makes each batch when it is asked
        for, in the caller's thread.

    Notes
    -----
    Use it as a context manager, so that the thread stops when the loop ends, also on an
    error or Ctrl-C. An error raised by ``make`` is raised again by :meth:`get` of that
    iteration.
    """

    def __init__(self, make, start, stop, *, depth=2):
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise ValueError(f"depth must be an integer >= 0, got {depth!r}")
        self._make, self._next, self._depth = make, int(start), depth
        self._stop = threading.Event()
        self._thread = None
        if depth and start < stop:
            self._queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._work, args=(int(start), int(stop)),
                                            name="emseg-prefetch", daemon=True)
            self._thread.start()

    def _work(self, start, stop):
        for i in range(start, stop):
            try:
                item = (self._make(i), None)
            except BaseException as err:  # handed to the loop, which raises it
                item = (None, err)
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if item[1] is not None or self._stop.is_set():
                return

    def get(self, i):
        """The batch of iteration ``i`` (the next one) and the seconds spent waiting for it."""
        if i != self._next:
            raise RuntimeError(f"batches come in order: asked for iteration {i}, the next is "
                               f"{self._next}")
        self._next += 1
        t0 = time.perf_counter()
        if self._thread is None:
            batch = self._make(i)
        else:
            batch, err = self._queue.get()
            if err is not None:
                raise err
        return batch, time.perf_counter() - t0

    def close(self):
        """Stop the thread (it finishes the batch it is making) and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
