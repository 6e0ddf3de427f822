"""The package in a process whose numeric locale uses a decimal comma (a German desktop's Python may
call locale.setlocale(locale.LC_ALL, "de_DE.UTF-8") before using eegpt): EDF headers are still read,
with the result of the C locale. The locale is made with localedef (Debian's `locales`, which
tools/setup/install_deps.sh installs) into a temporary LOCPATH when the system lacks it."""
import contextlib
import locale
import os
import shutil
import subprocess

import numpy as np
import pytest

import eegpt
from conftest import lib


@contextlib.contextmanager
def decimal_comma(tmp_path):
    previous = locale.setlocale(locale.LC_ALL)
    old_locpath = os.environ.get("LOCPATH")
    try:
        locale.setlocale(locale.LC_ALL, "de_DE.UTF-8")
    except locale.Error:
        if not shutil.which("localedef"):
            pytest.skip("no de_DE.UTF-8 locale and no localedef to make one (install Debian's 'locales')")
        subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", str(tmp_path / "de_DE.UTF-8")],
                       capture_output=True)  # may warn (non-zero) and still write the locale
        os.environ["LOCPATH"] = str(tmp_path)
        locale.setlocale(locale.LC_ALL, "de_DE.UTF-8")
    try:
        assert locale.localeconv()["decimal_point"] == ","
        yield
    finally:
        locale.setlocale(locale.LC_ALL, previous)
        if old_locpath is None:
            os.environ.pop("LOCPATH", None)
        else:
            os.environ["LOCPATH"] = old_locpath


@pytest.mark.parametrize("name", ["Subject00_2.edf", "S001R03.edf"])  # S001R03: EDFlib reads a repaired copy
def test_a_decimal_comma_locale_reads_recordings_as_the_c_locale_does(name, model, tmp_path):
    expected = eegpt.embed(lib.recording(name), model, progress=False, bandpass=(0.5, 40))
    with decimal_comma(tmp_path):
        # Before: "signal 1 ...: physical minimum or maximum is not a number" (strtod stopped at the '.').
        got = eegpt.embed(lib.recording(name), model, progress=False, bandpass=(0.5, 40))
    np.testing.assert_array_equal(got.features, expected.features)
    assert got.channels == expected.channels and got.warnings == expected.warnings
    np.testing.assert_equal(got.metadata, expected.metadata)
