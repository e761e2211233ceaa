#!/usr/bin/python3
"""Writes the small seed corpora of fuzz/corpus/ (committed; rerun only to change them).

Seeds are valid inputs of each reader, a few bytes to a few KB, so that mutations start from
structure the reader accepts: IDX files (plain and gzipped), CIFAR-10 records, PNGs of every
colour type stb_image handles, hand-made safetensors files, config files. The model checkpoints
(model_micro, train_micro) are written by `rin init` / `rin train`, see .ci/fuzz.sh's header.
"""
import gzip, json, os, struct, sys, zlib

root = sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus"


def put(sub, name, data):
    os.makedirs(os.path.join(root, sub), exist_ok=True)
    with open(os.path.join(root, sub, name), "wb") as f:
        f.write(data)


# ---- IDX: flags byte, image length (2 bytes LE), image file, label file (fuzz_idx.c) --------
def idx_images(n, r, c):
    return struct.pack(">IIII", 0x803, n, r, c) + bytes((i * 37) % 256 for i in range(n * r * c))


def idx_labels(n):
    return struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n))


def idx_seed(flags, img, lab):
    return bytes([flags]) + struct.pack("<H", len(img)) + img + lab


img, lab = idx_images(3, 4, 4), idx_labels(3)
put("idx", "images_only", idx_seed(0, img, b""))
put("idx", "images_labels", idx_seed(1, img, lab))
gi, gl = gzip.compress(img, mtime=0), gzip.compress(lab, mtime=0)
put("idx", "gz_both", idx_seed(7, gi, gl))
put("idx", "one_pixel", idx_seed(1, idx_images(1, 1, 1), idx_labels(1)))

# ---- CIFAR-10: whole 3073-byte records ------------------------------------------------------
rec = lambda lab, k: bytes([lab]) + bytes((i * k) % 256 for i in range(3072))
put("cifar", "one_record", rec(3, 7))
put("cifar", "two_records", rec(0, 1) + rec(9, 13))


# ---- PNG: grey, grey+alpha, RGB, RGBA, palette, 16-bit, interlaced ----------------------------
def png(w, h, ctype, depth=8, interlace=0, plte=None):
    ch = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    bpp = ch * depth // 8 if depth >= 8 else 1
    row = (w * ch * depth + 7) // 8
    raw = b"".join(b"\x00" + bytes((x * 31 + y * 17) % 256 for x in range(row)) for y in range(h))
    if ctype == 3:
        raw = b"".join(b"\x00" + bytes(x % 4 for x in range(row)) for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace))
    if plte:
        out += chunk(b"PLTE", plte)
    if interlace:  # only for 1x1: all passes but the first are empty
        raw = b"\x00" + raw[1:]
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


put("png", "grey_4x4", png(4, 4, 0))
put("png", "grey_alpha_3x2", png(3, 2, 4))
put("png", "rgb_5x3", png(5, 3, 2))
put("png", "rgba_2x6", png(2, 6, 6))
put("png", "palette_4x4", png(4, 4, 3, plte=bytes(range(12))))
put("png", "grey16_3x3", png(3, 3, 0, depth=16))
put("png", "grey1bit_9x2", png(9, 2, 0, depth=1))
put("png", "interlaced_1x1", png(1, 1, 2, interlace=1))
put("png", "rgb_8x8", png(8, 8, 2))


# ---- safetensors: hand-made files of every dtype, a scalar, an empty tensor -----------------
def st(tensors, meta=None):
    header, data = {}, b""
    if meta:
        header["__metadata__"] = meta
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


put("safetensors", "dtypes", st([
    ("a", "F32", [2, 3], struct.pack("<6f", *range(6))),
    ("b", "F64", [2], struct.pack("<2d", 0.5, -1)),
    ("c", "I32", [1], struct.pack("<i", 7)),
    ("d", "I64", [], struct.pack("<q", -3)),
    ("e", "U8", [0, 4], b""),
    ("f", "U8", [3], b"xyz"),
], {"format": "rin-fixture", "note": "hand-made"}))
put("safetensors", "empty", st([]))
put("safetensors", "meta_only", st([], {"format": "rin-checkpoint", "step": "3"}))

# ---- config files (rin train --config) ----------------------------------------------------------
put("config", "keys", b"""# a comment
image_height = 8
image_width=8
patch_size = 4   # trailing comment
num_layers = 2,1,0
self_cond = none
drop_path = 0.1
lr = 1e-3
lr_schedule = cosine@0.5
train_schedule = sigmoid@-3,3,0.9
optimizer = adamw
seed = 18446744073709551615
""")
put("config", "schedules", b"train_schedule = cosine@0.2,1,1\r\npred_type = v\r\n")
put("config", "bad_line", b"tape_dim 64\n")
