/* The C ABI's sync functions from C against the real server (started by run_with_server.sh):
 * enrollment, ms_sync_run with progress and cancellation from another thread, the sans-I/O
 * session driven by a tiny HTTP client written here (as an app with its own HTTP stack would),
 * rejected pushes, conflicts between two devices, remote change observers, and misuse.
 *
 * usage: c_api_sync_test SERVER_URL CODE_A CODE_B LEARNER_ID WORK_DIR */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static ms_error err;
static const char* server_url;
static const char* learner;
static const char* work_dir;

static ms_store* open_store(const char* name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", work_dir, name);
    ms_open_options o = MS_OPEN_OPTIONS_INIT;
    o.path = path;
    o.path_size = strlen(path);
    o.kdf_ops_limit = 1;
    o.kdf_mem_limit = 8192;
    static const uint8_t raw[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
    ms_key k = {MS_KEY_RAW, raw, sizeof raw};
    ms_store* s = NULL;
    CHECK_OK(ms_open(&o, &k, &s, &err));
    return s;
}

static ms_enroll_options enroll_options(const char* code) {
    ms_enroll_options e = MS_ENROLL_OPTIONS_INIT;
    e.server_url = server_url;
    e.server_url_size = strlen(server_url);
    e.code = code;
    e.code_size = strlen(code);
    e.label = "Planšete 3"; /* UTF-8 */
    e.label_size = strlen(e.label);
    return e;
}

static void add_absence(ms_store* s, const char* learner_id, int day, char id[MS_ID_SIZE]) {
    char json[300];
    snprintf(json, sizeof json,
             "{\"learner_id\":\"%s\",\"date\":\"2026-04-%02d\",\"lessons\":2,"
             "\"status\":\"unjustified\",\"source\":\"mentor\"}",
             learner_id, day);
    CHECK_OK(ms_record_create(s, S("absences"), json, strlen(json), id, &err));
}

static int count_learner_absences(ms_store* s) {
    ms_query_options q = MS_QUERY_OPTIONS_INIT;
    q.collection = "absences";
    q.collection_size = 8;
    q.ref = learner;
    q.ref_size = strlen(learner);
    ms_buffer out = {NULL, 0};
    CHECK_OK(ms_query(s, &q, &out, &err));
    int n = count_of(out.data, "\"id\":");
    ms_buffer_free(&out);
    return n;
}

/* Copies the string value of "key":"..." that follows `from` in a JSON text. */
static int json_string(const char* text, const char* key, char* out, size_t size) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char* p = text ? strstr(text, pattern) : NULL;
    if (!p) return 0;
    p += strlen(pattern);
    const char* end = strchr(p, '"');
    if (!end || (size_t)(end - p) >= size) return 0;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return 1;
}

/* ---- a minimal HTTP/1.1 client over a socket (the "app's own HTTP stack") ------------------ */

typedef struct http_answer {
    int status;
    char* body;
    size_t body_size;
} http_answer;

static int server_port(void) {
    const char* colon = strrchr(server_url, ':');
    return colon ? atoi(colon + 1) : 0;
}

/* Sends the request exactly as the library described it; 0 on a transport failure. */
static int http_send(const ms_http_request* req, http_answer* answer) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)server_port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) {
        close(fd);
        return 0;
    }
    size_t cap = 4096 + req->body_size;
    for (size_t i = 0; i < req->header_count; ++i)
        cap += req->headers[i].name_size + req->headers[i].value_size + 4;
    char* out = malloc(cap);
    int n = snprintf(out, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n",
                     req->method, req->path, req->body_size);
    size_t len = (size_t)n;
    for (size_t i = 0; i < req->header_count; ++i)
        len += (size_t)snprintf(out + len, cap - len, "%.*s: %.*s\r\n",
                                (int)req->headers[i].name_size, req->headers[i].name,
                                (int)req->headers[i].value_size, req->headers[i].value);
    len += (size_t)snprintf(out + len, cap - len, "\r\n");
    memcpy(out + len, req->body, req->body_size);
    len += req->body_size;
    size_t sent = 0;
    while (sent < len) {
        ssize_t w = write(fd, out + sent, len - sent);
        if (w <= 0) break;
        sent += (size_t)w;
    }
    free(out);
    size_t in_cap = 1 << 16, in_len = 0;
    char* in = malloc(in_cap);
    for (;;) {
        if (in_len == in_cap) in = realloc(in, in_cap *= 2);
        ssize_t r = read(fd, in + in_len, in_cap - in_len);
        if (r <= 0) break;
        in_len += (size_t)r;
    }
    close(fd);
    char* head_end = NULL;
    for (size_t i = 0; i + 3 < in_len; ++i)
        if (memcmp(in + i, "\r\n\r\n", 4) == 0) {
            head_end = in + i;
            break;
        }
    if (sent < len || !head_end || in_len < 12 || memcmp(in, "HTTP/1.1 ", 9) != 0) {
        free(in);
        return 0;
    }
    answer->status = atoi(in + 9);
    answer->body_size = in_len - (size_t)(head_end + 4 - in);
    answer->body = malloc(answer->body_size + 1);
    memcpy(answer->body, head_end + 4, answer->body_size);
    free(in);
    return 1;
}

/* The value of a request's header, or NULL. */
static const char* header_value(const ms_http_request* req, const char* name) {
    if (!req) return NULL;
    for (size_t i = 0; i < req->header_count; ++i)
        if (strcmp(req->headers[i].name, name) == 0) return req->headers[i].value;
    return NULL;
}

/* Drives a whole sans-I/O sync; returns the last step. */
static ms_sync_step drive(ms_sync* sync, int* requests) {
    for (int guard = 0; guard < 1000; ++guard) {
        ms_http_request* req = NULL;
        if (!ms_sync_next_request(sync, &req, &err)) return MS_SYNC_STEP_FAILED;
        http_answer a = {0, NULL, 0};
        int64_t wait = 0;
        ms_sync_step step;
        if (http_send(req, &a))
            step =
                ms_sync_handle_response(sync, a.status, NULL, 0, a.body, a.body_size, &wait, &err);
        else
            step = ms_sync_transport_error(sync, S("connection failed"), &wait, &err);
        free(a.body);
        ms_http_request_free(req);
        ++*requests;
        if (step == MS_SYNC_STEP_NEXT) continue;
        if (step == MS_SYNC_STEP_RETRY) {
            struct timespec ts = {0, (long)(wait > 900 ? 900 : wait) * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        return step;
    }
    return MS_SYNC_STEP_FAILED;
}

/* ---- progress and cancellation ------------------------------------------------------------- */

typedef struct progress_log {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    uint64_t last_requests;
    int monotonic;
    ms_cancel* cancel;
} progress_log;

static void on_progress(void* context, const ms_sync_progress* p) {
    progress_log* log = (progress_log*)context;
    pthread_mutex_lock(&log->mu);
    if (p->requests < log->last_requests) log->monotonic = 0;
    log->last_requests = p->requests;
    log->calls++;
    pthread_cond_broadcast(&log->cv);
    pthread_mutex_unlock(&log->mu);
}

/* The UI thread's "stop" button: waits for a few responses, then cancels. */
static void* canceller(void* arg) {
    progress_log* log = (progress_log*)arg;
    pthread_mutex_lock(&log->mu);
    while (log->calls < 3)
        pthread_cond_wait(&log->cv, &log->mu);
    pthread_mutex_unlock(&log->mu);
    ms_cancel_request(log->cancel);
    return NULL;
}

/* A progress callback that tries to close its own store (refused) and counts calls. */
typedef struct closer_probe {
    ms_store* store;
    int calls;
    int refused;
} closer_probe;

static void on_progress_try_close(void* context, const ms_sync_progress* p) {
    (void)p;
    closer_probe* c = (closer_probe*)context;
    ms_error e;
    c->calls++;
    if (!ms_close(c->store, &e) && e.code == MS_ERR_INVALID_STATE) c->refused++;
}

/* A sync on its own thread, while the test's thread keeps writing. */
typedef struct background_sync {
    ms_store* store;
    int ok;
    ms_error error;
} background_sync;

static void* run_sync_thread(void* arg) {
    background_sync* b = (background_sync*)arg;
    ms_sync_options o = MS_SYNC_OPTIONS_INIT;
    o.push_batch = 1;
    b->ok = ms_sync_run(b->store, &o, NULL, &b->error);
    return NULL;
}

/* A sans-I/O progress callback calling back into its own session (refused, not a deadlock). */
typedef struct reentry_probe {
    ms_sync* sync;
    int calls;
    int refused;
} reentry_probe;

static void on_progress_reenter(void* context, const ms_sync_progress* p) {
    (void)p;
    reentry_probe* r = (reentry_probe*)context;
    ms_sync_progress inner;
    ms_error e;
    r->calls++;
    if (!ms_sync_get_progress(r->sync, &inner, &e) && e.code == MS_ERR_INVALID_STATE) r->refused++;
}

typedef struct remote_seen {
    int calls;
    int remote_changes;
} remote_seen;

static void on_remote(void* context, const ms_change* changes, size_t count) {
    remote_seen* r = (remote_seen*)context;
    r->calls++;
    for (size_t i = 0; i < count; ++i)
        if (changes[i].remote) r->remote_changes++;
}

/* ---- an edit the server refuses as stamped in the future ------------------------------------ */

/* A push answer refusing one transaction as "future_stamp", the server's clock at `server_ms`:
 * {"results": [[2, "future_stamp", "test"]], "server_time_ms": server_ms} in msgpack. */
static size_t future_stamp_answer(uint8_t* out, int64_t server_ms) {
    static const char head[] =
        "\x82\xa7results\x91\x93\x02\xac"
        "future_stamp\xa4test\xaeserver_time_ms\xcf";
    size_t n = sizeof head - 1;
    memcpy(out, head, n);
    for (int i = 7; i >= 0; --i)
        out[n++] = (uint8_t)((uint64_t)server_ms >> (8 * i));
    return n;
}

/* The session re-dates the refused edit and sends it again at once; the real server stores it,
 * and the clock report tells the app. The refusal is a fake answer: this store's clock is
 * right, so it says the server's clock is an hour behind the edit. */
static void test_future_stamp_answer(ms_store* a) {
    CHECK_OK(ms_sync_run(a, NULL, NULL, &err)); /* nothing else waits to be sent */
    ms_clock_report cr = MS_CLOCK_REPORT_INIT;
    CHECK_OK(ms_clock_report_get(a, &cr, &err));
    CHECK(cr.known == 1 && cr.warning == 0 && cr.offset_ms < 60000 && cr.redated == 0);
    char id[MS_ID_SIZE];
    add_absence(a, learner, 28, id);
    ms_store_status before;
    CHECK_OK(ms_status(a, &before, &err));

    ms_sync* sync = NULL;
    CHECK_OK(ms_sync_begin(a, NULL, &sync, &err));
    ms_http_request* req = NULL;
    CHECK_OK(ms_sync_next_request(sync, &req, &err));
    CHECK(strcmp(req->path, "/v1/sync/push") == 0);
    ms_http_request_free(req);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    const int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    uint8_t body[64];
    const size_t size = future_stamp_answer(body, now_ms - 3600000);
    int64_t wait = 0;
    CHECK(ms_sync_handle_response(sync, 200, NULL, 0, body, size, &wait, &err) ==
          MS_SYNC_STEP_NEXT);
    /* Sent again straight away with its new stamp, then the pull. */
    int requests = 0;
    CHECK(drive(sync, &requests) == MS_SYNC_STEP_DONE);
    CHECK(requests == 2);
    ms_sync_finish(sync);

    CHECK_OK(ms_clock_report_get(a, &cr, &err));
    CHECK(cr.redated == 1 && cr.waiting == 0 && cr.redated_at_ms > 0);
    CHECK(cr.redated_ahead_ms > 3500000 && cr.redated_ahead_ms < 3700000);
    ms_store_status after;
    CHECK_OK(ms_status(a, &after, &err));
    CHECK(after.pending_changes + 1 == before.pending_changes);
    CHECK(after.rejected == before.rejected);
    CHECK_OK(ms_clock_report_clear(a, &err));
    CHECK_OK(ms_clock_report_get(a, &cr, &err));
    CHECK(cr.redated == 0 && cr.redated_ahead_ms == 0 && cr.redated_at_ms == 0);
}

int main(int argc, char** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s SERVER_URL CODE_A CODE_B LEARNER_ID WORK_DIR\n", argv[0]);
        return 2;
    }
    server_url = argv[1];
    const char* code_a = argv[2];
    const char* code_b = argv[3];
    learner = argv[4];
    work_dir = argv[5];
    const char* stranger = "0f8fad5b-d9cb-469f-a165-70867728950e"; /* not assigned */

    /* ---- enrollment ---- */
    ms_store* a = open_store("a.db");
    ms_store* b = open_store("b.db");
    ms_store* d = open_store("d.db");
    if (!a || !b || !d) return check_exit("c_api_sync_test");
    ms_enroll_options ea = enroll_options(code_a);
    ms_enrollment en;
    CHECK_OK(ms_enroll(a, &ea, &en, &err));
    CHECK(strlen(en.device_id) == 36 && strlen(en.user_id) == 36);
    CHECK(strcmp(en.role, "mentor") == 0 && en.server_time_ms > 0);
    ms_store_status st;
    CHECK_OK(ms_status(a, &st, &err));
    CHECK(st.enrolled == 1 && strcmp(st.device_id, en.device_id) == 0);
    CHECK_ERR(ms_enroll(a, &ea, NULL, &err), MS_ERR_INVALID_STATE);
    /* A used code is refused by the server: SERVER domain, a 4xx, a protocol code. */
    CHECK_DOMAIN_ERR(ms_enroll(d, &ea, NULL, &err), MS_ERROR_DOMAIN_SERVER, err.code);
    CHECK(err.domain == MS_ERROR_DOMAIN_SERVER && err.code >= 400 && err.code < 500);
    CHECK(err.server_code[0] != '\0' && err.transient == 0);
    CHECK_OK(ms_status(d, &st, &err));
    CHECK(st.enrolled == 0);
    ms_enroll_options eb = enroll_options(code_b);
    CHECK_OK(ms_enroll(b, &eb, NULL, &err));

    /* ---- ms_sync_run: push with progress; one transaction out of scope is rejected ---- */
    char id[MS_ID_SIZE], shared[MS_ID_SIZE];
    for (int day = 1; day <= 20; ++day)
        add_absence(a, learner, day, day == 1 ? shared : id);
    add_absence(a, stranger, 21, id);
    progress_log log;
    memset(&log, 0, sizeof log);
    pthread_mutex_init(&log.mu, NULL);
    pthread_cond_init(&log.cv, NULL);
    log.monotonic = 1;
    ms_sync_options so = MS_SYNC_OPTIONS_INIT;
    so.on_progress = on_progress;
    so.progress_context = &log;
    ms_sync_progress p;
    CHECK_OK(ms_sync_run(a, &so, &p, &err));
    CHECK(log.calls >= 2 && log.monotonic);
    CHECK(p.pushed == 21 && p.acked == 20 && p.rejected == 1 && p.requests >= 2);
    CHECK_OK(ms_status(a, &st, &err));
    CHECK(st.last_sync_ms > 0 && st.clock_skew_known == 1 && st.clock_skew_warning == 0);
    CHECK(st.rejected == 1);
    ms_buffer out = {NULL, 0};
    CHECK_OK(ms_sync_rejected(a, &out, &err));
    CHECK(contains(out.data, "out_of_scope") && contains(out.data, "\"stamp\":\""));
    ms_buffer_free(&out);
    CHECK_OK(ms_sync_retry_rejected(a, &err));
    CHECK_OK(ms_status(a, &st, &err));
    CHECK(st.rejected == 0);
    CHECK_OK(ms_record_delete(a, S("absences"), id, strlen(id), &err)); /* the stranger's */

    /* ---- sans-I/O on B: pull what A pushed, with remote observers ---- */
    remote_seen seen = {0, 0};
    uint64_t obs = 0;
    CHECK_OK(ms_observe(b, on_remote, &seen, &obs, &err));
    ms_sync* sync = NULL;
    ms_sync_options bo = MS_SYNC_OPTIONS_INIT;
    bo.pull_limit = 7; /* several pages */
    reentry_probe reentry = {NULL, 0, 0};
    bo.on_progress = on_progress_reenter;
    bo.progress_context = &reentry;
    CHECK_OK(ms_sync_begin(b, &bo, &sync, &err));
    reentry.sync = sync;
    ms_http_request* req = NULL;
    int64_t wait = -1;
    /* Misuse first: no request outstanding yet. */
    memset(&err, 0, sizeof err);
    CHECK(ms_sync_handle_response(sync, 200, NULL, 0, NULL, 0, &wait, &err) == MS_SYNC_STEP_FAILED);
    CHECK(err.code == MS_ERR_INVALID_STATE);
    CHECK_ERR(ms_sync_next_request(sync, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_OK(ms_sync_next_request(sync, &req, &err));
    CHECK(req && strcmp(req->method, "POST") == 0 && req->method_size == 4);
    CHECK(req && strncmp(req->url, server_url, strlen(server_url)) == 0);
    CHECK(req && strncmp(req->path, "/v1/", 4) == 0 && strlen(req->path) == req->path_size);
    CHECK(req && req->header_count >= 3 && req->body_size > 0);
    /* Wrong arguments leave the request outstanding. */
    memset(&err, 0, sizeof err);
    CHECK(ms_sync_handle_response(sync, 42, NULL, 0, NULL, 0, &wait, &err) == MS_SYNC_STEP_FAILED);
    CHECK(err.code == MS_ERR_INVALID_ARGUMENT);
    memset(&err, 0, sizeof err);
    CHECK(ms_sync_handle_response(sync, 200, NULL, 3, NULL, 0, &wait, &err) == MS_SYNC_STEP_FAILED);
    CHECK(err.code == MS_ERR_INVALID_ARGUMENT);
    memset(&err, 0, sizeof err);
    CHECK(ms_sync_handle_response(sync, 200, NULL, 0, NULL, 9, &wait, &err) == MS_SYNC_STEP_FAILED);
    CHECK(err.code == MS_ERR_INVALID_ARGUMENT);
    /* A garbled 200 (a captive portal): transient, the same request is retried. */
    memset(&err, 0, sizeof err);
    CHECK(ms_sync_handle_response(sync, 200, NULL, 0, S("<html>wifi login</html>"), &wait, &err) ==
          MS_SYNC_STEP_RETRY);
    CHECK(err.domain == MS_ERROR_DOMAIN_MENTORSYNC && err.code == MS_ERR_PROTOCOL);
    CHECK(err.transient == 1 && wait > 0 && err.retry_after_ms == wait);
    ms_http_request_free(req);
    /* A transport failure: transient too. */
    CHECK_OK(ms_sync_next_request(sync, &req, &err));
    wait = -1;
    memset(&err, 0, sizeof err);
    CHECK(ms_sync_transport_error(sync, S("timed out"), &wait, &err) == MS_SYNC_STEP_RETRY);
    CHECK(err.code == MS_ERR_NETWORK && err.transient == 1 && wait > 0);
    CHECK(contains(err.message, "timed out"));
    ms_http_request_free(req);
    /* A 503: SERVER domain, transient. */
    CHECK_OK(ms_sync_next_request(sync, &req, &err));
    memset(&err, 0, sizeof err);
    CHECK(ms_sync_handle_response(sync, 503, NULL, 0, NULL, 0, &wait, &err) == MS_SYNC_STEP_RETRY);
    CHECK(err.domain == MS_ERROR_DOMAIN_SERVER && err.code == 503 && err.transient == 1);
    ms_http_request_free(req);
    /* A 429 with Retry-After: the wait is at least what the server asked for (the backoff
     * alone would be a few seconds by now). */
    CHECK_OK(ms_sync_next_request(sync, &req, &err));
    const ms_http_header throttle[] = {{"Content-Length", 14, "0", 1},
                                       {"retry-after", 11, "90", 2}};
    wait = -1;
    memset(&err, 0, sizeof err);
    CHECK(ms_sync_handle_response(sync, 429, throttle, 2, NULL, 0, &wait, &err) ==
          MS_SYNC_STEP_RETRY);
    CHECK(err.domain == MS_ERROR_DOMAIN_SERVER && err.code == 429 && err.transient == 1);
    CHECK(wait >= 90000 && err.retry_after_ms == wait);
    ms_http_request_free(req);
    /* Every request is signed afresh: asked for twice before any answer (a resend on a new
     * connection), the body is the same and the signature is new; the second replaces the
     * first, which must never be sent again (its nonce may be recorded). */
    ms_http_request* again = NULL;
    CHECK_OK(ms_sync_next_request(sync, &req, &err));
    CHECK_OK(ms_sync_next_request(sync, &again, &err));
    const char* auth1 = header_value(req, "Authorization");
    const char* auth2 = header_value(again, "Authorization");
    CHECK(auth1 && auth2 && strncmp(auth1, "MS1 ", 4) == 0 && strcmp(auth1, auth2) != 0);
    CHECK(req && again && req->body_size == again->body_size &&
          memcmp(req->body, again->body, req->body_size) == 0);
    ms_http_request_free(req);
    ms_http_request_free(again);
    /* Now for real. */
    int requests = 0;
    CHECK(drive(sync, &requests) == MS_SYNC_STEP_DONE);
    CHECK(requests >= 3); /* push, then pull pages of 7 */
    CHECK(reentry.calls >= requests && reentry.refused == reentry.calls);
    CHECK_OK(ms_sync_get_progress(sync, &p, &err));
    CHECK(p.pulled >= 20 && p.applied >= 20);
    CHECK_ERR(ms_sync_get_progress(sync, NULL, &err), MS_ERR_INVALID_ARGUMENT);
    CHECK_ERR(ms_sync_next_request(sync, &req, &err), MS_ERR_INVALID_STATE);
    ms_sync_finish(sync);
    CHECK(count_learner_absences(b) == 20);
    CHECK(seen.calls >= 1 && seen.remote_changes >= 20);
    CHECK_OK(ms_status(b, &st, &err));
    CHECK(st.last_sync_ms > 0 && st.pending_changes == 0);
    CHECK_OK(ms_unobserve(b, obs, &err));

    /* ---- a conflict between the two devices, resolved through the C ABI ---- */
    CHECK_OK(
        ms_record_update(a, S("absences"), shared, strlen(shared), S("{\"lessons\":3}"), &err));
    CHECK_OK(
        ms_record_update(b, S("absences"), shared, strlen(shared), S("{\"lessons\":4}"), &err));
    CHECK_OK(ms_sync_run(a, NULL, NULL, &err));
    CHECK_OK(ms_sync_run(b, NULL, NULL, &err));
    CHECK_OK(ms_sync_run(a, NULL, NULL, &err));
    ms_store* conflicted = NULL;
    ms_buffer ca = {NULL, 0}, cb = {NULL, 0};
    CHECK_OK(ms_conflicts(a, shared, strlen(shared), &ca, &err));
    CHECK_OK(ms_conflicts(b, NULL, 0, &cb, &err));
    ms_buffer* list = NULL;
    if (contains(ca.data, "loser_stamp")) {
        conflicted = a;
        list = &ca;
    } else if (contains(cb.data, "loser_stamp")) {
        conflicted = b;
        list = &cb;
    }
    CHECK(conflicted != NULL);
    if (conflicted) {
        char row[64], field[64], loser[80];
        CHECK(json_string(list->data, "row", row, sizeof row) && strcmp(row, shared) == 0);
        CHECK(json_string(list->data, "field", field, sizeof field) &&
              strcmp(field, "lessons") == 0);
        CHECK(json_string(list->data, "loser_stamp", loser, sizeof loser));
        CHECK_OK(ms_status(conflicted, &st, &err));
        CHECK(st.open_conflicts == 1);
        CHECK_ERR(ms_conflict_resolve(conflicted, row, strlen(row), field, strlen(field), loser,
                                      strlen(loser), MS_RESOLVE_CUSTOM, S("\"many\""), &err),
                  MS_ERR_VALIDATION);
        CHECK_OK(ms_conflict_resolve(conflicted, row, strlen(row), field, strlen(field), loser,
                                     strlen(loser), MS_RESOLVE_CUSTOM, S("7"), &err));
        CHECK_ERR(ms_conflict_resolve(conflicted, row, strlen(row), field, strlen(field), loser,
                                      strlen(loser), MS_RESOLVE_KEEP_WINNER, NULL, 0, &err),
                  MS_ERR_NOT_FOUND);
        CHECK_OK(ms_status(conflicted, &st, &err));
        CHECK(st.open_conflicts == 0);
        CHECK_OK(ms_record_get(conflicted, S("absences"), shared, strlen(shared), &out, &err));
        CHECK(contains(out.data, "\"lessons\":7"));
        ms_buffer_free(&out);
    }
    ms_buffer_free(&ca);
    ms_buffer_free(&cb);

    /* ---- cancellation from another thread, then the next sync resumes ---- */
    for (int day = 1; day <= 28; ++day)
        add_absence(a, learner, day, id);
    ms_cancel* cancel = NULL;
    CHECK_OK(ms_cancel_new(&cancel, &err));
    memset(&log, 0, sizeof log);
    pthread_mutex_init(&log.mu, NULL);
    pthread_cond_init(&log.cv, NULL);
    log.monotonic = 1;
    log.cancel = cancel;
    so.cancel = cancel;
    so.push_batch = 1; /* one request per transaction: time to cancel midway */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, canceller, &log) == 0);
    CHECK_ERR(ms_sync_run(a, &so, &p, &err), MS_ERR_CANCELLED);
    pthread_join(t, NULL);
    CHECK(ms_cancel_is_requested(cancel) == 1);
    CHECK_OK(ms_status(a, &st, &err));
    /* Rejected transactions stay unacknowledged: they count as pending. */
    CHECK(st.pending_changes > st.rejected && st.pending_changes - st.rejected < 28);
    /* Cancelled before it starts. */
    CHECK_ERR(ms_sync_run(a, &so, &p, &err), MS_ERR_CANCELLED);
    ms_cancel_reset(cancel);
    so.push_batch = 0;
    so.on_progress = NULL;
    so.progress_context = NULL;
    CHECK_OK(ms_sync_run(a, &so, &p, &err));
    CHECK(p.pushed > 0);
    CHECK_OK(ms_status(a, &st, &err));
    CHECK(st.pending_changes == st.rejected);
    ms_cancel_free(cancel);
    CHECK_ERR(ms_sync_begin(a, &so, &sync, &err), MS_ERR_INVALID_ARGUMENT); /* cancel is run-only */

    /* ---- a progress callback cannot close its own store ---- */
    closer_probe probe = {a, 0, 0};
    ms_sync_options po = MS_SYNC_OPTIONS_INIT;
    po.on_progress = on_progress_try_close;
    po.progress_context = &probe;
    CHECK_OK(ms_sync_run(a, &po, NULL, &err));
    CHECK(probe.calls >= 1 && probe.refused == probe.calls);

    /* ---- reads and writes on one thread while another syncs the same store ---- */
    for (int day = 1; day <= 15; ++day)
        add_absence(a, learner, day, id);
    background_sync bg;
    memset(&bg, 0, sizeof bg);
    bg.store = a;
    pthread_t syncer;
    CHECK(pthread_create(&syncer, NULL, run_sync_thread, &bg) == 0);
    int before = count_learner_absences(a);
    for (int day = 16; day <= 25; ++day)
        add_absence(a, learner, day, id);
    CHECK(count_learner_absences(a) == before + 10);
    pthread_join(syncer, NULL);
    CHECK(bg.ok);
    CHECK_OK(ms_sync_run(a, NULL, NULL, &err)); /* sends what the concurrent writes added */
    CHECK_OK(ms_status(a, &st, &err));
    CHECK(st.pending_changes == st.rejected);

    /* ---- a locked store does not sync ---- */
    CHECK_OK(ms_lock(b, &err));
    CHECK_ERR(ms_sync_run(b, NULL, NULL, &err), MS_ERR_LOCKED);
    CHECK_ERR(ms_sync_begin(b, NULL, &sync, &err), MS_ERR_LOCKED);
    CHECK_ERR(ms_sync_rejected(b, &out, &err), MS_ERR_LOCKED);
    ms_clock_report locked_report = MS_CLOCK_REPORT_INIT;
    CHECK_ERR(ms_clock_report_get(b, &locked_report, &err), MS_ERR_LOCKED);
    static const uint8_t raw[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
    ms_key k = {MS_KEY_RAW, raw, sizeof raw};
    CHECK_OK(ms_unlock(b, &k, &err));

    /* ---- a session outliving its store answers CLOSED ---- */
    CHECK_OK(ms_sync_begin(b, NULL, &sync, &err));
    CHECK_OK(ms_close(b, &err));
    CHECK_ERR(ms_sync_next_request(sync, &req, &err), MS_ERR_CLOSED);
    memset(&err, 0, sizeof err);
    CHECK(ms_sync_transport_error(sync, S("x"), &wait, &err) == MS_SYNC_STEP_FAILED);
    CHECK(err.code == MS_ERR_CLOSED);
    CHECK_ERR(ms_sync_get_progress(sync, &p, &err), MS_ERR_CLOSED);
    ms_sync_finish(sync);

    /* B's identity survived in the encrypted store: reopened, it syncs without enrolling. */
    b = open_store("b.db");
    CHECK_OK(ms_sync_run(b, NULL, &p, &err));
    CHECK(p.pulled >= 28);
    CHECK(count_learner_absences(b) == 73);

    test_future_stamp_answer(a);

    CHECK_OK(ms_close(a, &err));
    CHECK_OK(ms_close(b, &err));
    CHECK_OK(ms_close(d, &err));
    return check_exit("c_api_sync_test");
}
