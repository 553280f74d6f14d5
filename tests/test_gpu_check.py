"""bench/gpu_check.sh, the prepared script for a lent GPU machine: valid bash, and on a
machine without CUDA it refuses DEVICE=cuda with one line saying how to rehearse on a CPU
(its full CPU rehearsal, DEVICE=cpu QUICK=1, takes minutes: it is run by hand)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_check.sh"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_script_parses_and_refuses_cuda_without_a_gpu(tmp_path):
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: run the script itself")
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OUT": str(tmp_path / "out"), "DEVICE": "cuda"})
    assert proc.returncode == 1
    assert "error: DEVICE=cuda but PyTorch sees no CUDA GPU here" in proc.stdout
    assert "DEVICE=cpu QUICK=1" in proc.stdout
    assert (tmp_path / "out" / "summary.txt").is_file()
