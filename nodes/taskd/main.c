/* taskd: a replicated task store, the node under test of faultline. */
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "nodes/taskd/bug.h"
#include "nodes/taskd/config.h"
#include "nodes/taskd/node.h"

int main(int argc, char *argv[])
{
    struct config cfg;
    char err[512];
    int rv;

    /* A node must never outlive the runner that spawned it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Peers and clients hang up; we hear it from write errors instead. */
    signal(SIGPIPE, SIG_IGN);

    rv = config_parse(argc, argv, &cfg, err, sizeof err);
    if (rv == CONFIG_HELP) {
        config_usage(stdout);
        return 0;
    }
    if (rv == CONFIG_LIST_BUGS) {
        bug_list_tsv(stdout);
        return 0;
    }
    if (rv != 0) {
        fprintf(stderr, "taskd: %s\n", err);
        fprintf(stderr, "taskd: try --help\n");
        return 2;
    }
    return node_run(&cfg);
}
