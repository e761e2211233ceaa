/* report.c -- the self-contained training report, report.html (cli/report.h): inline SVG charts
 * of loss and learning rate, the latest sample grid and the run's history of grids, each PNG
 * embedded as a data: URI, and the run's config.
 *
 * The page is built whole in memory and then written with rin_write_file_atomic, so a browser
 * refreshing report.html during training never sees half a file. The grids are read and their
 * text chunks parsed with imageio.h (rin_read_whole_file, rin_png_info_parse); errors follow
 * shared/spec/style.md section 7: a status, and a message naming the file.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imageio.h"
#include "util.h"
#include "report.h"

static void mb_puts(rin_membuf *b, const char *s) {
    rin_membuf_append(b, s, strlen(s));
}

static void mb_printf(rin_membuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mb_printf(rin_membuf *b, const char *fmt, ...) {
    if (b->oom)
        return;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        rin_membuf_append(b, small, (size_t)n);
        return;
    }
    if (!rin_membuf_reserve(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Appends s with & < > " ' replaced by entities (safe in element content and quoted
 * attributes). NULL appends nothing. */
static void mb_escape(rin_membuf *b, const char *s) {
    if (!s)
        return;
    const char *run = s;
    for (; *s; s++) {
        const char *ent = NULL;
        switch (*s) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        default: break;
        }
        if (ent) {
            rin_membuf_append(b, run, (size_t)(s - run));
            mb_puts(b, ent);
            run = s + 1;
        }
    }
    rin_membuf_append(b, run, (size_t)(s - run));
}

/* Standard base64 (RFC 4648, with '=' padding, no line breaks). */
static void mb_base64(rin_membuf *b, const uint8_t *data, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!rin_membuf_reserve(b, (n + 2) / 3 * 4))
        return;
    char *o = (char *)b->p + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)data[i] << 16;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = '=';
    }
    b->len = (size_t)(o - (char *)b->p);
}

/* ---- the report: SVG line charts ------------------------------------------------------------- */

#define CHART_MAX_POINTS 2000 /* drawn points per curve, plus the last */
#define CHART_W          720
#define CHART_H          300
#define CHART_L          76 /* margins: left (y tick labels), right, top (title), bottom (x labels) */
#define CHART_R          20
#define CHART_T          30
#define CHART_B          44

/* A "nice" tick spacing (1, 2 or 5 times a power of ten) for about `target` ticks. */
static double nice_step(double range, int target) {
    double raw = range / target;
    if (!(raw > 0.0) || !isfinite(raw))
        return 1.0;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    double m = f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0;
    return m * mag;
}

#define MAX_TICKS 32

/* Ticks in value space between lo and hi at multiples of step; returns their count. */
static int linear_ticks(double *t, double lo, double hi, double step) {
    int n = 0;
    double i0 = ceil(lo / step - 1e-9), i1 = floor(hi / step + 1e-9);
    for (double i = i0; i <= i1 && n < MAX_TICKS; i += 1.0) {
        double v = i * step;
        if (fabs(v) < 1e-9 * step)
            v = 0.0; /* no "-1e-17" labels */
        t[n++] = v;
    }
    return n;
}

/* Ticks for a log10 axis spanning [lo, hi] (exponents), as values. */
static int log_ticks(double *t, double lo, double hi) {
    double span = hi - lo;
    int n = 0;
    if (span <= 3.0) {
        static const double mant[3] = {1.0, 2.0, 5.0};
        for (double e = floor(lo); e <= ceil(hi) && n < MAX_TICKS; e += 1.0)
            for (int k = 0; k < 3 && n < MAX_TICKS; k++) {
                double v = mant[k] * pow(10.0, e), lv = log10(v);
                if (lv >= lo - 1e-9 && lv <= hi + 1e-9)
                    t[n++] = v;
            }
    } else {
        double every = span <= 10.0 ? 1.0 : ceil(span / 8.0);
        for (double e = ceil(lo / every) * every; e <= hi + 1e-9 && n < MAX_TICKS; e += every)
            t[n++] = pow(10.0, e);
    }
    if (n < 2) /* a narrow range inside one 1-2-5 interval: plain spacing in value space */
        n = linear_ticks(t, pow(10.0, lo), pow(10.0, hi),
                         nice_step(pow(10.0, hi) - pow(10.0, lo), 4));
    return n;
}

static int finite_for_axis(double v, int logy) {
    return isfinite(v) && (!logy || v > 0.0);
}

/* One <svg> line chart of y against steps (n >= 1 points). The y axis is log10 when allow_log
 * and every finite y is positive. Non-finite values are not drawn. At most CHART_MAX_POINTS
 * points are drawn (every k-th, and always the last). */
static void svg_chart(rin_membuf *b, const char *id, const char *title, const char *ylabel,
                      const long *steps, const double *y, int n, int allow_log) {
    int logy = allow_log, nfin = 0;
    double ymin = (double)INFINITY, ymax = -(double)INFINITY;
    double xmin = (double)INFINITY, xmax = -(double)INFINITY;
    for (int i = 0; i < n; i++) {
        double s = (double)steps[i];
        xmin = s < xmin ? s : xmin;
        xmax = s > xmax ? s : xmax;
        if (!isfinite(y[i]))
            continue;
        if (y[i] <= 0.0)
            logy = 0;
        nfin++;
        ymin = y[i] < ymin ? y[i] : ymin;
        ymax = y[i] > ymax ? y[i] : ymax;
    }
    const double pw = CHART_W - CHART_L - CHART_R, ph = CHART_H - CHART_T - CHART_B;
    mb_printf(b,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"%s\" width=\"%d\" height=\"%d\" "
              "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n"
              "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n"
              "<text x=\"%d\" y=\"18\" font-size=\"13\" font-weight=\"bold\">",
              id, CHART_W, CHART_H, CHART_W, CHART_H, CHART_W, CHART_H, CHART_L);
    mb_escape(b, title);
    mb_puts(b, logy && nfin ? " (log scale)</text>\n" : "</text>\n");
    if (nfin == 0) {
        mb_printf(b, "<text x=\"%d\" y=\"%d\">no finite values</text>\n</svg>\n", CHART_L,
                  CHART_T + 20);
        return;
    }

    /* data ranges (in log10 units for a log axis), padded so the curve clears the frame */
    if (xmax <= xmin) {
        xmin = xmin >= 1.0 ? xmin - 1.0 : xmin;
        xmax = xmin + 2.0;
    }
    double lo = logy ? log10(ymin) : ymin, hi = logy ? log10(ymax) : ymax;
    if (hi <= lo) {
        double d = logy ? 0.5 : (lo != 0.0 ? 0.1 * fabs(lo) : 1.0);
        lo -= d;
        hi += d;
    } else {
        double d = 0.05 * (hi - lo);
        lo -= d;
        hi += d;
    }
#define SX(v) (CHART_L + ((v)-xmin) / (xmax - xmin) * pw)
#define SY(v) (CHART_T + ph - (((logy ? log10(v) : (v))) - lo) / (hi - lo) * ph)

    /* grid and tick labels */
    double t[MAX_TICKS];
    int nt = logy ? log_ticks(t, lo, hi) : linear_ticks(t, lo, hi, nice_step(hi - lo, 5));
    mb_puts(b, "<g stroke=\"#e6e6e6\" stroke-width=\"1\">\n");
    for (int i = 0; i < nt; i++)
        mb_printf(b, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", CHART_L,
                  CHART_L + pw, SY(t[i]), SY(t[i]));
    double xs[MAX_TICKS];
    double xstep = nice_step(xmax - xmin, 6);
    int nx = linear_ticks(xs, xmin, xmax, xstep < 1.0 ? 1.0 : xstep);
    for (int i = 0; i < nx; i++)
        mb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.1f\"/>\n", SX(xs[i]),
                  SX(xs[i]), CHART_T, CHART_T + ph);
    mb_puts(b, "</g>\n<g fill=\"#444\">\n");
    for (int i = 0; i < nt; i++)
        mb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n", CHART_L - 6,
                  SY(t[i]) + 4.0, t[i]);
    for (int i = 0; i < nx; i++)
        mb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", SX(xs[i]),
                  CHART_T + ph + 16.0, xs[i]);
    mb_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">step</text>\n",
              CHART_L + pw / 2.0, CHART_H - 6);
    mb_printf(b,
              "<text transform=\"translate(14 %.1f) rotate(-90)\" "
              "text-anchor=\"middle\">",
              CHART_T + ph / 2.0);
    mb_escape(b, ylabel);
    mb_puts(b, "</text>\n</g>\n");
    /* axes */
    mb_printf(b,
              "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
              "stroke=\"#888\"/>\n",
              CHART_L, CHART_T, pw, ph);

    /* the curve: every k-th finite point, and always the last finite one */
    int last = n - 1;
    while (last >= 0 && !finite_for_axis(y[last], logy))
        last--;
    int k = n / CHART_MAX_POINTS + (n % CHART_MAX_POINTS != 0);
    mb_puts(b, "<polyline fill=\"none\" stroke=\"#1f6fb4\" stroke-width=\"1.5\" "
               "stroke-linejoin=\"round\" points=\"");
    for (int i = 0; i < n; i += k) {
        if (i != last && finite_for_axis(y[i], logy))
            mb_printf(b, "%.1f,%.1f ", SX((double)steps[i]), SY(y[i]));
    }
    mb_printf(b, "%.1f,%.1f\"/>\n", SX((double)steps[last]), SY(y[last]));
    mb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#1f6fb4\"/>\n</svg>\n",
              SX((double)steps[last]), SY(y[last]));
#undef SX
#undef SY
}

/* ---- the report: page ------------------------------------------------------------------------ */

/* The config text as a two-column table: one row per non-empty line, split at the first '='
 * (a line without '=' spans both columns). */
static void html_config_table(rin_membuf *b, const char *text) {
    mb_puts(b, "<table>\n<tr><th>key</th><th>value</th></tr>\n");
    char *copy = strdup(text);
    if (!copy) {
        b->oom = 1;
        return;
    }
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = 0;
        if (len == 0)
            continue;
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = 0;
            mb_puts(b, "<tr><td>");
            mb_escape(b, line);
            mb_puts(b, "</td><td>");
            mb_escape(b, eq + 1);
            mb_puts(b, "</td></tr>\n");
        } else {
            mb_puts(b, "<tr><td colspan=\"2\">");
            mb_escape(b, line);
            mb_puts(b, "</td></tr>\n");
        }
    }
    free(copy);
    mb_puts(b, "</table>\n");
}

#define REPORT_IMG_W 940 /* the widest a grid is shown, by whole multiples of its size */

/* A grid PNG read for the page: its bytes, size and text chunks (CRCs checked). */
typedef struct page_png {
    uint8_t *bytes;
    size_t len;
    rin_png_info info;
} page_png;

/* Reads png_path; on failure *why (cap bytes) says why and nothing is held. NOMEM is the only
 * failure returned: a missing or broken file is the page's to report. */
static rin_status page_png_read(page_png *pp, const char *png_path, char *why, size_t cap) {
    memset(pp, 0, sizeof *pp);
    rin_status s = rin_read_whole_file(png_path, &pp->bytes, &pp->len, why, cap);
    if (s == RIN_STATUS_OK) {
        const char *bad = NULL;
        size_t at = 0;
        s = rin_png_info_parse(pp->bytes, pp->len, &pp->info, &bad, &at);
        if (s == RIN_STATUS_FORMAT)
            snprintf(why, cap, "%s: %s", png_path, bad);
    }
    if (s != RIN_STATUS_OK) {
        free(pp->bytes);
        pp->bytes = NULL;
    }
    return s == RIN_STATUS_NOMEM ? s : RIN_STATUS_OK;
}

static void page_png_free(page_png *pp) {
    free(pp->bytes);
    rin_png_info_free(&pp->info);
}

/* "step 300, ddim, 50 steps, seed 1234" from the grid's text chunks; "step N" from `step`
 * (>= 0) when the PNG has none. ASCII only (the page is UTF-8, the chunks Latin-1). */
static void grid_caption(char *buf, size_t cap, const rin_png_info *info, long step) {
    const char *st = rin_png_info_text(info, "step"), *sa = rin_png_info_text(info, "sampler");
    const char *n = rin_png_info_text(info, "steps"), *seed = rin_png_info_text(info, "seed");
    size_t w = 0;
    buf[0] = 0;
#define CAPF(...)                                                                                  \
    do {                                                                                           \
        if (w < cap)                                                                               \
            w += (size_t)snprintf(buf + w, cap - w, __VA_ARGS__);                                  \
    } while (0)
    if (st)
        CAPF("step %s", st);
    else if (step >= 0)
        CAPF("step %ld", step);
    if (sa)
        CAPF("%s%s", w ? ", " : "", sa);
    if (n)
        CAPF("%s%s steps", w ? ", " : "", n);
    if (seed)
        CAPF("%sseed %s", w ? ", " : "", seed);
#undef CAPF
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c >= 128)
            *c = '?';
}

/* The latest grid, large: an <img id="latest"> at a whole multiple of its size up to the page
 * width, with a caption. A missing or unreadable file is reported on the page rather than
 * failing the report (the first grid may not exist yet). */
static void html_latest_grid(rin_membuf *b, const char *png_path, const char *caption) {
    page_png pp;
    char why[512];
    if (page_png_read(&pp, png_path, why, sizeof why) != RIN_STATUS_OK) {
        b->oom = 1;
        return;
    }
    if (!pp.bytes) {
        mb_puts(b, "<p>sample grid unavailable: ");
        mb_escape(b, why);
        mb_puts(b, "</p>\n");
        return;
    }
    int w = pp.info.W, h = pp.info.H;
    int k = w < REPORT_IMG_W ? REPORT_IMG_W / w : 1;
    k = k > 8 ? 8 : k;
    char cap[512];
    if (caption)
        snprintf(cap, sizeof cap, "%s", caption);
    else
        grid_caption(cap, sizeof cap, &pp.info, -1);
    mb_printf(b,
              "<figure><img id=\"latest\" class=\"grid\" style=\"width:%dpx\" "
              "alt=\"latest sample grid\" src=\"data:image/png;base64,",
              w * k);
    mb_base64(b, pp.bytes, pp.len);
    mb_puts(b, "\">\n<figcaption><span id=\"latest-cap\" class=\"cap\">");
    mb_escape(b, cap);
    mb_puts(b, "</span><br><span class=\"file\">");
    mb_escape(b, png_path);
    mb_printf(b, " (%d x %d)</span></figcaption></figure>\n", w, h);
    page_png_free(&pp);
}

/* The run's grids as thumbnails in div#thumbs, with an input#history slider over them when
 * there are two or more; the script shows the chosen one in img#latest. Unreadable files are
 * left out. */
static void html_history(rin_membuf *b, const run_report *r) {
    rin_membuf thumbs = {0};
    int shown = 0;
    for (int i = 0; i < r->nhistory; i++) {
        page_png pp;
        char why[512];
        if (page_png_read(&pp, r->history_png[i], why, sizeof why) != RIN_STATUS_OK) {
            b->oom = 1;
            break;
        }
        if (!pp.bytes)
            continue;
        char cap[512];
        grid_caption(cap, sizeof cap, &pp.info, r->history_steps ? r->history_steps[i] : -1);
        if (!cap[0])
            snprintf(cap, sizeof cap, "grid %d", i + 1);
        mb_puts(&thumbs, "<img class=\"thumb\" title=\"");
        mb_escape(&thumbs, cap);
        mb_puts(&thumbs, "\" alt=\"");
        mb_escape(&thumbs, cap);
        mb_puts(&thumbs, "\" src=\"data:image/png;base64,");
        mb_base64(&thumbs, pp.bytes, pp.len);
        mb_puts(&thumbs, "\">\n");
        shown++;
        page_png_free(&pp);
    }
    if (thumbs.oom)
        b->oom = 1;
    if (shown > 0 && !b->oom) {
        mb_puts(b, "<h2>History</h2>\n");
        if (shown > 1)
            mb_printf(b,
                      "<p><label for=\"history\">grid of the run to show above (%d, oldest "
                      "first):</label><br>\n<input type=\"range\" id=\"history\" min=\"0\" "
                      "max=\"%d\" value=\"%d\" step=\"1\"></p>\n",
                      shown, shown - 1, shown - 1);
        mb_puts(b, "<div id=\"thumbs\">\n");
        rin_membuf_append(b, thumbs.p, thumbs.len);
        mb_puts(b, "</div>\n");
        /* the slider and a click on a thumbnail show that grid in img#latest */
        mb_puts(b, "<script>\n(function () {\n"
                   "  var s = document.getElementById('history'), im = "
                   "document.getElementById('latest');\n"
                   "  var cap = document.getElementById('latest-cap');\n"
                   "  var th = document.querySelectorAll('#thumbs img');\n"
                   "  function show(i) {\n"
                   "    if (im) im.src = th[i].src;\n"
                   "    if (cap) cap.textContent = th[i].title;\n"
                   "    if (s) s.value = i;\n"
                   "    for (var k = 0; k < th.length; k++) th[k].className = k == i ? "
                   "'thumb sel' : 'thumb';\n"
                   "  }\n"
                   "  if (s) s.oninput = function () { show(+s.value); };\n"
                   "  for (var k = 0; k < th.length; k++)\n"
                   "    th[k].onclick = (function (i) { return function () { show(i); }; })(k);\n"
                   "  th[th.length - 1].className = 'thumb sel';\n"
                   "})();\n</script>\n");
    }
    free(thumbs.p);
}

rin_status report_write(const char *path, const run_report *r, char *err, size_t errlen) {
    if (!path || !r)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "report_write: NULL argument");
    if (r->n < 0 || (r->n > 0 && (!r->steps || !r->loss)))
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "%s: report with n = %d needs steps and loss arrays", path, r->n);
    if (r->nhistory < 0 || (r->nhistory > 0 && !r->history_png))
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "%s: report with nhistory = %d needs the history paths", path,
                          r->nhistory);
    const char *title = r->title ? r->title : "rin training report";
    const int n = r->n;
    rin_membuf b = {0};

    mb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    mb_escape(&b, title);
    mb_puts(&b, "</title>\n<style>\n"
                "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:60em}\n"
                "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}\n"
                "table{border-collapse:collapse}\n"
                "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;"
                "font-family:monospace}\n"
                "svg{display:block;margin:0.5em 0;max-width:100%;height:auto}\n"
                "pre{background:#f5f5f5;padding:0.6em;white-space:pre-wrap}\n"
                "figure{margin:0}figcaption{font-size:0.85em;color:#666}\n"
                "img.grid{max-width:100%;height:auto;image-rendering:pixelated;display:block}\n"
                ".cap{font-size:1.1em;color:#222}.file{font-size:0.85em}\n"
                "#history{width:100%}\n"
                "#thumbs img{height:56px;margin:0 4px 4px 0;border:2px solid transparent;"
                "cursor:pointer}\n"
                "#thumbs img.sel{border-color:#1f6fb4}\n"
                "</style>\n</head>\n<body>\n<h1>");
    mb_escape(&b, title);
    mb_puts(&b, "</h1>\n<h2>Summary</h2>\n");

    if (n == 0) {
        mb_puts(&b, "<p>no steps yet</p>\n");
    } else {
        int imin = -1;
        for (int i = 0; i < n; i++)
            if (isfinite(r->loss[i]) && (imin < 0 || r->loss[i] < r->loss[imin]))
                imin = i;
        mb_printf(&b, "<table>\n<tr><td>latest step</td><td>%ld</td></tr>\n", r->steps[n - 1]);
        mb_printf(&b, "<tr><td>latest loss</td><td>%.6g</td></tr>\n", r->loss[n - 1]);
        if (imin >= 0)
            mb_printf(&b, "<tr><td>min loss</td><td>%.6g (step %ld)</td></tr>\n", r->loss[imin],
                      r->steps[imin]);
        else
            mb_puts(&b, "<tr><td>min loss</td><td>none finite</td></tr>\n");
        if (r->lr)
            mb_printf(&b, "<tr><td>latest learning rate</td><td>%.6g</td></tr>\n", r->lr[n - 1]);
        mb_printf(&b, "<tr><td>points recorded</td><td>%d</td></tr>\n</table>\n", n);
    }
    /* what a person looks at first: the samples, then how the run got there */
    if (r->grid_png) {
        mb_puts(&b, "<h2>Latest samples</h2>\n");
        html_latest_grid(&b, r->grid_png, r->grid_caption);
    }
    if (r->nhistory > 0)
        html_history(&b, r);
    if (n > 0) {
        mb_puts(&b, "<h2>Curves</h2>\n");
        svg_chart(&b, "loss", "training loss", "loss", r->steps, r->loss, n, 1);
        if (r->lr)
            svg_chart(&b, "lr", "learning rate", "learning rate", r->steps, r->lr, n, 0);
    }
    if (r->config_text) {
        mb_puts(&b, "<h2>Config</h2>\n");
        html_config_table(&b, r->config_text);
    }
    if (r->notes) {
        mb_puts(&b, "<h2>Notes</h2>\n<pre>");
        mb_escape(&b, r->notes);
        mb_puts(&b, "</pre>\n");
    }
    mb_puts(&b, "</body>\n</html>\n");

    if (b.oom) {
        free(b.p);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory building the report",
                          path);
    }
    rin_status s = rin_write_file_atomic(path, b.p, b.len, err, errlen);
    free(b.p);
    return s;
}
