"""What the two tracers (voxel scooping, the skeleton baseline) share: the 26-neighbourhood
of a voxel and the checks of their numeric options."""
import numpy as np

from emseg.data.swc import is_real

STRUCT26 = np.ones((3, 3, 3), bool)
OFFSETS = np.array([(dz, dy, dx) for dz in (-1, 0, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                    if (dz, dy, dx) != (0, 0, 0)])


def check_count(value, name, low=0):
    """``value`` as an int >= ``low``; a ValueError naming the option otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_float(value, name):
    """``value`` as a finite float >= 0; a ValueError naming the option otherwise."""
    if not is_real(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)
