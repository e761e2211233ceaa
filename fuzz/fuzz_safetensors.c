/* fuzz_safetensors.c -- the safetensors reader (rin_st_read) and, on files it accepts, the
 * checkpoint loaders on top of it: the config in __metadata__ (rin_config_from_meta), the
 * tensors against the parameter table (rin_model_load), and a training-checkpoint restore
 * (rin_train_config_from_file, rin_trainer_restore). Models over 200,000 parameters are not
 * built (a valid header may describe any size; allocation failure is tested elsewhere). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600], err[512];
    fuzz_path(path, sizeof path, "in.safetensors");
    fuzz_write(path, data, size);
    rin_st_file *f;
    if (rin_st_read(&f, path, err, sizeof err) != RIN_STATUS_OK) {
        if (!err[0])
            abort(); /* every failure must say why */
        return 0;
    }
    /* what the reader promises: every tensor lies inside the data buffer */
    for (int i = 0; i < f->ntensors; i++) {
        const rin_st_tensor *t = &f->tensors[i];
        if (t->offset > f->data_size || t->nbytes > f->data_size - t->offset)
            abort();
        if (rin_st_find(f, t->name) == NULL)
            abort();
        if (t->numel < 1u << 20 && (t->dtype == RIN_DTYPE_F32 || t->dtype == RIN_DTYPE_F64)) {
            float *buf = malloc(t->numel * sizeof(float) + 1);
            if (rin_st_get_f32(f, t->name, buf, t->numel, err, sizeof err) != RIN_STATUS_OK)
                abort();
            free(buf);
        }
    }
    rin_config c;
    int small = rin_config_from_meta(&c, f, path, err, sizeof err) == RIN_STATUS_OK &&
                rin_config_num_params(&c) <= 200000;
    rin_st_free(f);
    if (!small)
        return 0;
    rin_model *m;
    if (rin_model_load(&m, path, err, sizeof err) != RIN_STATUS_OK)
        return 0;
    rin_train_config tc;
    if (rin_train_config_from_file(&tc, path, err, sizeof err) == RIN_STATUS_OK) {
        tc.batch_size = 1;
        rin_trainer *tr;
        if (rin_trainer_create(&tr, m, &tc, err, sizeof err) == RIN_STATUS_OK) {
            (void)rin_trainer_restore(tr, path, err, sizeof err);
            rin_trainer_free(tr);
        }
    }
    rin_model_free(m);
    return 0;
}
