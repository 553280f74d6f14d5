"""What the ECS modules share: the voxel-size check and the section view of a mask."""
import numpy as np


def voxel_size_zyx(voxel_size, ndim):
    """(vz, vy, vx) in nm; vz is None for a (y, x) voxel size of a 2D mask."""
    vs = np.atleast_1d(np.asarray(voxel_size, dtype=float)) if voxel_size is not None else None
    if vs is None or vs.ndim != 1 or len(vs) not in (2, 3) or not np.all(np.isfinite(vs)) \
            or np.any(vs <= 0):
        raise ValueError(f"voxel_size must be positive sizes in nm, (z, y, x) or (y, x) for a 2D "
                         f"mask, got {voxel_size!r}")
    if len(vs) == 2:
        if ndim == 3:
            raise ValueError(f"a (z, y, x) mask needs a (z, y, x) voxel_size, got {voxel_size!r}")
        return None, float(vs[0]), float(vs[1])
    return float(vs[0]), float(vs[1]), float(vs[2])


def as_sections(mask):
    """A (y, x) mask as one section (1, y, x); a (z, y, x) mask as it is."""
    return mask[None] if mask.ndim == 2 else mask
