"""svgplot.py -- one dependency-free line plot as SVG for the dev/ studies (no matplotlib here).

    python3 dev/svgplot.py OUT.svg XLABEL YLABEL LOGX < series.json
    series.json: {"NAME": [[x, y], ...], ...}  (points sorted by x per series)

or from Python: import svgplot; svgplot.write(path, series, xlabel, ylabel, logx, ymax=None,
xticks=None). ymax caps the y axis (lines are clipped at the top, so an outlier does not
flatten the rest); xticks lists the x values to label (default: every x of the data). Series
past the eighth repeat the colours dashed. The file is written atomically (temp file, rename)."""
import json
import math
import os
import sys

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


DASHES = ["", "6,3", "2,3"]


def write(path, series, xlabel, ylabel, logx=False, W=640, H=400, ymax=None, xticks=None):
    L, R, T, B = 64, 160, 20, 40
    pts = [p for s in series.values() for p in s] or [(1, 1)]
    fx = (lambda v: math.log(v)) if logx else (lambda v: v)
    x0, x1 = min(fx(p[0]) for p in pts), max(fx(p[0]) for p in pts)
    if x1 <= x0:
        x1 = x0 + 1
    y0, y1 = 0.0, max(p[1] for p in pts) * 1.05
    if ymax is not None and ymax < y1:
        y1 = ymax
    if y1 <= y0:
        y1 = 1.0
    X = lambda v: L + (fx(v) - x0) / (x1 - x0) * (W - L - R)
    Y = lambda v: H - B - (v - y0) / (y1 - y0) * (H - T - B)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           'font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<clipPath id="plot"><rect x="{L}" y="{T}" width="{W-L-R}" height="{H-T-B}"/></clipPath>']
    for k in range(5):
        v = y0 + (y1 - y0) * k / 4
        out.append(f'<line x1="{L}" y1="{Y(v):.1f}" x2="{W-R}" y2="{Y(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L-6}" y="{Y(v)+4:.1f}" text-anchor="end">{v:.3g}</text>')
    for v in sorted(xticks if xticks is not None else {p[0] for p in pts}):
        label = f"{v:,.0f}" if abs(v) >= 1 else f"{v:g}"
        out.append(f'<text x="{X(v):.1f}" y="{H-B+14}" text-anchor="middle">{label}</text>')
    out += [f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
            f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>',
            f'<text x="{(L+W-R)/2}" y="{H-6}" text-anchor="middle">{xlabel}</text>',
            f'<text x="14" y="{(T+H-B)/2}" transform="rotate(-90 14 {(T+H-B)/2})" '
            f'text-anchor="middle">{ylabel}</text>']
    for i, (name, s) in enumerate(series.items()):
        col = COLORS[i % len(COLORS)]
        dash = DASHES[(i // len(COLORS)) % len(DASHES)]
        da = f' stroke-dasharray="{dash}"' if dash else ""
        path_pts = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in s)
        out.append(f'<polyline points="{path_pts}" fill="none" stroke="{col}" stroke-width="2"'
                   f'{da} clip-path="url(#plot)"/>')
        out += [f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3" fill="{col}"/>'
                for x, y in s if y <= y1]
        out.append(f'<line x1="{W-R+10}" y1="{T+14*i+6}" x2="{W-R+30}" y2="{T+14*i+6}" '
                   f'stroke="{col}" stroke-width="2"{da}/>')
        out.append(f'<text x="{W-R+34}" y="{T+14*i+10}">{name}</text>')
    out.append("</svg>")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(out) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    write(sys.argv[1], json.load(sys.stdin), sys.argv[2], sys.argv[3], sys.argv[4] == "1")
