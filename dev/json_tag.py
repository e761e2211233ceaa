"""json_tag.py -- adds fields to a `rin eval --json` result and moves it into place atomically,
for the dev/ studies:

    python3 dev/json_tag.py SRC DST key=value ...

A value that reads as an integer is stored as one. DST is written through a temporary file,
fsync and rename; SRC is removed."""
import json
import os
import sys

src, dst, *pairs = sys.argv[1:]
r = json.load(open(src))
for kv in pairs:
    k, v = kv.split("=", 1)
    r[k] = int(v) if v.lstrip("-").isdigit() else v
with open(dst + ".tmp", "w") as f:
    json.dump(r, f, indent=1)
    f.flush()
    os.fsync(f.fileno())
os.replace(dst + ".tmp", dst)
os.remove(src)
