/* faultline: the command line: run a scenario, check a history. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checker/linearizable.h"
#include "nemesis/nemesis.h"
#include "runner/check.h"
#include "runner/check_many.h"
#include "runner/fs.h"
#include "runner/msg.h"
#include "runner/report.h"
#include "runner/repro.h"
#include "runner/shrink_run.h"
#include "runner/run.h"
#include "runner/summary.h"
#include "runner/version.h"

/* Each command's help: `faultline COMMAND --help` prints its own, `faultline
 * --help` all of them. */
static const char help_run[] =
    "  run SCENARIO [--seed N] [--time-limit S] [--bug NAME]\n"
    "        [--runs-dir DIR]\n"
    "        Run the scenario (a JSON file, e.g. scenarios/default.json)\n"
    "        against a fresh local cluster, check the history, and print\n"
    "        the verdict and the run directory\n"
    "        (histories/runs/<scenario>/<UTC time>-<seed>/).\n"
    "        --seed N        the seed (default: the scenario's, else random)\n"
    "        --time-limit S  fault phase length in seconds (overrides\n"
    "                        duration_s; recovery still follows). Not the\n"
    "                        checker's limit: that is checker.time_limit_s\n"
    "                        in the scenario, or check --time-limit\n"
    "        --bug NAME      start the nodes with a seeded bug (test only)\n"
    "        --runs-dir DIR  where run directories go (histories/runs); a\n"
    "                        run writes DIR/<scenario>/<UTC time>-<seed>/\n";

static const char help_check[] =
    "  check [--format jsonl|edn|etcd-log|kv-edn] [--model NAME]\n"
    "        [--checker LIST] [--time-limit S] [--memory-limit MB]\n"
    "        [--threads N] [--no-split] [--json] [--initial VALUE]\n"
    "        [--export-edn OUT] FILE|RUN_DIR|DIR...\n"
    "        Several paths, or a directory of histories (not a run\n"
    "        directory): one line per history and a summary (--json: one\n"
    "        object with each history's verdict and time); --threads N\n"
    "        then checks N histories at once, in child processes.\n"
    "        Check a history file, or a run directory (rewrites its\n"
    "        verdict.json). --json prints the verdict object on stdout.\n"
    "        --format   the file's format (default: detected from content)\n"
    "        --model    cas-register, kv, task-record or lease (default: the\n"
    "                   format's, the run's workload's, or the ops'\n"
    "                   names); alone, it runs the linearizability checker\n"
    "        --checker  checkers to run, comma-separated: linearizable,\n"
    "                   set, queue, lease, converge, membership, raft\n"
    "                   (default: the workload's; raft on a run directory)\n"
    "        --time-limit S    seconds the linearizability search may take\n"
    "                   (default: the scenario's checker.time_limit_s, else\n"
    "                   60)\n"
    "        --memory-limit MB memory it may use (default: the scenario's\n"
    "                   checker.memory_mb, else 1024). Reaching either\n"
    "                   limit gives unknown (exit 2): the history was\n"
    "                   neither shown linearizable nor shown not to be.\n"
    "                   Not a failure of the system: check again with\n"
    "                   higher limits (the summary names the key and the\n"
    "                   limit), or run shorter, with fewer ops per key\n"
    "        --no-split search the whole history at once, not key by key\n"
    "        --threads N  keys searched at once (default: the scenario's\n"
    "                   checker.threads, else one per core); the verdict\n"
    "                   is the same for any N\n"
    "        --initial VALUE  the register's first value (cas-register;\n"
    "                   default: unset). Jepsen EDN is read as Knossos\n"
    "                   does: an ok read of EDN's nil (null) is a value\n"
    "                   not known\n"
    "        --export-edn OUT  write the history as Jepsen EDN to OUT\n"
    "                   (- for stdout) for Knossos or Elle; no check\n";

static const char help_repro[] =
    "  repro [--attempts N] [--runs-dir DIR] RUN_DIR\n"
    "        Run RUN_DIR's scenario again (its seed and bug) against a\n"
    "        fresh cluster, replaying the faults its history records (same\n"
    "        times, same nodes), into a new run directory, and say what\n"
    "        came back: the same anomaly (the same checker and kind, and\n"
    "        the same key or the same operation type, a read of null apart\n"
    "        from a read of a value), the same class only (the same\n"
    "        checker and kind, another key and operation), another\n"
    "        anomaly, or none (valid).\n"
    "        --attempts N    make N new runs and give the rate (\"same\n"
    "                        anomaly 2 of 5, same class 1 of 5, valid 2 of\n"
    "                        5\"); 1 by default\n"
    "        --runs-dir DIR  where the new run directories go\n"
    "                        (histories/runs)\n"
    "        Exit 0 when the same anomaly came back (at least once), 6 when\n"
    "        only its class did, 1 when neither (valid, unknown, another\n"
    "        anomaly); of a valid original: 0 when each new run was valid\n"
    "        too, 1 when one was not.\n";

static const char help_shrink[] =
    "  shrink [--checker linearizable|set|queue|lease] [--model NAME]\n"
    "        [--time-limit S] RUN_DIR|HISTORY\n"
    "        Cut an invalid history down to a small sub-history that is\n"
    "        still invalid the same way (delta debugging over operations,\n"
    "        on the anomaly's key or task), print it, and write\n"
    "        RUN_DIR/shrunk.jsonl and\n"
    "        shrunk.verdict.json (HISTORY.shrunk.* for a file). Exit 1\n"
    "        when shrunk; 0 or 2 when the history is valid or unknown\n"
    "        (nothing to shrink). --time-limit: for the whole shrink (60).\n";

static const char help_schedule[] =
    "  schedule SCENARIO [--seed N]\n"
    "        Print the fault schedule a run of SCENARIO with seed N would\n"
    "        follow (times, fault kinds, target draws): the same seed gives\n"
    "        the same schedule, each fault with the targets and parameters\n"
    "        it would draw; then the scenario's reactive rules.\n";

static const char help_report[] =
    "  report RUN_DIR\n"
    "        (Re)write RUN_DIR/report.html, the run's self-contained report\n"
    "        (timeline, faults, latency, node summaries), with python3.\n";

static const char help_tail[] =
    "  help, --help  This text; COMMAND --help: that command's alone.\n"
    "  --version     The version.\n"
    "\n"
    "Exit codes: 0 valid, 1 invalid, 2 unknown (a checker limit was\n"
    "reached: see check --help), 3 bad input or usage, 4 harness failure,\n"
    "5 interrupted; repro: 0 the same anomaly, 6 the same class only, 1\n"
    "neither (see repro --help).\n";

static const char *const helps[] = {help_run,    help_check,    help_repro,
                                    help_shrink, help_schedule, help_report};

static void usage(FILE *out)
{
    fputs("usage: faultline COMMAND [OPTIONS]\n\nCommands:\n", out);
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
        fputs(helps[i], out);
    }
    fputs(help_tail, out);
}

/* One command's usage, for COMMAND --help (stdout) and its errors. */
static void command_usage(FILE *out, const char *help)
{
    fprintf(out, "usage: faultline%s", help + 1);
}

/* The folder of this executable: taskd is built beside it. */
static void own_dir(char *buf, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(buf, size, "bin");
        return;
    }
    exe[n] = '\0';
    snprintf(buf, size, "%s", dirname(exe));
}

/* run --help's list of seeded bugs: taskd's own (`taskd --list-bugs`,
 * one "NAME<TAB>description" a line), so that it can't go stale. */
static void print_bugs(FILE *out, const char *bin_dir)
{
    char taskd[PATH_MAX + 8];
    char line[512];
    int fds[2], status = 0, n = 0;
    pid_t pid;
    FILE *in;

    snprintf(taskd, sizeof taskd, "%s/taskd", bin_dir);
    fputs("        Bugs of taskd (--bug NAME):\n", out);
    fflush(out);
    if (pipe(fds) != 0) {
        goto unavailable;
    }
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(fds[1], STDOUT_FILENO);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDERR_FILENO);
        }
        close(fds[0]);
        close(fds[1]);
        execl(taskd, taskd, "--list-bugs", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    in = pid > 0 ? fdopen(fds[0], "r") : NULL;
    if (in == NULL) {
        close(fds[0]);
        goto unavailable;
    }
    /* Kept until taskd's answer is known to be good. */
    char listed[4096] = "";
    size_t used = 0;
    while (fgets(line, sizeof line, in) != NULL) {
        char *tab = strchr(line, '\t');
        line[strcspn(line, "\n")] = '\0';
        if (tab == NULL) {
            continue;
        }
        *tab = '\0';
        if (used < sizeof listed) {
            used += (size_t)snprintf(listed + used, sizeof listed - used,
                                     "          %-20s %s\n", line, tab + 1);
        }
        n++;
    }
    fclose(in);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && n > 0) {
        fputs(listed, out);
        return;
    }
unavailable:
    fputs("          (taskd --list-bugs unavailable)\n", out);
}

static int parse_double(const char *flag, const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || *out <= 0) {
        msg_error("%s: expected a positive number, got "
                  "\"%s\"",
                  flag, s);
        return -1;
    }
    return 0;
}

static int parse_u64(const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    *out = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
        msg_error("%s: expected a non-negative integer, got "
                  "\"%s\"",
                  flag, s);
        return -1;
    }
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, 's'},
        {"time-limit", required_argument, NULL, 't'},
        {"bug", required_argument, NULL, 'b'},
        {"runs-dir", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char bin_dir[PATH_MAX];
    struct run_options o = {.runs_dir = "histories/runs"};
    int c;

    own_dir(bin_dir, sizeof bin_dir);
    o.bin_dir = bin_dir;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (parse_u64("--seed", optarg, &o.seed) != 0) {
                return EXIT_BAD_INPUT;
            }
            o.has_seed = true;
            break;
        case 't':
            if (parse_double("--time-limit", optarg, &o.time_limit_s) != 0) {
                return EXIT_BAD_INPUT;
            }
            break;
        case 'b':
            o.bug = optarg;
            break;
        case 'r':
            o.runs_dir = optarg;
            break;
        case 'h':
            command_usage(stdout, help_run);
            print_bugs(stdout, bin_dir);
            return 0;
        default:
            command_usage(stderr, help_run);
            return EXIT_BAD_INPUT;
        }
    }
    if (optind != argc - 1) {
        msg_error("expected one SCENARIO file");
        return EXIT_BAD_INPUT;
    }
    o.scenario_path = argv[optind];
    return run_scenario(&o);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Rewrite RUN_DIR/report.html after a command changed what it shows; a
 * failure is a warning. Its path goes to @out (stderr when stdout carries
 * JSON). */
static void refresh_report(const char *run_dir, FILE *out)
{
    char bin_dir[PATH_MAX];
    char err[PATH_MAX + 128];
    int quiet = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int rv;

    own_dir(bin_dir, sizeof bin_dir);
    rv = report_write(bin_dir, run_dir, quiet, err, sizeof err);
    if (quiet >= 0) {
        close(quiet);
    }
    if (rv != 0) {
        msg_warning("%s", err);
        return;
    }
    fprintf(out, "faultline: report %s/report.html\n", run_dir);
}

static int cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"checker", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"time-limit", required_argument, NULL, 't'},
        {"memory-limit", required_argument, NULL, 'M'},
        {"threads", required_argument, NULL, 'T'},
        {"no-split", no_argument, NULL, 'w'},
        {"export-edn", required_argument, NULL, 'e'},
        {"initial", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct check_options o = {0};
    struct check_result res;
    bool json = false;
    uint64_t mb;
    int c, code;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o.model = optarg;
            break;
        case 'c':
            o.checkers = optarg;
            break;
        case 'f':
            o.format = optarg;
            break;
        case 'w':
            o.whole = true;
            break;
        case 'e':
            o.export_edn = optarg;
            break;
        case 'i':
            o.initial = optarg;
            break;
        case 't':
            if (parse_double("--time-limit", optarg, &o.time_limit_s) != 0) {
                return EXIT_BAD_INPUT;
            }
            break;
        case 'M':
            if (parse_u64("--memory-limit", optarg, &mb) != 0) {
                return EXIT_BAD_INPUT;
            }
            if (mb == 0 || mb > (1u << 20)) {
                msg_error("--memory-limit: expected 1 to "
                          "%u MB, got %llu",
                          1u << 20, (unsigned long long)mb);
                return EXIT_BAD_INPUT;
            }
            o.memory_mb = (int)mb;
            break;
        case 'T':
            if (parse_u64("--threads", optarg, &mb) != 0) {
                return EXIT_BAD_INPUT;
            }
            if (mb == 0 || mb > CHECKER_THREADS_MAX) {
                msg_error("--threads: expected 1 to %d, got %llu",
                          CHECKER_THREADS_MAX, (unsigned long long)mb);
                return EXIT_BAD_INPUT;
            }
            o.threads = (int)mb;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            command_usage(stdout, help_check);
            return 0;
        default:
            command_usage(stderr, help_check);
            return EXIT_BAD_INPUT;
        }
    }
    if (optind >= argc) {
        msg_error("expected FILE or RUN_DIR");
        return EXIT_BAD_INPUT;
    }
    if (check_many_wanted(argv + optind, argc - optind)) {
        if (o.export_edn != NULL) {
            msg_error("--export-edn takes one "
                      "history");
            return EXIT_BAD_INPUT;
        }
        return check_many(argv + optind, argc - optind, &o, json, o.threads);
    }
    code = check_path(argv[optind], &o, &res);
    if (json && res.verdict != NULL) {
        json_dumpf(res.verdict, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    } else if (res.summary[0] != '\0') {
        if (code >= EXIT_BAD_INPUT) {
            msg_error("%s", res.summary);
        } else {
            printf("%s\n", res.summary);
        }
    }
    json_decref(res.verdict);
    /* The run's report shows the verdict just rewritten. */
    if (code < EXIT_BAD_INPUT && is_dir(argv[optind])) {
        bool piped =
            json || (o.export_edn != NULL && strcmp(o.export_edn, "-") == 0);
        refresh_report(argv[optind], piped ? stderr : stdout);
        if (!piped) {
            summary_print_explanation(stdout, argv[optind]);
        }
    }
    return code;
}

static int cmd_schedule(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct nemesis_step *steps;
    struct scenario s;
    char err[512];
    uint64_t seed = 0;
    bool has_seed = false;
    int c, n;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            command_usage(stdout, help_schedule);
            return 0;
        }
        if (c != 's') {
            command_usage(stderr, help_schedule);
            return EXIT_BAD_INPUT;
        }
        if (parse_u64("--seed", optarg, &seed) != 0) {
            return EXIT_BAD_INPUT;
        }
        has_seed = true;
    }
    if (optind != argc - 1) {
        msg_error("expected one SCENARIO file");
        return EXIT_BAD_INPUT;
    }
    scenario_defaults(&s);
    if (scenario_load(argv[optind], &s, err, sizeof err) != 0) {
        msg_error("%s", err);
        return EXIT_BAD_INPUT;
    }
    if (!has_seed) {
        if (!s.has_seed) {
            msg_error("give --seed (the scenario "
                      "has none)");
            return EXIT_BAD_INPUT;
        }
        seed = s.seed;
    }
    steps = calloc(4096, sizeof *steps);
    if (steps == NULL) {
        return EXIT_HARNESS;
    }
    n = nemesis_plan(&s, nemesis_seed(seed), steps, 4096);
    printf("scenario %s, seed %llu: %d faults in %.0f s\n", s.name,
           (unsigned long long)seed, n, s.duration_s);
    nemesis_plan_print(stdout, &s, steps, n);
    if (s.nemesis.rules.n > 0) { /* reactive rules, live in the fault phase */
        printf("reactive rules (fault phase only, decided per node event):\n");
        rule_print(stdout, &s.nemesis.rules);
    }
    free(steps);
    return 0;
}

static int cmd_report(int argc, char **argv)
{
    char bin_dir[PATH_MAX];
    char err[PATH_MAX + 128];
    int rv;

    if (argc != 2 || argv[1][0] == '-') {
        if (argc == 2 && strcmp(argv[1], "--help") == 0) {
            command_usage(stdout, help_report);
            return 0;
        }
        msg_error("expected one RUN_DIR");
        return EXIT_BAD_INPUT;
    }
    if (fs_run_dir(argv[1], "history.jsonl", err, sizeof err) != 0) {
        msg_error("%s", err); /* in check's words */
        return EXIT_BAD_INPUT;
    }
    own_dir(bin_dir, sizeof bin_dir);
    rv = report_write(bin_dir, argv[1], -1, err, sizeof err);
    if (rv == 0) {
        return 0;
    }
    if (rv < 0) {
        msg_error("%s", err);
    }
    /* report.py exits 3 on bad input (no such run directory) and 4 when
     * it could not write the report. */
    return rv == EXIT_BAD_INPUT ? EXIT_BAD_INPUT : EXIT_HARNESS;
}

static int cmd_repro(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"attempts", required_argument, NULL, 'a'},
        {"runs-dir", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char bin_dir[PATH_MAX];
    struct repro_options o = {.runs_dir = "histories/runs", .attempts = 1};
    uint64_t n;
    int c;

    own_dir(bin_dir, sizeof bin_dir);
    o.bin_dir = bin_dir;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (parse_u64("--attempts", optarg, &n) != 0) {
                return EXIT_BAD_INPUT;
            }
            if (n == 0 || n > 1000) {
                msg_error("--attempts: expected 1 to 1000, got %llu",
                          (unsigned long long)n);
                return EXIT_BAD_INPUT;
            }
            o.attempts = (int)n;
            break;
        case 'r':
            o.runs_dir = optarg;
            break;
        case 'h':
            command_usage(stdout, help_repro);
            return 0;
        default:
            command_usage(stderr, help_repro);
            return EXIT_BAD_INPUT;
        }
    }
    if (optind != argc - 1) {
        msg_error("expected one RUN_DIR");
        return EXIT_BAD_INPUT;
    }
    o.run_dir = argv[optind];
    return repro_run(&o);
}

static int cmd_shrink(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"checker", required_argument, NULL, 'c'},
        {"time-limit", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct shrink_run_options o = {0};
    int c, code;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o.model = optarg;
            break;
        case 'c':
            o.checker = optarg;
            break;
        case 't':
            if (parse_double("--time-limit", optarg, &o.time_s) != 0) {
                return EXIT_BAD_INPUT;
            }
            break;
        case 'h':
            command_usage(stdout, help_shrink);
            return 0;
        default:
            command_usage(stderr, help_shrink);
            return EXIT_BAD_INPUT;
        }
    }
    if (optind != argc - 1) {
        msg_error("expected one RUN_DIR or HISTORY");
        return EXIT_BAD_INPUT;
    }
    code = shrink_run(argv[optind], &o);
    if (code == EXIT_INVALID && is_dir(argv[optind])) {
        refresh_report(argv[optind], stdout); /* it shows the shrunk history */
    }
    return code;
}

int main(int argc, char **argv)
{
    static const char *const commands[] = {"run",    "check",    "repro",
                                           "shrink", "schedule", "report"};
    const char *cmd = argc > 1 ? argv[1] : "help";

    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cmd, commands[i]) == 0) {
            msg_command(commands[i]); /* every message: "faultline CMD: " */
        }
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(cmd, "run") == 0) {
        return cmd_run(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "check") == 0) {
        return cmd_check(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "repro") == 0) {
        return cmd_repro(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "shrink") == 0) {
        return cmd_shrink(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "schedule") == 0) {
        return cmd_schedule(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "report") == 0) {
        return cmd_report(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return argc > 1 ? 0 : EXIT_BAD_INPUT;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("faultline %s\n", faultline_version());
        return 0;
    }
    fprintf(stderr, "faultline: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return EXIT_BAD_INPUT;
}
