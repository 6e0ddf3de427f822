"""`pip install .` as the README says it, in fresh venvs over Debian's Python: offline (--no-index,
the build backend from the wheels tools/setup/make_venv.sh keeps in the package venv's build-wheels),
leaving Debian's numpy and h5py in use, without the CUDA module unless asked for; then `pip wheel`,
and a second fresh venv that installs that wheel offline. Each venv imports eegpt and encodes.

The build reuses one build directory (build-python/install-test, with ccache where there is one),
so that only the first run compiles the engine."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DEBIAN = "/usr/lib/python3/dist-packages"
WHEELS = Path(sys.prefix) / "build-wheels"  # the package venv's (make_venv.sh package)
BUILD_DIR = REPO / "build-python" / "install-test"

# What the venv's import reports; the encode is a random-initialised tiny model on one window.
PROBE = """
import h5py, numpy, eegpt
x = numpy.zeros((1, 2, 256), numpy.float32)
print(h5py.__file__)
print(numpy.__file__, numpy.__version__)
print(eegpt.__file__)
model = eegpt.Model.random("tiny1", seed=0)
c = model.config
print(model.encode(x, ["FP1", "CZ"]).shape == (1, 256 // c["patch_size"], c["embed_num"], c["embed_dim"]))
"""


def offline_env():
    # Offline and from our wheels only: no index, no other find-links (PIP_FIND_LINKS), no CUDA
    # request inherited from the caller.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "SKBUILD_", "EEGPT_PYTHON_CUDA"))}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", CMAKE_BUILD_PARALLEL_LEVEL="2")
    if shutil.which("ccache"):
        env["SKBUILD_CMAKE_ARGS"] = "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache;-DCMAKE_C_COMPILER_LAUNCHER=ccache"
    return env


def run(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=offline_env())
    assert r.returncode == 0, "%s failed:\n%s%s" % (" ".join(map(str, args)), r.stdout[-4000:], r.stderr[-4000:])
    return r.stdout


def fresh_venv(path):
    run("/usr/bin/python3", "-m", "venv", "--system-site-packages", path)
    return path / "bin" / "python"


def site_packages(python):
    return Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())


def check_venv(python):
    """Debian's h5py and numpy in use (none installed into the venv), the package without the CUDA
    module, and an encode."""
    h5py_file, numpy_line, eegpt_file, encoded = run(python, "-c", PROBE).splitlines()
    numpy_file, numpy_version = numpy_line.split()
    assert h5py_file.startswith(DEBIAN + "/"), h5py_file
    assert numpy_file.startswith(DEBIAN + "/") and numpy_version.startswith("1."), numpy_line
    assert encoded == "True"
    site = site_packages(python)
    installed = sorted(p.name for p in site.iterdir() if p.name.lower().startswith(("h5py", "numpy")))
    assert installed == [], "pip installed into the venv: %s" % installed
    package = Path(eegpt_file).parent
    assert package.parent == site, eegpt_file
    assert list(package.glob("libeegpt_cuda*")) == [], "the CUDA module was built without EEGPT_PYTHON_CUDA"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not (WHEELS.is_dir() and any(WHEELS.glob("scikit_build_core-*.whl")) and any(WHEELS.glob("nanobind-*.whl"))):
        pytest.fail("no build-backend wheels in %s: make this venv with tools/setup/make_venv.sh DIR package" % WHEELS)
    tmp = tmp_path_factory.mktemp("install")
    python = fresh_venv(tmp / "venv")
    run(python, "-m", "pip", "install", "-q", "--no-index", "--find-links", WHEELS, "scikit-build-core", "nanobind")
    run(python, "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation",
        "--config-settings=build-dir=%s" % BUILD_DIR, REPO)
    return tmp, python


def test_pip_install_offline_keeps_debian_numpy_and_h5py(built):
    check_venv(built[1])


def test_wheel_installs_offline_in_a_second_fresh_venv(built):
    tmp, python = built
    dist = tmp / "dist"
    run(python, "-m", "pip", "wheel", "-q", "--no-index", "--no-build-isolation", "--no-deps",
        "--config-settings=build-dir=%s" % BUILD_DIR, "-w", dist, REPO)
    wheel, = dist.glob("eegpt-*.whl")
    second = fresh_venv(tmp / "second")
    run(second, "-m", "pip", "install", "-q", "--no-index", "--find-links", dist, "eegpt")
    check_venv(second)
