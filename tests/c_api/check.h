/* A minimal check harness for the C ABI tests (tests written in C11, run by ctest).
 * CHECK records a failure and goes on; the test's main returns check_exit(). */
#ifndef MENTORSYNC_TESTS_C_API_CHECK_H
#define MENTORSYNC_TESTS_C_API_CHECK_H

#include <stdio.h>
#include <string.h>

#include "mentorsync/mentorsync.h"

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        ++check_count;                                                               \
        if (!(cond)) {                                                               \
            ++check_failures;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

/* The call (returning bool, with `&err` as its error argument) must succeed, and the error
 * struct must stay untouched (errors are written only on failure). */
#define CHECK_OK(call)                                                                           \
    do {                                                                                         \
        ++check_count;                                                                           \
        memset(&err, 0x5A, sizeof err);                                                          \
        if (!(call)) {                                                                           \
            ++check_failures;                                                                    \
            fprintf(stderr, "%s:%d: %s failed: [%s %d] %s\n", __FILE__, __LINE__, #call,         \
                    ms_error_domain_name(err.domain), err.code, err.message);                    \
        } else if (err.domain != 0x5A5A5A5A) {                                                   \
            ++check_failures;                                                                    \
            fprintf(stderr, "%s:%d: %s wrote the error struct on success\n", __FILE__, __LINE__, \
                    #call);                                                                      \
        }                                                                                        \
    } while (0)

/* The call must fail with this MENTORSYNC-domain code and a non-empty message. */
#define CHECK_ERR(call, expected_code) \
    CHECK_DOMAIN_ERR(call, MS_ERROR_DOMAIN_MENTORSYNC, expected_code)

#define CHECK_DOMAIN_ERR(call, expected_domain, expected_code)                                     \
    do {                                                                                           \
        ++check_count;                                                                             \
        memset(&err, 0, sizeof err);                                                               \
        if (call) {                                                                                \
            ++check_failures;                                                                      \
            fprintf(stderr, "%s:%d: %s succeeded; expected %s\n", __FILE__, __LINE__, #call,       \
                    #expected_code);                                                               \
        } else if (err.domain != (expected_domain) || err.code != (expected_code) ||               \
                   err.message[0] == '\0') {                                                       \
            ++check_failures;                                                                      \
            fprintf(stderr, "%s:%d: %s: got [%s %d %s] \"%s\"; expected %s\n", __FILE__, __LINE__, \
                    #call, ms_error_domain_name(err.domain), err.code,                             \
                    ms_error_code_name(err.code), err.message, #expected_code);                    \
        }                                                                                          \
    } while (0)

/* Whether `text` (a NUL-terminated JSON buffer) contains `needle`. */
static inline int contains(const char* text, const char* needle) {
    return text && needle && strstr(text, needle) != NULL;
}

/* How often `needle` occurs in `text`. */
static inline int count_of(const char* text, const char* needle) {
    int n = 0;
    if (!text || !needle || !*needle) return 0;
    for (const char* p = strstr(text, needle); p; p = strstr(p + 1, needle))
        ++n;
    return n;
}

static inline int check_exit(const char* name) {
    fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures == 0 ? 0 : 1;
}

#define S(literal) literal, (sizeof(literal) - 1)

#endif
