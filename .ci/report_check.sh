#!/usr/bin/env bash
# CI stage: does report.html show a person the samples and the curves? Not part of `make test`
# (it needs Chromium, ~300 MB, and a real training run).
#
# Installs Debian's chromium if missing, builds rin (build-report/, MPI=0), trains a tiny model
# on Fashion-MNIST for a few seconds with a grid every 40 steps (3 grids), then renders the
# run's report.html with headless Chromium twice: a screenshot of the page as it is, and a DOM
# dump of a copy with a probe script appended that records the bounding rectangles of the
# latest grid (img#latest), the loss chart (svg#loss), the history slider (input#history) and
# its thumbnails (div#thumbs), whether every <img> loaded, and whether moving the slider shows
# the oldest grid. .ci/png_regions.py then checks that the screenshot is not blank inside each
# rectangle, and names any element that is.
#
#   .ci/report_check.sh            (from the repository root; KEEP=1 keeps the work directory)
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)

# the build's packages and Fashion-MNIST (idempotent), then the browser
sh .ci/install-deps.sh
if ! command -v chromium >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium ||
        { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; }
fi

make -j2 BUILD=build-report MPI=0 all
t_build=$(date +%s)

work=$(mktemp -d /tmp/rin_report_check.XXXXXX)
if [ "${KEEP:-0}" = 1 ]; then
    echo "report_check: keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi
run="$work/run"

# a real run: 120 steps of a small model (tiny preset at 28x28x1), a grid every 40 steps
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} \
    build-report/rin train --run "$run" --preset tiny \
    --data fmnist --set image_height=28 --set image_width=28 --set image_channels=1 \
    --set batch_size=16 --set total_steps=120 --set warmup_steps=10 --set ema_decay=0.99 \
    --set log_every=4 --set sample_every=40 --set sample_count=20 --set sample_steps=10 \
    --set ckpt_every=0
t_train=$(date +%s)
ngrids=$(ls "$run"/samples/step_*.png | wc -l)
[ "$ngrids" -ge 3 ] || { echo "report_check: FAILED: $ngrids sample grids, expected 3" >&2; exit 1; }

# the same window and flags for both renderings, so the layout is the same
chrome() {
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --disable-dev-shm-usage \
        --user-data-dir="$work/chrome" --force-device-scale-factor=1 --window-size=1200,2400 \
        --virtual-time-budget=2000 "$@" 2>"$work/chrome.log"
}

chrome --screenshot="$work/report.png" "file://$run/report.html" >/dev/null ||
    { cat "$work/chrome.log" >&2; echo "report_check: FAILED: chromium --screenshot" >&2; exit 1; }
[ -s "$work/report.png" ] || { echo "report_check: FAILED: no screenshot" >&2; exit 1; }

# the probe: runs after every image has loaded, appends its findings at the end of the page
# (after everything it measures, so the measured layout is the screenshot's)
python3 - "$run/report.html" "$work/probe.html" <<'EOF'
import sys
page = open(sys.argv[1], encoding="utf-8").read()
probe = """<script>
window.addEventListener('load', function () {
  var out = {}, ids = {latest: '#latest', loss: '#loss', history: '#history', thumbs: '#thumbs'};
  for (var k in ids) {
    var e = document.querySelector(ids[k]);
    if (!e) { out[k] = null; continue; }
    var r = e.getBoundingClientRect();
    out[k] = {x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height,
              loaded: e.tagName == 'IMG' ? e.complete && e.naturalWidth > 0 : null};
  }
  var imgs = document.querySelectorAll('img'), bad = 0;
  for (var i = 0; i < imgs.length; i++) if (!(imgs[i].naturalWidth > 0)) bad++;
  out.images = imgs.length;
  out.images_not_loaded = bad;
  // after measuring: moving the slider to 0 must show the oldest grid and its caption
  var s = document.getElementById('history'), im = document.getElementById('latest');
  var th = document.querySelectorAll('#thumbs img'), cap = document.getElementById('latest-cap');
  if (s && im && th.length > 1 && cap) {
    s.value = 0;
    s.dispatchEvent(new Event('input'));
    out.slider_works = im.src == th[0].src && cap.textContent == th[0].title &&
                       th[0].className.indexOf('sel') >= 0;
  } else {
    out.slider_works = false;
  }
  var pre = document.createElement('pre');
  pre.id = 'rin-check';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""
if "</body>" not in page:
    sys.exit("report_check: report.html has no </body>")
open(sys.argv[2], "w", encoding="utf-8").write(page.replace("</body>", probe + "</body>", 1))
EOF
chrome --dump-dom "file://$work/probe.html" >"$work/dom.html" ||
    { cat "$work/chrome.log" >&2; echo "report_check: FAILED: chromium --dump-dom" >&2; exit 1; }

t_render=$(date +%s)

python3 .ci/png_regions.py "$work/report.png" "$work/dom.html"
t_end=$(date +%s)
echo "report_check: passed ($ngrids grids, report $(du -k "$run/report.html" | cut -f1) KB) in" \
    "$((t_end - t0)) s: install and build $((t_build - t0)) s, train $((t_train - t_build)) s," \
    "Chromium $((t_render - t_train)) s, pixel check $((t_end - t_render)) s"
