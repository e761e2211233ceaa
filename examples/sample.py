#!/usr/bin/env python3
"""sample.py -- rin's sampler from Python through ctypes: no build step, a NumPy array back.

    python3 examples/sample.py models/fmnist.safetensors [--n 20] [--seed 0] [--png out.png]

The library is found as librin.so.0 on the loader's path (LD_LIBRARY_PATH, or an installed
prefix known to ldconfig); RIN_LIB=/path/to/librin.so.0 names it directly. The structs below
mirror include/rin.h (rin_generator_options, rin_generate_request and the head of rin_config).
"""
import argparse
import ctypes as C
import os
import sys

import numpy as np


class Options(C.Structure):
    _fields_ = [("weights", C.c_char_p), ("max_batch", C.c_int)]


PROGRESS = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_int, C.c_int)


class Request(C.Structure):
    _fields_ = [("n", C.c_int), ("labels", C.POINTER(C.c_int)), ("guidance", C.c_double),
                ("sampler", C.c_char_p), ("steps", C.c_int), ("spacing", C.c_char_p),
                ("seed", C.c_uint64), ("progress", PROGRESS), ("user", C.c_void_p)]


class ConfigHead(C.Structure):  # rin_config up to num_classes
    _fields_ = [("H", C.c_int), ("W", C.c_int), ("C", C.c_int), ("patch", C.c_int),
                ("E", C.c_int), ("D", C.c_int), ("L", C.c_int), ("num_blocks", C.c_int),
                ("K", C.c_int * 32), ("lat_heads", C.c_int), ("rw_heads", C.c_int),
                ("lat_mlp_ratio", C.c_int), ("tape_mlp_ratio", C.c_int),
                ("drop_units", C.c_float), ("drop_path", C.c_float), ("num_classes", C.c_int)]


def load(path=None):
    lib = C.CDLL(path or os.environ.get("RIN_LIB", "librin.so.0"))
    lib.rin_version.restype = C.c_char_p
    lib.rin_generator_open.argtypes = [C.POINTER(C.c_void_p), C.c_char_p, C.POINTER(Options),
                                       C.c_char_p, C.c_size_t]
    lib.rin_generator_config.restype = C.POINTER(ConfigHead)
    lib.rin_generator_config.argtypes = [C.c_void_p]
    lib.rin_generate_request_default.argtypes = [C.POINTER(Request)]
    lib.rin_generate.argtypes = [C.c_void_p, C.POINTER(Request), C.POINTER(C.c_float)]
    lib.rin_generator_last_error.restype = C.c_char_p
    lib.rin_generator_last_error.argtypes = [C.c_void_p]
    lib.rin_generator_close.argtypes = [C.c_void_p]
    lib.rin_png_write.argtypes = [C.c_char_p, C.POINTER(C.c_uint8), C.c_int, C.c_int, C.c_int,
                                  C.c_char_p, C.c_size_t]
    return lib


def sample(lib, model, n=20, seed=0, sampler="ddim", steps=50, guidance=0.0, labels=None):
    """n images (n, H, W, C) float32 in [0, 1] from the checkpoint `model`."""
    err = C.create_string_buffer(1024)
    g = C.c_void_p()
    if lib.rin_generator_open(C.byref(g), model.encode(), None, err, len(err)):
        raise RuntimeError(err.value.decode())
    try:
        cfg = lib.rin_generator_config(g).contents
        req = Request()
        lib.rin_generate_request_default(C.byref(req))
        req.n, req.seed, req.sampler, req.steps, req.guidance = n, seed, sampler.encode(), steps, guidance
        if labels is not None:
            lab = (C.c_int * n)(*labels)
            req.labels = C.cast(lab, C.POINTER(C.c_int))
        out = np.empty((n, cfg.H, cfg.W, cfg.C), dtype=np.float32)
        if lib.rin_generate(g, C.byref(req), out.ctypes.data_as(C.POINTER(C.c_float))):
            raise RuntimeError(lib.rin_generator_last_error(g).decode())
        return out
    finally:
        lib.rin_generator_close(g)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--png", help="also write the images side by side to this PNG")
    a = ap.parse_args()
    lib = load()
    x = sample(lib, a.model, n=a.n, seed=a.seed)
    print(f"rin {lib.rin_version().decode()}: {x.shape[0]} images {x.shape[1:]} "
          f"{x.dtype}, mean {x.mean():.3f}, range [{x.min():.3f}, {x.max():.3f}]")
    if a.png:
        n, H, W, Ch = x.shape
        row = np.ascontiguousarray((np.rint(255 * x)).astype(np.uint8).transpose(1, 0, 2, 3).reshape(H, n * W, Ch))
        err = C.create_string_buffer(1024)
        if lib.rin_png_write(a.png.encode(), row.ctypes.data_as(C.POINTER(C.c_uint8)), H, n * W, Ch, err, len(err)):
            sys.exit(err.value.decode())
        print(f"wrote {a.png}")


if __name__ == "__main__":
    main()
