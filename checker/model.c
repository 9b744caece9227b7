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
