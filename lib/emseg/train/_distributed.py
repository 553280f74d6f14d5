"""Multi-GPU (or multi-process CPU) training with ``torchrun``: DistributedDataParallel.

:func:`emseg.train.fit` calls :meth:`Distributed.setup` once. Started by ``torchrun``
(``WORLD_SIZE`` > 1 in the environment) it joins the process group (NCCL on GPUs,
gloo on CPUs), gives each process its GPU (``cuda:LOCAL_RANK``) and its own share of
the training windows, and wraps the network in ``DistributedDataParallel`` so that
gradients are averaged and every process keeps identical weights. Started any other
way it is a no-op: one process, rank 0, nothing changes.

::

    torchrun --standalone --nproc_per_node 4 train.py     # train.py calls emseg.train.fit
"""
import os

import torch

__all__ = ["Distributed"]


class Distributed:
    """Where this process stands in a ``torchrun`` job (world size 1 without torchrun)."""

    def __init__(self, rank=0, world_size=1, local_rank=0, created=False):
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self._created = created

    @classmethod
    def setup(cls):
        """Join the process group when started by torchrun; else a single-process context."""
        import torch.distributed as dist

        if not dist.is_available():
            return cls()
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size(),
                       int(os.environ.get("LOCAL_RANK", "0")))
        if world <= 1:
            return cls()
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(local % torch.cuda.device_count())
            backend = "nccl"
        else:
            backend = "gloo"
        dist.init_process_group(backend=backend)
        return cls(dist.get_rank(), dist.get_world_size(), local, created=True)

    @property
    def enabled(self):
        return self.world_size > 1

    @property
    def is_main(self):
        """Rank 0: the process that validates, writes checkpoints and shows progress."""
        return self.rank == 0

    def device(self, requested):
        """``requested``, else this process's GPU under torchrun (``cuda:LOCAL_RANK``), else
        the usual choice (:func:`emseg.device.pick_device`)."""
        from emseg.device import pick_device

        if requested is None and self.enabled and torch.cuda.is_available():
            return torch.device(f"cuda:{self.local_rank % torch.cuda.device_count()}")
        return pick_device(requested)

    def window_indices(self, iteration, batch_size):
        """The sampler's window indices for this process at ``iteration``: disjoint across
        processes, so each step trains on ``world_size x batch_size`` different windows
        (single process: ``iteration * batch_size ...``, as always)."""
        first = (iteration * self.world_size + self.rank) * batch_size
        return range(first, first + batch_size)

    def wrap(self, model, device):
        """The module to call in training: ``model`` itself, or a DDP wrapper around it
        (which averages gradients across processes); checkpoints save ``model``."""
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index if device.index is not None else torch.cuda.current_device()] \
            if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def mean(self, values, device):
        """Average floats over processes (single process: returned as they are)."""
        if not self.enabled:
            return list(values)
        import torch.distributed as dist

        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return (t / self.world_size).tolist()

    def barrier(self):
        """Wait until every process gets here (nothing to do in one process)."""
        if self.enabled:
            import torch.distributed as dist
            dist.barrier()

    def close(self):
        """Leave the process group if :meth:`setup` joined it (after a barrier)."""
        if self._created:
            import torch.distributed as dist
            dist.barrier()
            dist.destroy_process_group()
            self._created = False
