/* The C ABI from C, without a server: every local function, its documented success behaviour,
 * and misuse (NULL handles and pointers, wrong JSON, unknown collections, invalid values, closed
 * handles, a locked store, wrong keys), checking the documented error domain and code.
 * Sync against a real server is in c_api_sync_test.c. */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static ms_error err;
static char dir[256];

static const char* kLearner = "6f1c1b2e-3d4a-4b5c-8d6e-7f8091a2b3c4";
static const uint8_t kRaw[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static ms_key passphrase(const char* text) {
    ms_key k = {MS_KEY_PASSPHRASE, (const uint8_t*)text, strlen(text)};
    return k;
}
static ms_key raw_key(void) {
    ms_key k = {MS_KEY_RAW, kRaw, sizeof kRaw};
    return k;
}

static ms_open_options options_for(const char* path) {
    ms_open_options o = MS_OPEN_OPTIONS_INIT;
    o.path = path;
    o.path_size = strlen(path);
    o.kdf_ops_limit = 1; /* libsodium's minimum: fast tests; never in an app */
    o.kdf_mem_limit = 8192;
    return o;
}

static void path_in_dir(char* out, size_t size, const char* name) {
    snprintf(out, size, "%s/%s", dir, name);
}

static int file_exists(const char* path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static const char* absence_json(void) {
    static char buf[256];
    snprintf(buf, sizeof buf,
             "{\"learner_id\":\"%s\",\"date\":\"2026-03-02\",\"lessons\":2,"
             "\"status\":\"unjustified\",\"source\":\"mentor\"}",
             kLearner);
    return buf;
}

/* ---- version, names, buffers --------------------------------------------------------------- */

static void test_version_and_names(void) {
    CHECK(ms_abi_version() == MS_ABI_VERSION);
    CHECK(ms_version() != NULL && strlen(ms_version()) > 0);
    CHECK(strcmp(ms_error_code_name(MS_ERR_VALIDATION), "validation") == 0);
    CHECK(strcmp(ms_error_code_name(MS_ERR_NOT_ENROLLED), "not_enrolled") == 0);
    CHECK(strcmp(ms_error_code_name(9999), "unknown") == 0);
    CHECK(strcmp(ms_error_domain_name(MS_ERROR_DOMAIN_SERVER), "server") == 0);
    CHECK(strcmp(ms_error_domain_name(-1), "unknown") == 0);
    ms_buffer_free(NULL);
    ms_buffer b = {NULL, 0};
    ms_buffer_free(&b);
    ms_txn_free(NULL);
    ms_sync_finish(NULL);
    ms_http_request_free(NULL);
    ms_cancel_free(NULL);
    CHECK(ms_close(NULL, &err));
    CHECK(ms_is_locked(NULL) == -1);
}

/* ---- open, keys, locking ------------------------------------------------------------------- */

static void test_open_misuse(void) {
    char path[300];
    path_in_dir(path, sizeof path, "misuse.db");
    ms_open_options o = options_for(path);
    ms_key k = passphrase("correct horse");
    ms_store* s = NULL;

    CHECK_ERR(ms_open(NULL, &k, &s, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_open(&o, NULL, &s, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_open(&o, &k, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(!ms_open(&o, &k, NULL, NULL)); /* a NULL error pointer is allowed */

    ms_open_options bad = o;
    bad.version = 99;
    CHECK_ERR(ms_open(&bad, &k, &s, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "version"));
    bad = o;
    bad.path = NULL;
    CHECK_ERR(ms_open(&bad, &k, &s, &err), MS_ERR_INVALID_ARGUMENT);
    bad.path_size = 0;
    CHECK_ERR(ms_open(&bad, &k, &s, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "empty"));
    bad = o;
    bad.durability = 7;
    CHECK_ERR(ms_open(&bad, &k, &s, &err), MS_ERR_INVALID_ARGUMENT);
    bad = o;
    bad.kdf_mem_limit = 10;
    CHECK_ERR(ms_open(&bad, &k, &s, &err), MS_ERR_INVALID_ARGUMENT);
    bad = o;
    bad.kdf_ops_limit = 1000;
    CHECK_ERR(ms_open(&bad, &k, &s, &err), MS_ERR_INVALID_ARGUMENT);
    bad = o;
    bad.must_exist = 1;
    CHECK_ERR(ms_open(&bad, &k, &s, &err), MS_ERR_NOT_FOUND);

    ms_key short_raw = {MS_KEY_RAW, kRaw, 31};
    CHECK_ERR(ms_open(&o, &short_raw, &s, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "32"));
    ms_key unknown_kind = {7, kRaw, 32};
    CHECK_ERR(ms_open(&o, &unknown_kind, &s, &err), MS_ERR_INVALID_ARGUMENT);
    ms_key null_bytes = {MS_KEY_PASSPHRASE, NULL, 5};
    CHECK_ERR(ms_open(&o, &null_bytes, &s, &err), MS_ERR_INVALID_ARGUMENT);
    ms_key empty = {MS_KEY_PASSPHRASE, NULL, 0};
    CHECK_ERR(ms_open(&o, &empty, &s, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(s == NULL); /* out-parameters are written only on success */
    CHECK(!file_exists(path));
}

static void test_keys_and_locking(void) {
    char path[300];
    path_in_dir(path, sizeof path, "keys.db");
    ms_open_options o = options_for(path);
    ms_key pass = passphrase("correct horse");
    ms_key wrong = passphrase("wrong horse");
    ms_key raw = raw_key();
    ms_store* s = NULL;

    CHECK_OK(ms_open(&o, &pass, &s, &err));
    CHECK(s != NULL);
    CHECK(ms_is_locked(s) == 0);

    /* One handle per file per process. */
    ms_store* again = NULL;
    CHECK_ERR(ms_open(&o, &pass, &again, &err), MS_ERR_INVALID_STATE);

    char id[MS_ID_SIZE];
    CHECK_OK(ms_record_create(s, S("absences"), absence_json(), strlen(absence_json()), id, &err));

    CHECK_OK(ms_lock(s, &err));
    CHECK_OK(ms_lock(s, &err)); /* idempotent */
    CHECK(ms_is_locked(s) == 1);
    ms_buffer out = {NULL, 0};
    CHECK_ERR(ms_record_get(s, S("absences"), id, strlen(id), &out, &err), MS_ERR_LOCKED);
    CHECK_ERR(ms_record_create(s, S("absences"), absence_json(), strlen(absence_json()), id, &err),
              MS_ERR_LOCKED);
    ms_store_status st;
    CHECK_OK(ms_status(s, &st, &err));
    CHECK(st.locked == 1 && strlen(st.node_id) == 36 && st.records == 0);

    CHECK_ERR(ms_unlock(s, &wrong, &err), MS_ERR_WRONG_KEY);
    CHECK(err.transient == 0);
    CHECK_ERR(ms_unlock(s, &raw, &err), MS_ERR_WRONG_KEY); /* a raw key for a passphrase store */
    CHECK_ERR(ms_unlock(s, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_OK(ms_unlock(s, &pass, &err));
    CHECK(ms_is_locked(s) == 0);
    CHECK_OK(ms_record_get(s, S("absences"), id, strlen(id), &out, &err));
    CHECK(contains(out.data, "\"lessons\":2"));
    ms_buffer_free(&out);
    CHECK(out.data == NULL && out.size == 0);

    /* Change to a keystore-held raw key and back. */
    CHECK_ERR(ms_change_key(s, &wrong, &raw, &err), MS_ERR_WRONG_KEY);
    CHECK(ms_is_locked(s) == 1); /* a wrong current key locks an unlocked store */
    CHECK_ERR(ms_change_key(s, &pass, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    ms_key short_raw = {MS_KEY_RAW, kRaw, 16};
    CHECK_ERR(ms_change_key(s, &pass, &short_raw, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_change_key(NULL, &pass, &raw, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_OK(ms_change_key(s, &pass, &raw, &err));
    CHECK(ms_is_locked(s) == 0);
    CHECK_OK(ms_close(s, &err));

    CHECK_ERR(ms_open(&o, &pass, &s, &err), MS_ERR_WRONG_KEY);
    CHECK_OK(ms_open(&o, &raw, &s, &err));
    CHECK_OK(ms_record_get(s, S("absences"), id, strlen(id), &out, &err));
    ms_buffer_free(&out);
    CHECK_OK(ms_close(s, &err));
    CHECK_ERR(ms_lock(s = NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_unlock(NULL, &raw, &err), MS_ERR_INVALID_ARGUMENT);

    /* Five wrong keys in a row lock the store out, transiently, with a delay to wait. */
    static const uint8_t other_bytes[32] = {42};
    ms_key wrong_raw = {MS_KEY_RAW, other_bytes, sizeof other_bytes};
    int locked_out = 0;
    for (int i = 0; i < 8 && !locked_out; ++i) {
        ms_store* t = NULL;
        memset(&err, 0, sizeof err);
        CHECK(!ms_open(&o, &wrong_raw, &t, &err));
        if (err.code == MS_ERR_LOCKED_OUT)
            locked_out = 1;
        else
            CHECK(err.code == MS_ERR_WRONG_KEY);
    }
    CHECK(locked_out);
    CHECK(err.transient == 1 && err.retry_after_ms > 0);
    CHECK(strcmp(ms_error_code_name(err.code), "locked_out") == 0);
}

/* An app re-checks its user with ms_unlock on an unlocked store: the key is checked, a wrong
 * one locks the store and counts toward the lockout. */
static void test_unlock_checks_the_key_of_an_unlocked_store(void) {
    char path[300];
    path_in_dir(path, sizeof path, "recheck.db");
    ms_open_options o = options_for(path);
    ms_key pass = passphrase("correct horse");
    ms_key wrong = passphrase("wrong horse");
    ms_store* s = NULL;
    CHECK_OK(ms_open(&o, &pass, &s, &err));
    CHECK(ms_is_locked(s) == 0);

    CHECK_ERR(ms_unlock(s, &wrong, &err), MS_ERR_WRONG_KEY);
    CHECK(err.transient == 0);
    CHECK(ms_is_locked(s) == 1); /* a failed re-check locks the tablet */
    CHECK_OK(ms_unlock(s, &pass, &err));
    CHECK_OK(ms_unlock(s, &pass, &err)); /* the right key on an unlocked store: fine */
    CHECK(ms_is_locked(s) == 0);
    CHECK_ERR(ms_unlock(s, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(ms_is_locked(s) == 0); /* a malformed call changes nothing */

    /* The first guess meets an unlocked store and counts like the four after it: then even the
     * right key must wait. */
    CHECK_ERR(ms_unlock(s, &wrong, &err), MS_ERR_WRONG_KEY);
    for (int i = 0; i < 4; ++i)
        CHECK_ERR(ms_unlock(s, &wrong, &err), MS_ERR_WRONG_KEY);
    CHECK_ERR(ms_unlock(s, &pass, &err), MS_ERR_LOCKED_OUT);
    CHECK(err.transient == 1 && err.retry_after_ms > 0 && err.retry_after_ms <= 30000);
    CHECK(ms_is_locked(s) == 1);
    CHECK_OK(ms_close(s, &err));
}

/* ---- records and queries ------------------------------------------------------------------- */

static void test_records(ms_store* s) {
    char id[MS_ID_SIZE] = {0};
    const char* a = absence_json();
    CHECK_OK(ms_record_create(s, S("absences"), a, strlen(a), id, &err));
    CHECK(strlen(id) == 36);

    /* Misuse of create. */
    CHECK_ERR(ms_record_create(NULL, S("absences"), a, strlen(a), id, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_record_create(s, S("absences"), a, strlen(a), NULL, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_record_create(s, NULL, 3, a, strlen(a), id, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_record_create(s, S("pets"), a, strlen(a), id, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "unknown collection"));
    CHECK_ERR(ms_record_create(s, S("absences"), S("{\"learner_id\": "), id, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "not valid JSON"));
    CHECK_ERR(ms_record_create(s, S("absences"), S("[1,2]"), id, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_record_create(s, S("absences"), S("{\"date\":{\"y\":2026}}"), id, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "object"));
    CHECK_ERR(ms_record_create(s, S("absences"), S("\xff\xfe"), id, &err), MS_ERR_INVALID_ARGUMENT);
    char deep[200];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    CHECK_ERR(ms_record_create(s, S("absences"), deep, strlen(deep), id, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "nested"));
    CHECK_ERR(ms_record_create(s, S("absences"), S("{\"date\":\"2026-03-02\"}"), id, &err),
              MS_ERR_VALIDATION);
    char bad[300];
    snprintf(bad, sizeof bad,
             "{\"learner_id\":\"%s\",\"date\":\"2026-02-30\",\"lessons\":2,"
             "\"status\":\"unjustified\",\"source\":\"mentor\"}",
             kLearner);
    CHECK_ERR(ms_record_create(s, S("absences"), bad, strlen(bad), id, &err), MS_ERR_VALIDATION);
    CHECK(contains(err.message, "absences.date"));
    snprintf(bad, sizeof bad,
             "{\"learner_id\":\"%s\",\"date\":\"2026-03-02\",\"lessons\":99,"
             "\"status\":\"unjustified\",\"source\":\"mentor\"}",
             kLearner);
    CHECK_ERR(ms_record_create(s, S("absences"), bad, strlen(bad), id, &err), MS_ERR_VALIDATION);
    CHECK(contains(err.message, "absences.lessons"));
    snprintf(bad, sizeof bad,
             "{\"learner_id\":\"%s\",\"date\":\"2026-03-02\",\"lessons\":2,"
             "\"status\":\"unjustified\",\"source\":\"mentor\",\"shoe_size\":40}",
             kLearner);
    CHECK_ERR(ms_record_create(s, S("absences"), bad, strlen(bad), id, &err), MS_ERR_VALIDATION);

    /* Get. */
    ms_buffer out = {NULL, 0};
    CHECK_OK(ms_record_get(s, S("absences"), id, strlen(id), &out, &err));
    CHECK(out.data && out.size == strlen(out.data));
    CHECK(contains(out.data, id) && contains(out.data, "\"deleted\":false"));
    CHECK(contains(out.data, "\"collection\":\"absences\"") &&
          contains(out.data, "\"updated\":\""));
    ms_buffer_free(&out);
    CHECK_ERR(ms_record_get(s, S("contacts"), id, strlen(id), &out, &err), MS_ERR_NOT_FOUND);
    CHECK_ERR(ms_record_get(s, S("absences"), S("not-a-uuid"), &out, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(
        ms_record_get(s, S("absences"), S("0f8fad5b-d9cb-469f-a165-70867728950e"), &out, &err),
        MS_ERR_NOT_FOUND);
    CHECK_ERR(ms_record_get(s, S("absences"), id, strlen(id), NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(out.data == NULL);

    /* Update: fields given change, null clears an optional field, required ones cannot go. */
    CHECK_OK(ms_record_update(s, S("absences"), id, strlen(id),
                              S("{\"lessons\":3,\"justification\":\"doctor\"}"), &err));
    CHECK_OK(ms_record_get(s, S("absences"), id, strlen(id), &out, &err));
    CHECK(contains(out.data, "\"lessons\":3") &&
          contains(out.data, "\"justification\":\"doctor\""));
    ms_buffer_free(&out);
    CHECK_OK(
        ms_record_update(s, S("absences"), id, strlen(id), S("{\"justification\":null}"), &err));
    CHECK_OK(ms_record_get(s, S("absences"), id, strlen(id), &out, &err));
    CHECK(!contains(out.data, "justification"));
    ms_buffer_free(&out);
    CHECK_ERR(ms_record_update(s, S("absences"), id, strlen(id), S("{\"lessons\":null}"), &err),
              MS_ERR_VALIDATION);
    CHECK_ERR(ms_record_update(s, S("absences"), id, strlen(id), S("{\"status\":\"maybe\"}"), &err),
              MS_ERR_VALIDATION);
    CHECK_ERR(ms_record_update(s, S("absences"), S("0f8fad5b-d9cb-469f-a165-70867728950e"),
                               S("{\"lessons\":3}"), &err),
              MS_ERR_NOT_FOUND);
    CHECK_ERR(ms_record_update(s, S("absences"), id, strlen(id), S("nope"), &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_record_update(s, S("nothing"), id, strlen(id), S("{}"), &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_record_update(NULL, S("absences"), id, strlen(id), S("{}"), &err),
              MS_ERR_INVALID_ARGUMENT);

    /* Delete and restore. */
    CHECK_OK(ms_record_delete(s, S("absences"), id, strlen(id), &err));
    CHECK_OK(ms_record_get(s, S("absences"), id, strlen(id), &out, &err));
    CHECK(contains(out.data, "\"deleted\":true"));
    ms_buffer_free(&out);
    CHECK_OK(ms_record_restore(s, S("absences"), id, strlen(id), &err));
    CHECK_OK(ms_record_get(s, S("absences"), id, strlen(id), &out, &err));
    CHECK(contains(out.data, "\"deleted\":false"));
    ms_buffer_free(&out);
    CHECK_ERR(ms_record_delete(s, S("absences"), S("0f8fad5b-d9cb-469f-a165-70867728950e"), &err),
              MS_ERR_NOT_FOUND);
    CHECK_ERR(ms_record_delete(s, S("absences"), S("x"), &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_record_delete(NULL, S("absences"), id, strlen(id), &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_record_restore(s, S("absences"), S("0f8fad5b-d9cb-469f-a165-70867728950e"), &err),
              MS_ERR_NOT_FOUND);
    CHECK_ERR(ms_record_restore(s, S("ghosts"), id, strlen(id), &err), MS_ERR_INVALID_ARGUMENT);
}

static void test_queries(ms_store* s) {
    /* Three absences of one learner on different days, one of another learner. */
    const char* other = "11111111-2222-4333-8444-555555555555";
    const char* days[] = {"2026-01-10", "2026-02-10", "2026-03-10"};
    char json[300], id[MS_ID_SIZE];
    for (int i = 0; i < 3; ++i) {
        snprintf(json, sizeof json,
                 "{\"learner_id\":\"%s\",\"date\":\"%s\",\"lessons\":1,\"status\":\"unknown\","
                 "\"source\":\"school\"}",
                 other, days[i]);
        CHECK_OK(ms_record_create(s, S("absences"), json, strlen(json), id, &err));
    }
    CHECK_OK(ms_record_delete(s, S("absences"), id, strlen(id), &err)); /* the March one */

    ms_query_options q = MS_QUERY_OPTIONS_INIT;
    q.collection = "absences";
    q.collection_size = strlen("absences");
    q.ref = other;
    q.ref_size = strlen(other);
    ms_buffer out = {NULL, 0};
    CHECK_OK(ms_query(s, &q, &out, &err));
    CHECK(contains(out.data, "2026-01-10") && contains(out.data, "2026-02-10"));
    CHECK(!contains(out.data, "2026-03-10") && !contains(out.data, kLearner));
    CHECK(out.data && out.data[0] == '[');
    ms_buffer_free(&out);

    q.include_deleted = 1;
    q.from_date = "2026-02-01";
    q.from_date_size = 10;
    CHECK_OK(ms_query(s, &q, &out, &err));
    CHECK(!contains(out.data, "2026-01-10") && contains(out.data, "2026-02-10") &&
          contains(out.data, "2026-03-10"));
    /* ordered by date */
    CHECK(out.data && strstr(out.data, "2026-02-10") < strstr(out.data, "2026-03-10"));
    ms_buffer_free(&out);

    q.to_date = "2026-02-28";
    q.to_date_size = 10;
    q.ref_field = "learner_id";
    q.ref_field_size = strlen("learner_id");
    CHECK_OK(ms_query(s, &q, &out, &err));
    CHECK(contains(out.data, "2026-02-10") && !contains(out.data, "2026-03-10"));
    ms_buffer_free(&out);

    ms_query_options all = MS_QUERY_OPTIONS_INIT;
    all.collection = "absences";
    all.collection_size = 8;
    all.limit = 1;
    CHECK_OK(ms_query(s, &all, &out, &err));
    CHECK(count_of(out.data, "\"id\":") == 1);
    ms_buffer_free(&out);

    /* Misuse. */
    ms_query_options bad = q;
    bad.collection = "pets";
    bad.collection_size = 4;
    CHECK_ERR(ms_query(s, &bad, &out, &err), MS_ERR_INVALID_ARGUMENT);
    bad = q;
    bad.ref_field = "date";
    bad.ref_field_size = 4;
    CHECK_ERR(ms_query(s, &bad, &out, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "not a reference field"));
    bad = q;
    bad.ref = "zzz";
    bad.ref_size = 3;
    CHECK_ERR(ms_query(s, &bad, &out, &err), MS_ERR_INVALID_ARGUMENT);
    bad = q;
    bad.from_date = "10.02.2026";
    bad.from_date_size = 10;
    CHECK_ERR(ms_query(s, &bad, &out, &err), MS_ERR_INVALID_ARGUMENT);
    bad = q;
    bad.version = 0;
    CHECK_ERR(ms_query(s, &bad, &out, &err), MS_ERR_INVALID_ARGUMENT);
    bad = q;
    bad.include_deleted = 5;
    CHECK_ERR(ms_query(s, &bad, &out, &err), MS_ERR_INVALID_ARGUMENT);
    bad = q;
    bad.ref = NULL;
    bad.ref_size = 0; /* ref_field without ref */
    CHECK_ERR(ms_query(s, &bad, &out, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_query(s, NULL, &out, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_query(s, &q, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_query(NULL, &q, &out, &err), MS_ERR_INVALID_ARGUMENT);
}

/* ---- transactions -------------------------------------------------------------------------- */

static void test_transactions(ms_store* s) {
    ms_txn* t = NULL;
    char a[MS_ID_SIZE], b[MS_ID_SIZE], existing[MS_ID_SIZE];
    const char* json = absence_json();
    CHECK_OK(ms_record_create(s, S("absences"), json, strlen(json), existing, &err));

    CHECK_OK(ms_txn_begin(s, &t, &err));
    CHECK_OK(ms_txn_create(t, S("absences"), json, strlen(json), a, &err));
    CHECK_OK(ms_txn_create(t, S("absences"), json, strlen(json), b, &err));
    CHECK(strcmp(a, b) != 0);
    CHECK_OK(
        ms_txn_update(t, S("absences"), existing, strlen(existing), S("{\"lessons\":5}"), &err));
    CHECK_OK(ms_txn_delete(t, S("absences"), b, strlen(b), &err));
    /* Ill-formed ops are refused when added and do not spoil the transaction. */
    CHECK_ERR(ms_txn_create(t, S("absences"), S("{"), a, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_txn_create(t, S("nope"), json, strlen(json), a, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_txn_create(t, S("absences"), json, strlen(json), NULL, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_txn_update(t, S("absences"), S("bad-id"), S("{}"), &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_txn_update(t, S("absences"), existing, strlen(existing), S("[]"), &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_txn_delete(t, S("absences"), S("bad-id"), &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_txn_delete(t, S("nope"), b, strlen(b), &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_OK(ms_txn_commit(t, &err));
    CHECK_ERR(ms_txn_commit(t, &err), MS_ERR_INVALID_STATE);
    CHECK_ERR(ms_txn_create(t, S("absences"), json, strlen(json), a, &err), MS_ERR_INVALID_STATE);
    ms_txn_free(t);

    ms_buffer out = {NULL, 0};
    CHECK_OK(ms_record_get(s, S("absences"), a, strlen(a), &out, &err));
    ms_buffer_free(&out);
    CHECK_OK(ms_record_get(s, S("absences"), b, strlen(b), &out, &err));
    CHECK(contains(out.data, "\"deleted\":true"));
    ms_buffer_free(&out);
    CHECK_OK(ms_record_get(s, S("absences"), existing, strlen(existing), &out, &err));
    CHECK(contains(out.data, "\"lessons\":5"));
    ms_buffer_free(&out);

    /* All or nothing: one invalid op and nothing is written. */
    CHECK_OK(ms_txn_begin(s, &t, &err));
    CHECK_OK(
        ms_txn_update(t, S("absences"), existing, strlen(existing), S("{\"lessons\":6}"), &err));
    CHECK_OK(ms_txn_create(t, S("absences"), S("{\"lessons\":1}"), a, &err));
    CHECK_ERR(ms_txn_commit(t, &err), MS_ERR_VALIDATION);
    ms_txn_free(t);
    CHECK_OK(ms_record_get(s, S("absences"), existing, strlen(existing), &out, &err));
    CHECK(contains(out.data, "\"lessons\":5"));
    ms_buffer_free(&out);
    CHECK_ERR(ms_record_get(s, S("absences"), a, strlen(a), &out, &err), MS_ERR_NOT_FOUND);

    /* An empty transaction, NULLs. */
    CHECK_OK(ms_txn_begin(s, &t, &err));
    CHECK_ERR(ms_txn_commit(t, &err), MS_ERR_INVALID_ARGUMENT);
    ms_txn_free(t);
    CHECK_ERR(ms_txn_begin(NULL, &t, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_txn_begin(s, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_txn_commit(NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_txn_create(NULL, S("absences"), json, strlen(json), a, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_txn_update(NULL, S("absences"), a, strlen(a), S("{}"), &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_txn_delete(NULL, S("absences"), a, strlen(a), &err), MS_ERR_INVALID_ARGUMENT);

    /* A locked store. */
    ms_key pass = passphrase("pass");
    CHECK_OK(ms_txn_begin(s, &t, &err));
    CHECK_OK(
        ms_txn_update(t, S("absences"), existing, strlen(existing), S("{\"lessons\":7}"), &err));
    CHECK_OK(ms_lock(s, &err));
    CHECK_ERR(ms_txn_commit(t, &err), MS_ERR_LOCKED);
    ms_txn_free(t);
    CHECK_OK(ms_unlock(s, &pass, &err));
}

/* ---- conflicts and quarantine (no remote data here: the empty and misuse paths) ------------ */

static void test_conflicts_and_quarantine_local(ms_store* s) {
    ms_buffer out = {NULL, 0};
    CHECK_OK(ms_conflicts(s, NULL, 0, &out, &err));
    CHECK(out.data && strcmp(out.data, "[]") == 0);
    ms_buffer_free(&out);
    CHECK_OK(ms_conflicts(s, S("0f8fad5b-d9cb-469f-a165-70867728950e"), &out, &err));
    ms_buffer_free(&out);
    CHECK_ERR(ms_conflicts(s, S("zz"), &out, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_conflicts(s, NULL, 0, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_conflicts(NULL, NULL, 0, &out, &err), MS_ERR_INVALID_ARGUMENT);

    const char* row = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const char* stamp = "0000018c2a3b4c5d@0f8fad5b-d9cb-469f-a165-70867728950e";
    CHECK_ERR(ms_conflict_resolve(s, row, strlen(row), S("lessons"), stamp, strlen(stamp),
                                  MS_RESOLVE_KEEP_WINNER, NULL, 0, &err),
              MS_ERR_NOT_FOUND);
    CHECK_ERR(ms_conflict_resolve(s, row, strlen(row), S("lessons"), S("12@34"),
                                  MS_RESOLVE_KEEP_WINNER, NULL, 0, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_conflict_resolve(s, row, strlen(row), S("lessons"),
                                  S("xyz@0f8fad5b-d9cb-469f-a165-70867728950e"),
                                  MS_RESOLVE_KEEP_WINNER, NULL, 0, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_conflict_resolve(s, row, strlen(row), S("lessons"), stamp, strlen(stamp), 42, NULL,
                                  0, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_conflict_resolve(s, row, strlen(row), S("lessons"), stamp, strlen(stamp),
                                  MS_RESOLVE_CUSTOM, NULL, 0, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_conflict_resolve(s, row, strlen(row), S("lessons"), stamp, strlen(stamp),
                                  MS_RESOLVE_CUSTOM, S("{\"a\":1}"), &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_conflict_resolve(s, S("bad"), S("lessons"), stamp, strlen(stamp),
                                  MS_RESOLVE_KEEP_WINNER, NULL, 0, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_conflict_resolve(s, row, strlen(row), NULL, 0, stamp, strlen(stamp),
                                  MS_RESOLVE_KEEP_WINNER, NULL, 0, &err),
              MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_conflict_resolve(NULL, row, strlen(row), S("lessons"), stamp, strlen(stamp),
                                  MS_RESOLVE_KEEP_WINNER, NULL, 0, &err),
              MS_ERR_INVALID_ARGUMENT);

    CHECK_OK(ms_quarantined(s, &out, &err));
    CHECK(out.data && strcmp(out.data, "[]") == 0);
    ms_buffer_free(&out);
    CHECK_ERR(ms_quarantined(s, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_quarantined(NULL, &out, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_quarantine_release(s, stamp, strlen(stamp), &err), MS_ERR_NOT_FOUND);
    CHECK_ERR(ms_quarantine_discard(s, stamp, strlen(stamp), &err), MS_ERR_NOT_FOUND);
    CHECK_ERR(ms_quarantine_release(s, S("nope"), &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_quarantine_discard(s, NULL, 4, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_quarantine_release(NULL, stamp, strlen(stamp), &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_quarantine_discard(NULL, stamp, strlen(stamp), &err), MS_ERR_INVALID_ARGUMENT);
}

/* ---- observers ----------------------------------------------------------------------------- */

typedef struct observed {
    ms_store* store;
    int calls;
    size_t changes;
    int remote;
    char last_id[MS_ID_SIZE];
    char collection[32];
    int read_back_ok;
    int close_refused;
    uint64_t self_id;
    int unobserve_self;
} observed;

static void on_change(void* context, const ms_change* changes, size_t count) {
    observed* o = (observed*)context;
    o->calls++;
    o->changes += count;
    if (count == 0) return;
    snprintf(o->last_id, sizeof o->last_id, "%s", changes[count - 1].id);
    snprintf(o->collection, sizeof o->collection, "%.*s", (int)changes[0].collection_size,
             changes[0].collection);
    o->remote = changes[0].remote;
    /* Reading the store from its own callback works (no deadlock)... */
    ms_buffer out = {NULL, 0};
    ms_error e;
    o->read_back_ok = ms_record_get(o->store, changes[0].collection, changes[0].collection_size,
                                    changes[0].id, strlen(changes[0].id), &out, &e);
    ms_buffer_free(&out);
    /* ...closing it from there is refused, not a hang. */
    o->close_refused = !ms_close(o->store, &e) && e.code == MS_ERR_INVALID_STATE;
    if (o->unobserve_self) ms_unobserve(o->store, o->self_id, &e);
}

static void test_observers(ms_store* s) {
    observed o;
    memset(&o, 0, sizeof o);
    o.store = s;
    uint64_t id = 0;
    CHECK_OK(ms_observe(s, on_change, &o, &id, &err));
    CHECK(id != 0);
    char rec[MS_ID_SIZE];
    const char* json = absence_json();
    CHECK_OK(ms_record_create(s, S("absences"), json, strlen(json), rec, &err));
    CHECK(o.calls == 1 && o.changes == 1);
    CHECK(strcmp(o.last_id, rec) == 0 && strcmp(o.collection, "absences") == 0);
    CHECK(o.remote == 0 && o.read_back_ok && o.close_refused);

    /* A transaction is one call with all its changes. */
    ms_txn* t = NULL;
    char a[MS_ID_SIZE], b[MS_ID_SIZE];
    CHECK_OK(ms_txn_begin(s, &t, &err));
    CHECK_OK(ms_txn_create(t, S("absences"), json, strlen(json), a, &err));
    CHECK_OK(ms_txn_create(t, S("absences"), json, strlen(json), b, &err));
    CHECK_OK(ms_txn_commit(t, &err));
    ms_txn_free(t);
    CHECK(o.calls == 2 && o.changes == 3);

    /* Unobserving from inside the callback itself. */
    o.self_id = id;
    o.unobserve_self = 1;
    CHECK_OK(ms_record_update(s, S("absences"), rec, strlen(rec), S("{\"lessons\":4}"), &err));
    CHECK(o.calls == 3);
    CHECK_OK(ms_record_update(s, S("absences"), rec, strlen(rec), S("{\"lessons\":5}"), &err));
    CHECK(o.calls == 3);
    CHECK_ERR(ms_unobserve(s, id, &err), MS_ERR_NOT_FOUND);

    /* And from outside. */
    observed o2;
    memset(&o2, 0, sizeof o2);
    o2.store = s;
    uint64_t id2 = 0;
    CHECK_OK(ms_observe(s, on_change, &o2, &id2, &err));
    CHECK(id2 != id);
    CHECK_OK(ms_unobserve(s, id2, &err));
    CHECK_OK(ms_record_update(s, S("absences"), rec, strlen(rec), S("{\"lessons\":6}"), &err));
    CHECK(o2.calls == 0);

    CHECK_ERR(ms_observe(s, NULL, &o, &id, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_observe(s, on_change, &o, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_observe(NULL, on_change, &o, &id, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_unobserve(NULL, id, &err), MS_ERR_INVALID_ARGUMENT);
}

/* ms_unobserve waits for a call running on another thread, so the context may be freed. */
typedef struct slow_observer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered;
    int left;
} slow_observer;

static void on_change_slowly(void* context, const ms_change* changes, size_t count) {
    (void)changes;
    (void)count;
    slow_observer* o = (slow_observer*)context;
    pthread_mutex_lock(&o->mu);
    o->entered = 1;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&o->mu);
    o->left = 1;
    pthread_mutex_unlock(&o->mu);
}

static void* write_one(void* store) {
    char id[MS_ID_SIZE];
    ms_error e;
    const char* json = absence_json();
    if (!ms_record_create((ms_store*)store, "absences", 8, json, strlen(json), id, &e))
        fprintf(stderr, "write_one: %s\n", e.message);
    return NULL;
}

static void test_unobserve_waits_for_other_threads(ms_store* s) {
    slow_observer o;
    memset(&o, 0, sizeof o);
    pthread_mutex_init(&o.mu, NULL);
    pthread_cond_init(&o.cv, NULL);
    uint64_t id = 0;
    CHECK_OK(ms_observe(s, on_change_slowly, &o, &id, &err));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, write_one, s) == 0);
    pthread_mutex_lock(&o.mu);
    while (!o.entered)
        pthread_cond_wait(&o.cv, &o.mu);
    pthread_mutex_unlock(&o.mu);
    CHECK_OK(ms_unobserve(s, id, &err));
    pthread_mutex_lock(&o.mu);
    CHECK(o.left == 1); /* the call on the writer's thread finished before unobserve returned */
    pthread_mutex_unlock(&o.mu);
    pthread_join(t, NULL);
}

/* ---- status, sync before enrollment, cancel objects ---------------------------------------- */

static void test_status_and_unenrolled_sync(ms_store* s) {
    ms_store_status st;
    memset(&st, 0xAB, sizeof st);
    CHECK_OK(ms_status(s, &st, &err));
    CHECK(st.locked == 0 && st.enrolled == 0 && st.device_id[0] == '\0');
    CHECK(strlen(st.node_id) == 36 && st.schema_version >= 1);
    CHECK(st.records > 0 && st.pending_changes > 0 && st.open_conflicts == 0);
    CHECK(st.last_sync_ms == 0 && st.clock_skew_known == 0 && st.rejected == 0);
    CHECK_ERR(ms_status(s, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_status(NULL, &st, &err), MS_ERR_INVALID_ARGUMENT);

    /* The clock report before any sync: nothing known, nothing re-dated. */
    ms_clock_report cr = MS_CLOCK_REPORT_INIT;
    memset(&cr.known, 0xAB, sizeof cr - offsetof(ms_clock_report, known));
    CHECK_OK(ms_clock_report_get(s, &cr, &err));
    CHECK(cr.version == MS_CLOCK_REPORT_VERSION && cr.known == 0 && cr.ahead == 0);
    CHECK(cr.offset_ms == 0 && cr.redated == 0 && cr.redated_at_ms == 0 && cr.waiting == 0);
    cr.version = 7;
    CHECK_ERR(ms_clock_report_get(s, &cr, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "version 7"));
    CHECK_ERR(ms_clock_report_get(s, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_clock_report_get(NULL, &cr, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_clock_report_clear(s, &err), MS_ERR_NOT_ENROLLED);
    CHECK_ERR(ms_clock_report_clear(NULL, &err), MS_ERR_INVALID_ARGUMENT);

    ms_sync_progress p;
    CHECK_ERR(ms_sync_run(s, NULL, &p, &err), MS_ERR_NOT_ENROLLED);
    ms_sync* sync = NULL;
    CHECK_ERR(ms_sync_begin(s, NULL, &sync, &err), MS_ERR_NOT_ENROLLED);
    ms_buffer out = {NULL, 0};
    CHECK_ERR(ms_sync_rejected(s, &out, &err), MS_ERR_NOT_ENROLLED);
    CHECK_ERR(ms_sync_retry_rejected(s, &err), MS_ERR_NOT_ENROLLED);
    CHECK_ERR(ms_sync_run(NULL, NULL, &p, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_sync_begin(NULL, NULL, &sync, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_sync_begin(s, NULL, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_sync_rejected(NULL, &out, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_sync_retry_rejected(NULL, &err), MS_ERR_INVALID_ARGUMENT);
    ms_sync_options so = MS_SYNC_OPTIONS_INIT;
    so.push_batch = 5000;
    CHECK_ERR(ms_sync_run(s, &so, &p, &err), MS_ERR_INVALID_ARGUMENT);
    so.push_batch = 0;
    so.version = 3;
    CHECK_ERR(ms_sync_begin(s, &so, &sync, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(sync == NULL);

    /* Sans-I/O calls on NULL sessions. */
    ms_http_request* req = NULL;
    int64_t wait = -1;
    CHECK_ERR(ms_sync_next_request(NULL, &req, &err), MS_ERR_INVALID_ARGUMENT);
    memset(&err, 0, sizeof err);
    CHECK(ms_sync_handle_response(NULL, 200, NULL, 0, NULL, 0, &wait, &err) == MS_SYNC_STEP_FAILED);
    CHECK(err.code == MS_ERR_INVALID_ARGUMENT && wait == -1);
    memset(&err, 0, sizeof err);
    CHECK(ms_sync_transport_error(NULL, S("x"), &wait, &err) == MS_SYNC_STEP_FAILED);
    CHECK(err.code == MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_sync_get_progress(NULL, &p, &err), MS_ERR_INVALID_ARGUMENT);

    /* Enrollment misuse (no network needed). */
    ms_enroll_options eo = MS_ENROLL_OPTIONS_INIT;
    CHECK_ERR(ms_enroll(s, NULL, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_enroll(NULL, &eo, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_enroll(s, &eo, NULL, &err), MS_ERR_INVALID_ARGUMENT); /* no URL */
    eo.server_url = "ftp://example.org";
    eo.server_url_size = strlen(eo.server_url);
    eo.code = "ABCD";
    eo.code_size = 4;
    CHECK_ERR(ms_enroll(s, &eo, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    eo.server_url = "http://mentors.example.org"; /* plain HTTP off this machine */
    eo.server_url_size = strlen(eo.server_url);
    CHECK_ERR(ms_enroll(s, &eo, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "https"));
    /* Names that merely start like a loopback address are other machines. */
    const char* const not_loopback[] = {"http://127.example.org", "http://127.0.0.1.nip.io:9",
                                        "http://localhost.example.org:9", "http://[::2]:9"};
    for (size_t i = 0; i < sizeof not_loopback / sizeof not_loopback[0]; ++i) {
        eo.server_url = not_loopback[i];
        eo.server_url_size = strlen(eo.server_url);
        CHECK_ERR(ms_enroll(s, &eo, NULL, &err), MS_ERR_INVALID_ARGUMENT);
        CHECK(contains(err.message, "https"));
    }
    /* Loopback addresses and "localhost" pass the check (and then find nothing listening on
     * the discard port). */
    const char* const loopback[] = {"http://127.0.0.1:9", "http://127.1.2.3:9", "http://[::1]:9",
                                    "http://localhost:9", "http://LocalHost:9"};
    eo.connect_timeout_ms = 2000;
    for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; ++i) {
        eo.server_url = loopback[i];
        eo.server_url_size = strlen(eo.server_url);
        CHECK_ERR(ms_enroll(s, &eo, NULL, &err), MS_ERR_NETWORK);
    }
    eo.connect_timeout_ms = 0;
    eo.server_url = "http://127.0.0.1:9";
    eo.server_url_size = strlen(eo.server_url);
    eo.code_size = 0;
    CHECK_ERR(ms_enroll(s, &eo, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    eo.code_size = 4;
    eo.version = 2;
    CHECK_ERR(ms_enroll(s, &eo, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    /* Nothing listens on the discard port: a network error, transient. */
    eo.version = MS_ENROLL_OPTIONS_VERSION;
    eo.connect_timeout_ms = 2000;
    CHECK_ERR(ms_enroll(s, &eo, NULL, &err), MS_ERR_NETWORK);
    CHECK(err.transient == 1);
    CHECK_OK(ms_status(s, &st, &err));
    CHECK(st.enrolled == 0); /* nothing stored on failure */

    /* Cancel flags. */
    ms_cancel* c = NULL;
    CHECK_ERR(ms_cancel_new(NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_OK(ms_cancel_new(&c, &err));
    CHECK(ms_cancel_is_requested(c) == 0);
    ms_cancel_request(c);
    ms_cancel_request(c);
    CHECK(ms_cancel_is_requested(c) == 1);
    ms_cancel_reset(c);
    CHECK(ms_cancel_is_requested(c) == 0);
    CHECK(ms_cancel_is_requested(NULL) == -1);
    ms_cancel_request(NULL);
    ms_cancel_reset(NULL);
    ms_cancel_free(c);
}

/* ---- closing and wiping -------------------------------------------------------------------- */

static void test_close_and_wipe(void) {
    char path[300], wal[310];
    path_in_dir(path, sizeof path, "wipe.db");
    snprintf(wal, sizeof wal, "%s-wal", path);
    ms_open_options o = options_for(path);
    ms_key k = passphrase("pass");
    ms_store* s = NULL;
    CHECK_OK(ms_open(&o, &k, &s, &err));
    char id[MS_ID_SIZE];
    const char* json = absence_json();
    CHECK_OK(ms_record_create(s, S("absences"), json, strlen(json), id, &err));
    CHECK(file_exists(path));

    CHECK_ERR(ms_wipe(path, strlen(path), &err), MS_ERR_INVALID_STATE);
    CHECK_ERR(ms_wipe(NULL, 0, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_wipe(NULL, 5, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_OK(ms_close(s, &err));
    CHECK_OK(ms_wipe(path, strlen(path), &err));
    CHECK(!file_exists(path) && !file_exists(wal));
    CHECK_OK(ms_wipe(path, strlen(path), &err)); /* nothing left: still fine */

    /* The path is free again: a new, empty store. */
    CHECK_OK(ms_open(&o, &k, &s, &err));
    ms_buffer out = {NULL, 0};
    CHECK_ERR(ms_record_get(s, S("absences"), id, strlen(id), &out, &err), MS_ERR_NOT_FOUND);
    CHECK_OK(ms_close(s, &err));
    CHECK_OK(ms_wipe(path, strlen(path), &err));

    /* A file that is not a store's regular file is reported, not followed. */
    char link[300];
    path_in_dir(link, sizeof link, "link.db");
    CHECK(symlink("/etc/hostname", link) == 0);
    CHECK_ERR(ms_wipe(link, strlen(link), &err), MS_ERR_IO);
    CHECK(contains(err.message, "symbolic link"));
    unlink(link);
}

/* The whole content of a small file, NUL-terminated, in a static buffer ("" if unreadable). */
static const char* file_text(const char* path) {
    static char buf[4096];
    buf[0] = '\0';
    FILE* f = fopen(path, "rb");
    if (!f) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_file(const char* path, const char* text) {
    FILE* f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void sqlite_exec(const char* path, const char* statements) {
    sqlite3* db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, statements, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

static void with_suffix(char* out, size_t size, const char* path, const char* suffix) {
    snprintf(out, size, "%s%s", path, suffix);
}

static void test_wipe_refuses_what_is_not_a_store(void) {
    char notes[300], other[300], other_wal[310], other_shm[310], empty[300], sub[300];
    path_in_dir(notes, sizeof notes, "notes.txt");
    const char* text = "Call the class teacher on Monday.\n";
    write_file(notes, text);
    CHECK_ERR(ms_wipe(notes, strlen(notes), &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "is not a MentorSync store"));
    CHECK(contains(err.message, "not an SQLite database"));
    CHECK(contains(err.message, "nothing was wiped"));
    CHECK(strcmp(file_text(notes), text) == 0); /* intact */

    /* Another app's SQLite database, in WAL mode, with a key-value table called meta. */
    path_in_dir(other, sizeof other, "other.sqlite");
    with_suffix(other_wal, sizeof other_wal, other, "-wal");
    with_suffix(other_shm, sizeof other_shm, other, "-shm");
    sqlite_exec(other,
                "PRAGMA journal_mode=WAL; CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB);"
                "INSERT INTO meta VALUES('format', '1'), ('theme', 'dark');");
    CHECK_ERR(ms_wipe(other, strlen(other), &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "meta table is not a replica's"));
    CHECK(!file_exists(other_wal) && !file_exists(other_shm)); /* the look left no trace */
    sqlite3* db = NULL;
    sqlite3_stmt* q = NULL;
    CHECK(sqlite3_open(other, &db) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='theme'", -1, &q, NULL) ==
          SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW &&
          strcmp((const char*)sqlite3_column_text(q, 0), "dark") == 0);
    sqlite3_finalize(q);
    sqlite3_close(db);

    path_in_dir(empty, sizeof empty, "empty.db");
    write_file(empty, "");
    CHECK_ERR(ms_wipe(empty, strlen(empty), &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "empty"));
    CHECK(file_exists(empty));
    path_in_dir(sub, sizeof sub, "folder.db");
    CHECK(mkdir(sub, 0700) == 0);
    CHECK_ERR(ms_wipe(sub, strlen(sub), &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(contains(err.message, "not a regular file"));
    rmdir(sub);
    unlink(notes);
    unlink(other);
    unlink(empty);
}

static void test_wipe_erases_a_store_with_all_its_files(void) {
    char path[300], wal[310], shm[310], marker[310], journal[310];
    path_in_dir(path, sizeof path, "crashed.db");
    with_suffix(wal, sizeof wal, path, "-wal");
    with_suffix(shm, sizeof shm, path, "-shm");
    with_suffix(journal, sizeof journal, path, "-journal");
    with_suffix(marker, sizeof marker, path, "-wiping");
    ms_open_options o = options_for(path);
    ms_key k = passphrase("pass");

    /* An app that dies with its store open leaves the -wal and -shm (with the latest commits). */
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        ms_store* s = NULL;
        char id[MS_ID_SIZE];
        if (!ms_open(&o, &k, &s, NULL) ||
            !ms_record_create(s, S("absences"), absence_json(), strlen(absence_json()), id, NULL))
            _exit(1);
        _exit(0); /* no ms_close: a crash */
    }
    int status = -1;
    CHECK(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
          WEXITSTATUS(status) == 0);
    CHECK(file_exists(path) && file_exists(wal) && file_exists(shm));
    write_file(journal, ""); /* as journal_mode=TRUNCATE leaves one: it goes with its store */
    CHECK_OK(ms_wipe(path, strlen(path), &err));
    CHECK(!file_exists(path) && !file_exists(wal) && !file_exists(shm) && !file_exists(journal));
    CHECK(!file_exists(marker));

    /* A companion that is a symbolic link stops the wipe before anything is touched. */
    ms_store* s = NULL;
    CHECK_OK(ms_open(&o, &k, &s, &err));
    CHECK_OK(ms_close(s, &err));
    CHECK(symlink("/etc/hostname", journal) == 0);
    CHECK_ERR(ms_wipe(path, strlen(path), &err), MS_ERR_IO);
    CHECK(contains(err.message, "symbolic link"));
    unlink(journal);
    CHECK_OK(ms_open(&o, &k, &s, &err)); /* the store is untouched */

    /* Open under another name (a hard link) is open all the same. */
    char alias[300];
    path_in_dir(alias, sizeof alias, "alias.db");
    CHECK(link(path, alias) == 0);
    CHECK_ERR(ms_wipe(alias, strlen(alias), &err), MS_ERR_INVALID_STATE);
    unlink(alias);
    CHECK_OK(ms_close(s, &err));

    /* A wipe cut short after it began overwriting: the file no longer looks like a store, and
     * only the mark of the wipe in progress lets the next ms_wipe finish the job. */
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    static const char zeros[4096];
    CHECK(write(fd, zeros, sizeof zeros) == (ssize_t)sizeof zeros);
    close(fd);
    CHECK_ERR(ms_wipe(path, strlen(path), &err), MS_ERR_INVALID_ARGUMENT);
    CHECK(file_exists(path));
    write_file(marker, "");
    CHECK_OK(ms_wipe(path, strlen(path), &err));
    CHECK(!file_exists(path) && !file_exists(marker));
}

int main(void) {
    const char* tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ms_c_api_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }

    test_version_and_names();
    test_open_misuse();
    test_keys_and_locking();
    test_unlock_checks_the_key_of_an_unlocked_store();

    char path[300];
    path_in_dir(path, sizeof path, "main.db");
    ms_open_options o = options_for(path);
    ms_key k = passphrase("pass");
    ms_store* s = NULL;
    CHECK_OK(ms_open(&o, &k, &s, &err));
    if (s) {
        test_records(s);
        test_queries(s);
        test_transactions(s);
        test_conflicts_and_quarantine_local(s);
        test_observers(s);
        test_unobserve_waits_for_other_threads(s);
        test_status_and_unenrolled_sync(s);
        CHECK_OK(ms_close(s, &err));
    }
    test_close_and_wipe();
    test_wipe_refuses_what_is_not_a_store();
    test_wipe_erases_a_store_with_all_its_files();

    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_exit("c_api_test");
}
