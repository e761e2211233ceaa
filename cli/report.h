/* report.h -- the self-contained training report of `rin train` (report.html): a page for people
 * to read, so it lives with the program, not in librin. The PNGs it shows are read through
 * imageio.h (src/data/).
 */
#ifndef RIN_CLI_REPORT_H
#define RIN_CLI_REPORT_H

#include <stddef.h>

#include "rin.h"

/* The self-contained training report (report.html): inline SVG curves of loss and learning
 * rate against step, the latest sample grid large with a caption, the grids of the run's history
 * as a slider (an <input type=range> and a few lines of inline script that show one of them in
 * place of the latest) over a strip of thumbnails, and the run's config. Every image is
 * embedded as a data: URI, so the one file works opened from disk, with no server.
 *
 * Captions: the latest grid's is grid_caption, or else built from the PNG's own text chunks
 * (step, sampler, steps, seed); a history grid's from its text chunks, or else "step N". A
 * missing or unreadable grid file is named on the page (the latest) or left out (history); it
 * never fails the report. Elements with ids for checks: img#latest, svg#loss, svg#lr,
 * input#history, div#thumbs. */
typedef struct run_report {
    const char *title;       /* e.g. the run directory */
    const char *config_text; /* "key=value" lines, shown as a table */
    const long *steps;       /* (n) */
    const double *loss;      /* (n) */
    const double *lr;        /* (n) */
    int n;
    const char *grid_png;           /* path of the latest sample grid, or NULL */
    const char *grid_caption;       /* text under the latest grid, or NULL (see above) */
    const char *notes;              /* free text (progress, timing), or NULL */
    const char *const *history_png; /* (nhistory) earlier grids and the latest, oldest first */
    const long *history_steps;      /* (nhistory) their steps, for captions; or NULL */
    int nhistory;                   /* 0: no history section */
} run_report;
rin_status report_write(const char *path, const run_report *r, char *err, size_t errlen);

#endif /* RIN_CLI_REPORT_H */
