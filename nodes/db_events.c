/* db_events: which events each db declares. */
#include "nodes/db_events.h"

#include <string.h>

#include "nodes/db.h"

const char *const *db_events(const char *db_name)
{
    const struct db_ops *db = db_find(db_name);
    if (db == &db_taskd) {
        return taskd_events;
    }
    return NULL;
}
