/* client: the registry of clients, one per system under test. */
#include "nodes/client.h"

#include <string.h>

/* The registry: one line per client (its struct client_ops, in a file of
 * its own). */
#define CLIENTS(X) X(client_taskd) X(client_etcd) X(client_redis)

#define DECLARE(sym) extern const struct client_ops sym;
#define ADDRESS(sym) &sym,
CLIENTS(DECLARE)
static const struct client_ops *const clients[] = {CLIENTS(ADDRESS) NULL};

const struct client_ops *client_find(const char *name)
{
    for (int i = 0; clients[i] != NULL; i++) {
        if (strcmp(clients[i]->name, name) == 0) {
            return clients[i];
        }
    }
    return NULL;
}
