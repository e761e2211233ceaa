#!/usr/bin/python3
"""Writes a copy-task clip file for the video preset: N clips of T identical 32x32 frames, each
with two 14x14 Fashion-MNIST training items (box-filtered from 28x28) at random places, overlaps
by the maximum, as a uint8 safetensors tensor (N, T, 32, 32, 1) named "clips". A model that
reads its conditioning frames predicts these perfectly; see docs/quality.md (video).

    /usr/bin/python3 dev/static_clips.py static.safetensors [N] [SEED]
    build/rin train --run runs/static --preset video --config configs/video.conf \\
        --data clips:static.safetensors --set total_steps=1500
    build/rin eval --model runs/static/model.safetensors --data clips:static.safetensors \\
        --n 100 --k 1 --steps 1        # its "conditioning check" line
"""
import gzip
import json
import os
import struct
import sys

import numpy as np


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
    rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    raw = gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()
    items = np.frombuffer(raw[16:], np.uint8).reshape(-1, 28, 28).astype(np.float32)
    items = items.reshape(-1, 14, 2, 14, 2).mean((2, 4))
    T = 16
    clips = np.zeros((n, T, 32, 32, 1), np.uint8)
    for i in range(n):
        frame = np.zeros((32, 32), np.float32)
        for _ in range(2):
            item = items[rng.integers(len(items))]
            y, x = rng.integers(0, 32 - 14 + 1, 2)
            frame[y:y + 14, x:x + 14] = np.maximum(frame[y:y + 14, x:x + 14], item)
        clips[i, :, :, :, 0] = np.round(frame).astype(np.uint8)[None]
    data = clips.tobytes()
    header = json.dumps({"clips": {"dtype": "U8", "shape": list(clips.shape),
                                   "data_offsets": [0, len(data)]}}).encode()
    header += b" " * ((8 - len(header) % 8) % 8)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)
    os.replace(tmp, out)
    print("wrote %s: %d clips of %d frames" % (out, n, T))


if __name__ == "__main__":
    main()
