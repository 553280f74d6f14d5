"""An example's zip works on its own: unzip it into an empty folder, install it with the
command its README gives (into a fresh virtual environment, so the repository's own
install is not touched), run the notebook in its quick setting, and check that the
kernel imported ``emseg`` from the unzipped copy, not from the repository.

The virtual environment sees the current environment's packages (``--system-site-packages``)
and the install uses ``--no-deps``: only the zip's own files (its ``requirements.txt``,
``pyproject.toml``, ``lib/emseg``) are installed. Where this Python's setuptools can build
the editable wheel itself (``setuptools>=70.1``, the zip's ``build-system``), the build
runs offline (``--no-build-isolation --no-index``); elsewhere pip builds in an isolated
environment with setuptools from the package index, so the test does not depend on what
happens to be installed in the base Python (e.g. the ``wheel`` package).
"""
import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The kernel the notebook runs in: the venv's Python, which first records where it
# imports emseg from, then starts as a normal ipykernel.
_KERNEL = ("import sys, emseg; open({marker!r}, 'w').write(emseg.__file__); "
           "from ipykernel import kernelapp; kernelapp.launch_new_instance()")


def _setuptools_builds_wheels():
    """Whether this Python's setuptools builds (editable) wheels without other packages."""
    try:
        from importlib.metadata import version
        major, minor = (int(x) for x in version("setuptools").split(".")[:2])
    except Exception:  # not installed, or an odd version string
        return False
    return (major, minor) >= (70, 1)


def _install_options():
    if _setuptools_builds_wheels():
        return ["--no-deps", "--no-build-isolation", "--no-index"]
    return ["--no-deps"]  # setuptools for the build comes from the package index


def _venv_python(folder):
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _example_keys():
    import re
    return sorted((m[1] for f in REPO.glob("example[0-9]*_*") if (m := re.match(r"(example\d+)_", f.name))),
                  key=lambda k: int(k[7:]))


@pytest.mark.slow
@pytest.mark.parametrize("key", _example_keys())
def test_example_zip_installs_and_runs_on_its_own(built_site, examples, tmp_path, key):
    ex = next(e for e in examples if e.key == key)
    archive = built_site / "downloads" / f"emseg-{ex.key}.zip"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path / "unzipped")
    project = tmp_path / "unzipped" / f"emseg-{ex.key}"
    readme = (project / "README.md").read_text()
    assert "python -m pip install -r requirements.txt" in readme
    for other in ex.needs:  # an example that reads another's results ships it, and says so
        assert f"python -m emseg run {other}" in readme and any(project.glob(f"{other}_*/*.ipynb"))

    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False, symlinks=os.name != "nt")
    python = _venv_python(env_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME",
                                                            "VIRTUAL_ENV")}
    env.update(EMSEG_DATA_DIR=str(tmp_path / "cache"), PIP_NO_INPUT="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    # the README's install command, run by this environment's pip into the venv
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", *_install_options(),
         "-r", "requirements.txt"],
        cwd=project, env=env, capture_output=True, text=True)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    where = subprocess.run([str(python), "-c", "import emseg; print(emseg.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).resolve().is_relative_to(project.resolve()), where.stdout

    # a kernel spec named like the notebook's ("python3") that runs the venv's Python
    marker = tmp_path / "kernel-emseg-path.txt"
    kernels = tmp_path / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-c", _KERNEL.format(marker=str(marker)), "-f", "{connection_file}"],
        "display_name": "Python 3 (unzipped example)", "language": "python"}))
    env["JUPYTER_PATH"] = str(tmp_path / "jupyter")

    for key in [*ex.needs, ex.key]:  # the README's order: what it needs first
        phantom = ["-p", "source", "phantom"] if key in ("example1", "example2", "example3") else []
        run = subprocess.run(
            [str(python), "-m", "emseg", "run", key, "--quick", "--quiet", "--no-html", *phantom],
            cwd=project, env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    used = Path(marker.read_text().strip()).resolve()
    assert used.is_relative_to((project / "lib" / "emseg").resolve()), used
    assert not used.is_relative_to(REPO.resolve())
    out = project / "runs" / f"{ex.key}-quick"
    executed = json.loads((out / ex.notebook.name).read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert json.loads((out / "run.json").read_text())["quick"] is True
    if ex.needs:  # the comparison with the needed example ran, on that example's results
        printed = json.dumps([o for c in executed["cells"] for o in c.get("outputs", [])])
        assert "higher organelle MIoU" in printed and "no results of example" not in printed
