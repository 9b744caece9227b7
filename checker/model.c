/* model: the table of known models, looked up by name. */
#include "checker/model.h"

#include <string.h>

static const struct {
    const char *name;
    const struct model *model;
} models[] = {
    {"cas-register", &model_register},
    {"register", &model_register}, /* the workload's name for it */
    {"kv", &model_kv},
    {"task-record", &model_task},
    {"task", &model_task},
    {"lease", &model_lease},
};

uint64_t model_token(uint64_t tag, uint64_t a, uint64_t b)
{
    uint64_t z = tag * 0x9e3779b97f4a7c15ULL;
    uint64_t w[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        z = (z ^ w[i]) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
    }
    return z;
}

const struct model *model_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        if (strcmp(name, models[i].name) == 0) {
            return models[i].model;
        }
    }
    return NULL;
}
