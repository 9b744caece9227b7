/* unit: the few macros every C unit test shares.
 *
 * A test is a void function; CHECK fails it (and returns) with the file,
 * line and condition; RUN runs one and prints "ok" or "FAIL" with its name.
 * main() returns failures != 0. Include this once, from the test file. */
#ifndef FAULTLINE_TEST_UNIT_H
#define FAULTLINE_TEST_UNIT_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,         \
                    __LINE__, __func__, #cond);                                \
            failures++;                                                        \
            return;                                                            \
        }                                                                      \
    } while (0)

#define RUN(test)                                                              \
    do {                                                                       \
        int before_ = failures;                                                \
        test();                                                                \
        printf("%s %s\n", failures == before_ ? "ok  " : "FAIL", #test);       \
        fflush(stdout);                                                        \
    } while (0)

#endif /* FAULTLINE_TEST_UNIT_H */
