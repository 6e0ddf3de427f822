#!/usr/bin/env bash
# Installs the Debian 12 packages the engine, its tests and its tools need (skips apt when all are
# present). Debian packages are preferred over vendored code: see the README. The optional ones turn
# on one extra each (cmake/optional_deps.cmake); EEGPT_OPTIONAL_PACKAGES=no leaves them out, which is
# how tools/setup/fresh_machine.sh shows that nothing else depends on them.
set -euo pipefail
packages=(cmake g++ make libeigen3-dev libhdf5-dev catch2 libcli11-dev libedf-dev libfftw3-dev python3-venv
          python3 python3-torch libopenblas0-pthread python3-h5py python3-numpy python3-scipy python3-pytest python3-mne python3-sklearn
          locales   # localedef: test_edf.cpp reads EDF files under a decimal-comma locale (de_DE.UTF-8)
          clang libclang-rt-14-dev)  # libFuzzer, ASan, UBSan: the fuzz targets replay their corpora (test/fuzz)
optional=(libdnnl-dev)  # oneDNN: bench_gemm only
case "${EEGPT_OPTIONAL_PACKAGES:-yes}" in
  yes) packages+=("${optional[@]}") ;;
  no) ;;
  *) echo "install_deps: EEGPT_OPTIONAL_PACKAGES is yes or no, got '$EEGPT_OPTIONAL_PACKAGES'" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
