"""embed_many: locally and on a Dask LocalCluster (2 workers, 1 thread each) the same outputs as
`eegpt embed`; the CLI's resume rule (an existing output is skipped; deleted, it is redone);
collisions refused before any work; a failing recording reported without stopping the others."""
import os
import shutil

import h5py
import numpy as np
import pytest

import eegpt
from conftest import lib

NAMES = ["Subject00_1.edf", "Subject00_2.edf", "S001R03.edf"]


def features(path):
    return eegpt.read_features(path).features


@pytest.fixture(scope="module")
def recordings():
    return [lib.recording(n) for n in NAMES]


@pytest.fixture(scope="module")
def local(weights, recordings, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    jobs = eegpt.embed_many(recordings, out, model=weights, stride=4.0)
    assert [j.status for j in jobs] == ["done"] * 3
    return out, jobs


def test_local_equals_the_cli(weights, recordings, local, tmp_path):
    out, jobs = local
    lib.run_ok("embed", *recordings, "--weights", weights, "--output-dir", tmp_path, "--quiet")
    for j in jobs:
        assert j.output == os.path.join(str(out), os.path.basename(j.output))
        np.testing.assert_array_equal(features(j.output), features(tmp_path / os.path.basename(j.output)))


def test_local_cluster_equals_local_and_resumes(weights, recordings, local, tmp_path):
    distributed = pytest.importorskip("distributed")
    out, local_jobs = local
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c, \
            distributed.Client(c) as client:
        jobs = eegpt.embed_many(recordings, tmp_path, model=eegpt.Model(weights), client=client)
        assert [j.status for j in jobs] == ["done"] * 3
        for a, b in zip(jobs, local_jobs):
            np.testing.assert_array_equal(features(a.output), features(b.output))
        # One model per worker process, kept for its next tasks (3 tasks on 2 workers).
        cached = client.run(lambda dask_worker: len(getattr(dask_worker, "_eegpt_models", {})))
        assert sorted(cached.values()) in ([1, 1], [0, 1]), cached
        # Resume: one output deleted, only it is redone; the others are not touched.
        mtimes = {j.output: os.stat(j.output).st_mtime_ns for j in jobs}
        os.remove(jobs[1].output)
        again = eegpt.embed_many(recordings, tmp_path, model=eegpt.Model(weights), client=client)
        assert [j.status for j in again] == ["skipped", "done", "skipped"]
        for j in (again[0], again[2]):
            assert os.stat(j.output).st_mtime_ns == mtimes[j.output]
        np.testing.assert_array_equal(features(again[1].output), features(local_jobs[1].output))
        assert not [f for f in os.listdir(tmp_path) if ".partial" in f]


def test_collisions_failures_and_force(weights, recordings, tmp_path):
    copy_dir = tmp_path / "other"
    copy_dir.mkdir()
    shutil.copy(recordings[1], copy_dir / NAMES[1])
    with pytest.raises(eegpt.Error, match="would both write"):
        eegpt.embed_many([recordings[1], copy_dir / NAMES[1]], tmp_path / "out", model=weights)
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")
    missing = str(tmp_path / "missing.edf")
    jobs = eegpt.embed_many([missing, recordings[1]], tmp_path / "out", model=weights)
    assert [j.status for j in jobs] == ["failed", "done"]
    assert "missing.edf" in jobs[0].error and "\n" not in jobs[0].error
    forced = eegpt.embed_many([recordings[1]], tmp_path / "out", model=weights, force=True)
    assert forced[0].status == "done"


def test_the_cli_and_embed_many_resume_each_other(weights, recordings, tmp_path):
    # Same job: the CLI's outputs are kept by embed_many and the other way round (the job records
    # are equal, line for line); another stride or other weights: recomputed, with a warning.
    lib.run_ok("embed", *recordings[:2], "--weights", weights, "--output-dir", tmp_path, "--quiet",
               "--stride", "2", "--channels", "standard19", "--bandpass", "0.5,40", "--notch", "50")
    options = dict(stride=2.0, channels="standard19", bandpass=(0.5, 40), notch=50)
    jobs = eegpt.embed_many(recordings[:2], tmp_path, model=weights, **options)
    assert [j.status for j in jobs] == ["skipped", "skipped"]
    with pytest.warns(UserWarning, match="other stride_s"):
        again = eegpt.embed_many(recordings[:1], tmp_path, model=weights, **dict(options, stride=4.0))
    assert again[0].status == "done"
    r = lib.run_ok("embed", recordings[0], "--weights", weights, "--output-dir", tmp_path, "--stride", "4",
                   "--channels", "standard19", "--bandpass", "0.5,40", "--notch", "50")
    assert "done already" in r.stdout
    other = str(tmp_path / "other.h5")
    shutil.copy(weights, other)
    with h5py.File(other, "a") as f:
        f.attrs["source_checkpoint"] = "another"
    with pytest.warns(UserWarning, match="other weights"):
        assert eegpt.embed_many(recordings[1:2], tmp_path, model=other, **options)[0].status == "done"
