#!/usr/bin/env python3
"""Regenerate the small committed fixtures in weights/fixtures/:

  tiny2_seed0.h5   random-init tiny2, seed 0 (docs/weight-format.md definition; the C++ init must match it bit for bit)
  tiny2_parity.h5  x (2x5x256 float32), channels (mixed case / trailing dots on purpose),
                   channel_ids (int32), expected (float32) and expected_f64: the float64 reference
                   output of tiny2_seed0.h5 on x.
"""
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_ckpt  # noqa: E402
import eegpt_format as fmt  # noqa: E402
import eegpt_reference as ref  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(HERE), "weights", "fixtures")
CHANNELS = ["Fp1", "cz", "O2.", "T7", "FPZ"]


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    wpath = os.path.join(FIXTURES, "tiny2_seed0.h5")
    convert_ckpt.random_init("tiny2", 0, wpath)

    # ~0.05 scale: the size of EEG in millivolts, the unit the model was trained on.
    x = (np.random.default_rng(1).standard_normal((2, len(CHANNELS), 256)) * 0.05).astype(np.float32)
    ids = fmt.channel_ids(CHANNELS)
    model, _ = ref.load_model(wpath)
    expected = ref.encode(model, x, ids)

    ppath = os.path.join(FIXTURES, "tiny2_parity.h5")
    tmp = ppath + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.create_dataset("x", data=x, track_times=False)
        f.create_dataset("channels", data=np.array(CHANNELS, dtype=object),
                         dtype=h5py.string_dtype("utf-8"), track_times=False)
        f.create_dataset("channel_ids", data=ids, track_times=False)
        f.create_dataset("expected", data=expected.astype(np.float32), track_times=False)
        f.create_dataset("expected_f64", data=expected, track_times=False)
    os.replace(tmp, ppath)
    print("wrote %s and %s" % (wpath, ppath))


if __name__ == "__main__":
    main()
