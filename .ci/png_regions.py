#!/usr/bin/env python3
"""png_regions.py -- checks that the key elements of a rendered report.html are drawn.

    python3 .ci/png_regions.py SCREENSHOT.png DOM_DUMP.html

SCREENSHOT.png is headless Chromium's --screenshot of report.html; DOM_DUMP.html its --dump-dom
of a copy of the page with .ci/report_check.sh's probe script, which writes each element's
bounding rectangle (page pixels), whether each <img> loaded and whether the history slider
works (slider_works) into <pre id="rin-check"> as JSON.
For every element in CHECKS this cuts its rectangle out of the screenshot and requires enough
distinct colours and enough pixels that differ from the region's most common colour (its
background); the loss chart must also show pixels of the curve's colour. Prints one line per
element and exits 1, naming each blank or missing element, if any check fails.

Python's standard library only (no PIL): the PNG is decoded here with zlib and the five PNG
row filters, for the 8-bit, non-interlaced grey, grey+alpha, RGB or RGBA files Chromium writes.
"""
import html
import json
import re
import struct
import sys
import zlib

# element -> (min distinct colours, min fraction of non-background pixels, min pixels near the
# curve colour or 0). The slider is a thin track and a knob: few colours but clearly not blank.
CHECKS = {
    "latest": (20, 0.20, 0),  # img#latest: the newest sample grid, large
    "loss": (20, 0.02, 100),  # svg#loss: the training loss chart with its curve
    "history": (3, 0.05, 0),  # input#history: the slider over the run's grids
    "thumbs": (20, 0.20, 0),  # div#thumbs: the history's thumbnails
}
CURVE_RGB = (0x1F, 0x6F, 0xB4)  # the charts' polyline stroke (cli/report.c)


def fail(msg):
    print("png_regions: " + msg, file=sys.stderr)
    sys.exit(1)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(path):
    """Returns (width, height, channels, rows) with rows a list of bytes objects."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("%s: not a PNG file" % path)
    pos, idat, ihdr = 8, [], None
    while pos + 12 <= len(data):
        n, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + n]
        if ctype == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
        pos += 12 + n
    if ihdr is None:
        fail("%s: no IHDR chunk" % path)
    w, h, depth, ctype, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace != 0:
        fail("%s: unsupported PNG (bit depth %d, colour type %d, interlace %d)"
             % (path, depth, ctype, interlace))
    raw = zlib.decompress(b"".join(idat))
    bpp, stride = channels, w * channels
    if len(raw) < h * (stride + 1):
        fail("%s: image data too short" % path)
    rows, prev = [], bytes(stride)
    hi = int.from_bytes(b"\x80" * stride, "big")
    lo = int.from_bytes(b"\x7f" * stride, "big")
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]
        if f == 0:
            cur = bytes(line)
        elif f == 2:  # Up: bytewise addition of two rows without carries between bytes
            a, b = int.from_bytes(line, "big"), int.from_bytes(prev, "big")
            cur = (((a & lo) + (b & lo)) ^ ((a ^ b) & hi)).to_bytes(stride, "big")
        else:
            cur = bytearray(line)
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                if f == 1:
                    cur[i] = (cur[i] + left) & 255
                elif f == 3:
                    cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 255
                elif f == 4:
                    upleft = prev[i - bpp] if i >= bpp else 0
                    cur[i] = (cur[i] + paeth(left, prev[i], upleft)) & 255
                else:
                    fail("%s: unknown row filter %d at row %d" % (path, f, y))
            cur = bytes(cur)
        rows.append(cur)
        prev = cur
    return w, h, channels, rows


def region_stats(img, rect):
    """Distinct colours, non-background fraction and curve-coloured pixels inside rect."""
    w, h, ch, rows = img
    x0, y0 = max(0, int(rect["x"])), max(0, int(rect["y"]))
    x1, y1 = min(w, int(rect["x"] + rect["w"])), min(h, int(rect["y"] + rect["h"]))
    if x1 <= x0 or y1 <= y0:
        return None
    counts, curve = {}, 0
    for y in range(y0, y1):
        row = rows[y]
        for x in range(x0, x1):
            px = row[x * ch : x * ch + min(ch, 3)]
            counts[px] = counts.get(px, 0) + 1
    for px, n in counts.items():
        if len(px) == 3 and all(abs(px[k] - CURVE_RGB[k]) <= 40 for k in range(3)):
            curve += n
    total = (x1 - x0) * (y1 - y0)
    background = max(counts.values())
    return len(counts), 1.0 - background / total, curve, (x0, y0, x1 - x0, y1 - y0)


def main():
    if len(sys.argv) != 3:
        fail("usage: png_regions.py SCREENSHOT.png DOM_DUMP.html")
    shot, dump = sys.argv[1], sys.argv[2]
    m = re.search(r'<pre id="rin-check">(.*?)</pre>', open(dump, encoding="utf-8").read(), re.S)
    if not m:
        fail("%s: no <pre id=\"rin-check\"> (the probe script did not run)" % dump)
    probe = json.loads(html.unescape(m.group(1)))
    img = decode_png(shot)
    print("screenshot %s: %d x %d, %d channels; %d <img> on the page, %d not loaded"
          % (shot, img[0], img[1], img[2], probe.get("images", 0),
             probe.get("images_not_loaded", 0)))
    bad = []
    if probe.get("images_not_loaded", 0):
        bad.append("%d <img> elements did not load (naturalWidth 0)" % probe["images_not_loaded"])
    if "slider_works" in probe:
        print("  slider   moved to 0: %s" % ("shows the oldest grid and its caption"
                                            if probe["slider_works"] else "NOTHING CHANGED"))
        if not probe["slider_works"]:
            bad.append("history: moving the slider did not show the oldest grid in img#latest")
    for name, (min_colours, min_fraction, min_curve) in CHECKS.items():
        rect = probe.get(name)
        if not rect:
            bad.append("%s: the element is missing from the page" % name)
            continue
        if rect.get("loaded") is False:
            bad.append("%s: the image did not load (naturalWidth 0)" % name)
        stats = region_stats(img, rect)
        if stats is None:
            bad.append("%s: its rectangle %s is outside the %d x %d screenshot"
                       % (name, rect, img[0], img[1]))
            continue
        colours, fraction, curve, (x, y, rw, rh) = stats
        ok = colours >= min_colours and fraction >= min_fraction and curve >= min_curve
        print("  %-8s %4d x %-4d at (%d, %d): %5d colours, %5.1f%% non-background%s  %s"
              % (name, rw, rh, x, y, colours, 100 * fraction,
                 ", %d curve pixels" % curve if min_curve else "", "ok" if ok else "BLANK"))
        if not ok:
            bad.append("%s is blank: %d colours (need %d), %.1f%% non-background (need %.0f%%)%s"
                       % (name, colours, min_colours, 100 * fraction, 100 * min_fraction,
                          ", %d curve pixels (need %d)" % (curve, min_curve) if min_curve else ""))
    if bad:
        for b in bad:
            print("FAILED: " + b, file=sys.stderr)
        sys.exit(1)
    print("png_regions: every checked element is drawn")


if __name__ == "__main__":
    main()
