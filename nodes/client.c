/* client: the registry of clients, one per system under test. */
#include "nodes/client.h"

#include <string.h>

static const struct client_ops *const clients[] = {&client_taskd, NULL};

const struct client_ops *client_find(const char *name)
{
    for (int i = 0; clients[i] != NULL; i++) {
        if (strcmp(clients[i]->name, name) == 0) {
            return clients[i];
        }
    }
    return NULL;
}
