/*
 * mentorsync.h — the C ABI of the MentorSync client SDK (libmentorsync).
 *
 * Tablet apps (Swift, Kotlin/JNI, Python ctypes) embed the offline-first sync engine through
 * this header: an encrypted local store of the programme's records, and sync with the
 * MentorSync server through a built-in HTTP(S) client or through the app's own HTTP stack.
 * docs/client-sdk.md explains how to build and embed it; docs/protocol.md is the wire contract.
 *
 * CONVENTIONS (they hold for every function below unless its comment says otherwise)
 *
 *  1. Names. Everything is prefixed ms_ (functions, types) or MS_ (macros, constants).
 *
 *  2. Handles are opaque pointers (ms_store, ms_txn, ms_sync, ms_cancel). Each has exactly one
 *     function that releases it (ms_close, ms_txn_free, ms_sync_finish, ms_cancel_free); passing
 *     NULL to a release function does nothing. Using a handle after releasing it is undefined
 *     (the library cannot detect a dangling pointer); every other misuse is reported.
 *
 *  3. Strings going in are UTF-8, given as a pointer and a length in bytes; they need no NUL
 *     terminator and may come straight from Swift/Kotlin/Python buffers. A NULL pointer with
 *     length 0 is the empty string; a NULL pointer with a non-zero length is
 *     MS_ERR_INVALID_ARGUMENT. Ids are canonical UUID text ("0f8fad5b-d9cb-469f-a165-...",
 *     36 bytes, any case); records and values are JSON text (see "Records as JSON").
 *
 *  4. Errors. Fallible functions return bool: true on success, false on failure. Their last
 *     parameter is `ms_error* error`, which is written ONLY on failure and may be NULL when the
 *     caller does not want the details. There is no per-thread "last error". An error has a
 *     domain, a code (its meaning depends on the domain), a `transient` flag (1: the same call
 *     may succeed later, e.g. no network; 0: retrying unchanged will fail again), a suggested
 *     retry delay, and a NUL-terminated UTF-8 message for logs and developers that names what
 *     was wrong. Messages name collections and fields; they never quote free text or personal
 *     fields, only, at most, a rejected coded value (an enum value, a number out of range).
 *     Out-parameters are written only on success.
 *
 *  5. Ownership. Data the library returns is owned by the caller and released with the
 *     matching free function: ms_buffer_free for ms_buffer, ms_http_request_free for
 *     ms_http_request. Both overwrite the bytes with zeros before freeing them (records hold
 *     personal data). Pointers passed into callbacks are valid only during the callback.
 *     Fixed-size output structs (ms_error, ms_store_status, ...) are caller-allocated.
 *
 *  6. Options structs start with `uint32_t version`; set it to the matching
 *     MS_..._OPTIONS_VERSION (or use the MS_..._OPTIONS_INIT macro). Every other field's zero
 *     value means "the default", so a zeroed struct with only `version` set is valid. An
 *     unknown version is MS_ERR_INVALID_ARGUMENT. A NULL options pointer means all defaults
 *     where the comment allows it.
 *
 *  7. Integers have fixed sizes (int32_t, int64_t, uint64_t, size_t for lengths); booleans in
 *     structs are int32_t (0 or 1) so every binding sees the same layout. Times are
 *     milliseconds since the Unix epoch (UTC) unless stated.
 *
 *  8. Threads. Every function may be called from any thread. One ms_store may be used from
 *     several threads at once: the store serialises its own work internally; a running sync
 *     (ms_sync_run) does not block reads and writes of other threads. An ms_txn and an ms_sync
 *     are each used by one thread at a time (calls on one of them are serialised by a mutex,
 *     so concurrent calls are safe but pointless). Callbacks say which thread runs them; they
 *     must not call ms_close or ms_wipe on the store that is calling them (that is refused
 *     with MS_ERR_INVALID_STATE: closing waits for running calls, which would never end).
 *
 *  9. No exception, abort or signal escapes the library on any input: failures, including
 *     running out of memory, come back as an ms_error.
 *
 * RECORDS AS JSON
 *   A record is a JSON object:
 *     {"id": "<uuid>", "collection": "contacts", "deleted": false,
 *      "updated": "<stamp>", "fields": {"learner_id": "<uuid>", "date": "2026-03-02", ...}}
 *   Field values map to JSON as: null, true/false, integers, numbers, strings, and arrays of
 *   those (enum lists). Objects are not field values. Dates are "YYYY-MM-DD", date-times
 *   "YYYY-MM-DDTHH:MM" (Europe/Riga local time); docs/schema.md lists every collection, field,
 *   type and limit. A stamp is the text "<hlc in hex>@<node uuid>"; it identifies one write
 *   (used to resolve conflicts and quarantined transactions).
 *   Writes take a JSON object of fields: create needs every required field; update sets only the
 *   fields given, and a null value clears a field.
 *
 * DOMAINS AND CODES
 *   MS_ERROR_DOMAIN_MENTORSYNC: `code` is an ms_error_code; the failure was found on this device
 *     (bad argument, schema validation, wrong key, storage, network, cancellation...).
 *   MS_ERROR_DOMAIN_SERVER: the server answered and refused. `code` is the HTTP status (e.g.
 *     403) and `server_code` the protocol's error code (e.g. "enrollment_invalid",
 *     "device_revoked", "stale_timestamp"; docs/protocol.md section 2). `transient` says
 *     whether waiting and retrying may help (e.g. 503), as the protocol defines it.
 */
#ifndef MENTORSYNC_MENTORSYNC_H
#define MENTORSYNC_MENTORSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#if defined(MS_BUILDING_SDK)
#define MS_API __declspec(dllexport)
#else
#define MS_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define MS_API __attribute__((visibility("default")))
#else
#define MS_API
#endif

/* In C++ every function is declared noexcept: nothing is ever thrown across the boundary. */
#ifdef __cplusplus
#define MS_NOEXCEPT noexcept
#else
#define MS_NOEXCEPT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ------------------------------------------------------------------------------ */

/* The ABI version of this header. It changes only when existing declarations change
 * incompatibly; additions keep it. Compare with ms_abi_version() at run time. */
#define MS_ABI_VERSION 1

/* The ABI version the loaded library implements (MS_ABI_VERSION it was built with). */
MS_API int32_t ms_abi_version(void) MS_NOEXCEPT;
/* The library's version, e.g. "0.1.0": a static NUL-terminated string (do not free). */
MS_API const char* ms_version(void) MS_NOEXCEPT;

/* ---- errors ------------------------------------------------------------------------------- */

typedef enum ms_error_domain {
    MS_ERROR_DOMAIN_NONE = 0,       /* never written by the library */
    MS_ERROR_DOMAIN_MENTORSYNC = 1, /* code: an ms_error_code */
    MS_ERROR_DOMAIN_SERVER = 2      /* code: the HTTP status; see server_code */
} ms_error_domain;

typedef enum ms_error_code {
    MS_ERR_OK = 0,               /* never written by the library */
    MS_ERR_INVALID_ARGUMENT = 1, /* a NULL/malformed argument, bad JSON, unknown collection,
                                    bad id, bad option; the message names it */
    MS_ERR_VALIDATION = 2,       /* a record does not satisfy the schema: the message names
                                    "collection.field: reason" */
    MS_ERR_NOT_FOUND = 3,        /* no such record, conflict or quarantined transaction; a
                                    missing store file with create_if_missing = 0 */
    MS_ERR_WRONG_KEY = 4,        /* the passphrase or raw key does not unlock this store */
    MS_ERR_LOCKED_OUT = 5,       /* too many wrong keys: wait retry_after_ms (transient) */
    MS_ERR_CORRUPT = 6,          /* the store file is damaged or was tampered with */
    MS_ERR_IO = 7,               /* the file system or SQLite failed (disk full, ...) */
    MS_ERR_LOCKED = 8,           /* the store is locked (ms_lock): unlock it first */
    MS_ERR_CLOSED = 9,           /* the store was closed (a sync session outliving ms_close) */
    MS_ERR_UNSUPPORTED = 10,     /* a newer file format, or something this build cannot do */
    MS_ERR_INTERNAL = 11,        /* a bug in the library: please report the message */
    MS_ERR_OUT_OF_MEMORY = 12,   /* an allocation failed (transient) */
    MS_ERR_NETWORK = 13,         /* the request did not get through or the answer did not
                                    arrive: no connection, DNS, timeout, TLS (transient) */
    MS_ERR_CANCELLED = 14,       /* the sync was cancelled through its ms_cancel */
    MS_ERR_NOT_ENROLLED = 15,    /* sync needs ms_enroll first */
    MS_ERR_INVALID_STATE = 16,   /* a call out of order: a transaction already committed, an
                                    enrolled store enrolled again, a store that is open being
                                    wiped, ms_close from a callback, a session not started */
    MS_ERR_PROTOCOL = 17         /* the server's answer was not a valid protocol answer
                                    (a proxy page, a wrong URL); transient */
} ms_error_code;

#define MS_ERROR_MESSAGE_SIZE 512
#define MS_SERVER_CODE_SIZE 64

typedef struct ms_error {
    int32_t domain;         /* an ms_error_domain */
    int32_t code;           /* per domain: an ms_error_code or an HTTP status */
    int32_t transient;      /* 1: retrying the same call later may succeed */
    int32_t reserved;       /* 0 */
    int64_t retry_after_ms; /* transient: a suggested delay before retrying (0: none given) */
    char server_code[MS_SERVER_CODE_SIZE]; /* SERVER domain: e.g. "out_of_scope"; else "" */
    char message[MS_ERROR_MESSAGE_SIZE];   /* NUL-terminated UTF-8, truncated on a character
                                              boundary if longer */
} ms_error;

/* Stable lower-case names for logs, e.g. "validation", "server". Static strings; an unknown
 * value gives "unknown". */
MS_API const char* ms_error_code_name(int32_t code) MS_NOEXCEPT;
MS_API const char* ms_error_domain_name(int32_t domain) MS_NOEXCEPT;

/* ---- buffers ------------------------------------------------------------------------------ */

/* Bytes the library returns (JSON text): `data` holds `size` bytes followed by a NUL that is
 * not counted. The caller owns it and releases it with ms_buffer_free. */
typedef struct ms_buffer {
    char* data;
    size_t size;
} ms_buffer;

/* Overwrites the bytes with zeros, frees them and sets data = NULL, size = 0. NULL, or a
 * buffer whose data is NULL, is fine. */
MS_API void ms_buffer_free(ms_buffer* buffer) MS_NOEXCEPT;

/* An id as NUL-terminated text: 36 characters and the NUL. */
#define MS_ID_SIZE 37
/* A stamp as NUL-terminated text ("<hlc hex>@<uuid>"): at most 53 characters and the NUL. */
#define MS_STAMP_SIZE 64

/* ---- opening, keys, locking --------------------------------------------------------------- */

typedef struct ms_store ms_store;

typedef enum ms_key_kind {
    MS_KEY_PASSPHRASE = 1, /* UTF-8 text typed by the user, stretched with Argon2id */
    MS_KEY_RAW = 2         /* exactly 32 random bytes the app keeps in the platform keystore
                              (iOS Keychain, Android Keystore); no stretching */
} ms_key_kind;

/* What unlocks a store. The library copies the secret and wipes its copy when done; the
 * caller should wipe its own. */
typedef struct ms_key {
    int32_t kind; /* an ms_key_kind */
    const uint8_t* bytes;
    size_t size;
} ms_key;

typedef enum ms_durability {
    MS_DURABILITY_FULL = 0,  /* default: a successful write survives power loss */
    MS_DURABILITY_NORMAL = 1 /* survives an app crash; the last writes may be lost on power
                                loss; faster on slow flash */
} ms_durability;

#define MS_OPEN_OPTIONS_VERSION 1
typedef struct ms_open_options {
    uint32_t version;
    const char* path; /* the store file (UTF-8 path); SQLite also creates path-wal, path-shm */
    size_t path_size;
    int32_t must_exist; /* 1: a missing file is MS_ERR_NOT_FOUND; 0: it is created */
    int32_t durability; /* an ms_durability */
    /* Argon2id cost for a passphrase, fixed when the store is created (ignored afterwards and
     * for raw keys). 0: the production default (3 passes over 64 MiB). Tests may use
     * 1 and 8192 (libsodium's minimum); never ship that. Allowed: ops 1..20, mem 8 KiB..1 GiB. */
    uint64_t kdf_ops_limit;
    uint64_t kdf_mem_limit;
} ms_open_options;
#define MS_OPEN_OPTIONS_INIT \
    { MS_OPEN_OPTIONS_VERSION, NULL, 0, 0, 0, 0, 0 }

/* Opens (creating it if allowed) and unlocks the store at options->path; on success
 * *out_store is a new handle.
 * Errors: INVALID_ARGUMENT (NULL options/key/out_store, bad option, raw key not 32 bytes),
 * NOT_FOUND, WRONG_KEY (wrong passphrase or key, or a passphrase for a raw-key store and vice
 * versa), LOCKED_OUT (five wrong keys in a row; the delay doubles with each further failure
 * and survives restarts; retry_after_ms says how long), CORRUPT, IO, UNSUPPORTED,
 * INVALID_STATE (the file is already open through another handle of this process).
 * Argon2id makes a passphrase open take a few hundred ms: do not call it on the UI thread. */
MS_API bool ms_open(const ms_open_options* options, const ms_key* key, ms_store** out_store,
                    ms_error* error) MS_NOEXCEPT;

/* Closes the store: waits for calls running on other threads (a running ms_sync_run: cancel it
 * first), wipes the keys from memory and closes the file. Sync sessions still alive answer
 * MS_ERR_CLOSED afterwards. Returns false only when called from a callback of this store
 * (INVALID_STATE: the handle then stays valid); otherwise the handle is released. NULL: true. */
MS_API bool ms_close(ms_store* store, ms_error* error) MS_NOEXCEPT;

/* Wipes the data key from memory: every record, sync and status call then fails with
 * MS_ERR_LOCKED until ms_unlock. Call it when the app goes to the background. Locking a locked
 * store is fine. */
MS_API bool ms_lock(ms_store* store, ms_error* error) MS_NOEXCEPT;
/* Unlocks with the same rules and lockout as ms_open. The key is checked whether the store is
 * locked or not, so an app may re-check its user with this call: a wrong key is WRONG_KEY and
 * counts toward the lockout like any wrong key (a key of the other kind, a passphrase for a
 * raw-key store or vice versa, is WRONG_KEY without counting: it tests no secret); a right key
 * succeeds and resets the count. Every failure but INVALID_ARGUMENT (WRONG_KEY, LOCKED_OUT, IO)
 * leaves the store LOCKED, even if it was unlocked before: a failed re-check locks the tablet,
 * as ms_change_key does, and calls running meanwhile (a sync) then fail with LOCKED.
 * INVALID_ARGUMENT (a NULL or malformed key) changes nothing. Argon2id makes a passphrase
 * check take a few hundred ms: not on the UI thread. */
MS_API bool ms_unlock(ms_store* store, const ms_key* key, ms_error* error) MS_NOEXCEPT;
/* 1 if locked, 0 if unlocked, -1 for a NULL or closed handle. */
MS_API int32_t ms_is_locked(const ms_store* store) MS_NOEXCEPT;
/* Re-wraps the data key under `next` after checking `current` (both kinds may differ: e.g.
 * move from a passphrase to a keystore-held raw key). Records are not re-encrypted. `current`
 * is checked like ms_unlock (same lockout) even when the store is unlocked, so whoever holds an
 * unlocked tablet cannot take it over: a wrong current key leaves the store LOCKED; success
 * leaves it unlocked. Errors: WRONG_KEY, LOCKED_OUT (current), INVALID_ARGUMENT (a NULL key,
 * a bad next key). */
MS_API bool ms_change_key(ms_store* store, const ms_key* current, const ms_key* next,
                          ms_error* error) MS_NOEXCEPT;

/* Erases a CLOSED store: the file and its -wal, -shm and -journal companions are overwritten
 * with zeros, flushed to the device, truncated and deleted, and the directory entry removal is
 * flushed. Only a MentorSync store is erased: the file is first read with SQLite, read-only,
 * and must be an SQLite database holding a store's meta table (format, node id, key mode,
 * wrapped key); anything else (a notes.txt, another app's database, an empty file, a
 * directory) is refused with INVALID_ARGUMENT, the message says what it is instead, and no
 * file is touched. A store too damaged for SQLite to read is refused too: delete it with the
 * file system. Wiping a path where no file exists succeeds and touches nothing (-wal, -shm or
 * -journal files without their store are left alone). While it erases, the file
 * "<path>-wiping" marks the wipe in progress; if a crash interrupts it, the next ms_wipe of the
 * same path finishes the job without recognising the half-erased file again.
 * What this can and cannot do (docs/client-sdk.md, "Wiping"): flash storage remaps writes and
 * copy-on-write file systems (APFS, F2FS snapshots) may keep old blocks, so overwriting is best
 * effort. The real guarantee is cryptographic: every record is sealed with a data key that
 * exists only wrapped inside the file; with a raw key, delete the keystore entry too and the
 * remaining blocks cannot be decrypted.
 * Errors: INVALID_ARGUMENT (NULL/empty path; the path is not a MentorSync store),
 * INVALID_STATE (the store is open in this process, under this or any other name), IO (the
 * path or a companion is a symbolic link, which is never followed; a file could not be read,
 * overwritten or removed; the message names it). */
MS_API bool ms_wipe(const char* path, size_t path_size, ms_error* error) MS_NOEXCEPT;

/* ---- records ------------------------------------------------------------------------------ */

/* Creates a record in `collection` from a JSON object of its fields, as one durable
 * transaction; writes the new id into out_id (MS_ID_SIZE bytes, NUL-terminated).
 * Errors: INVALID_ARGUMENT (not a JSON object, a value that is a JSON object, unknown
 * collection), VALIDATION (unknown field, missing required field, wrong type or range),
 * LOCKED, IO. */
MS_API bool ms_record_create(ms_store* store, const char* collection, size_t collection_size,
                             const char* fields_json, size_t fields_json_size,
                             char out_id[MS_ID_SIZE], ms_error* error) MS_NOEXCEPT;
/* Sets the fields given in a JSON object (null clears a field); other fields stay.
 * Errors: as create, plus NOT_FOUND (no such record in that collection). */
MS_API bool ms_record_update(ms_store* store, const char* collection, size_t collection_size,
                             const char* id, size_t id_size, const char* fields_json,
                             size_t fields_json_size, ms_error* error) MS_NOEXCEPT;
/* Marks a record deleted. It stays restorable (ms_record_restore) and the deletion syncs. */
MS_API bool ms_record_delete(ms_store* store, const char* collection, size_t collection_size,
                             const char* id, size_t id_size, ms_error* error) MS_NOEXCEPT;
/* Undoes ms_record_delete. */
MS_API bool ms_record_restore(ms_store* store, const char* collection, size_t collection_size,
                              const char* id, size_t id_size, ms_error* error) MS_NOEXCEPT;
/* The record as JSON (see "Records as JSON"), deleted ones included ("deleted": true).
 * Errors: NOT_FOUND (absent, or in another collection), INVALID_ARGUMENT, LOCKED. */
MS_API bool ms_record_get(ms_store* store, const char* collection, size_t collection_size,
                          const char* id, size_t id_size, ms_buffer* out_json,
                          ms_error* error) MS_NOEXCEPT;

#define MS_QUERY_OPTIONS_VERSION 1
typedef struct ms_query_options {
    uint32_t version;
    const char* collection; /* required */
    size_t collection_size;
    /* Reference filter: records whose reference field `ref_field` equals the id `ref`. An
     * empty ref_field with a ref means the collection's learner field (fast: indexed). An
     * empty ref: no reference filter. */
    const char* ref_field;
    size_t ref_field_size;
    const char* ref;
    size_t ref_size;
    /* Inclusive range on the collection's date field, "YYYY-MM-DD"; empty: open end. */
    const char* from_date;
    size_t from_date_size;
    const char* to_date;
    size_t to_date_size;
    int32_t include_deleted; /* 1: deleted records too */
    uint32_t limit;          /* at most this many records; 0: no limit */
} ms_query_options;
#define MS_QUERY_OPTIONS_INIT \
    { MS_QUERY_OPTIONS_VERSION, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, 0 }

/* Matching records as a JSON array of records, ordered by the date field, then id.
 * Errors: INVALID_ARGUMENT (unknown collection, unknown or non-reference ref_field, bad ref id,
 * malformed date), LOCKED. */
MS_API bool ms_query(ms_store* store, const ms_query_options* options, ms_buffer* out_json,
                     ms_error* error) MS_NOEXCEPT;

/* ---- transactions ------------------------------------------------------------------------- */

/* Several writes committed atomically: all or none. Ops are checked for well-formed JSON when
 * added and validated against the schema together at commit. Nothing is written before
 * ms_txn_commit; ms_txn_free without a commit discards the ops. */
typedef struct ms_txn ms_txn;

MS_API bool ms_txn_begin(ms_store* store, ms_txn** out_txn, ms_error* error) MS_NOEXCEPT;
/* Adds a create; the new id is written into out_id now (it is final if the commit succeeds). */
MS_API bool ms_txn_create(ms_txn* txn, const char* collection, size_t collection_size,
                          const char* fields_json, size_t fields_json_size, char out_id[MS_ID_SIZE],
                          ms_error* error) MS_NOEXCEPT;
MS_API bool ms_txn_update(ms_txn* txn, const char* collection, size_t collection_size,
                          const char* id, size_t id_size, const char* fields_json,
                          size_t fields_json_size, ms_error* error) MS_NOEXCEPT;
MS_API bool ms_txn_delete(ms_txn* txn, const char* collection, size_t collection_size,
                          const char* id, size_t id_size, ms_error* error) MS_NOEXCEPT;
/* Validates every op and writes them as one durable transaction. On failure nothing is
 * written (the message names the failing op's collection.field). Either way the transaction
 * is spent: further ops or commits are INVALID_STATE; release it with ms_txn_free.
 * Errors: INVALID_ARGUMENT (no ops), VALIDATION, NOT_FOUND, LOCKED, CLOSED, IO. */
MS_API bool ms_txn_commit(ms_txn* txn, ms_error* error) MS_NOEXCEPT;
/* Releases the transaction (discarding uncommitted ops). NULL is fine. */
MS_API void ms_txn_free(ms_txn* txn) MS_NOEXCEPT;

/* ---- conflicts ---------------------------------------------------------------------------- */

/* Open conflicts (values that lost to a concurrent edit) as a JSON array of
 *   {"collection", "row", "field", "winner_value", "winner_stamp", "loser_value",
 *    "loser_stamp"}
 * ordered by row, field, loser stamp. row_id: only that record's (NULL/0: all). */
MS_API bool ms_conflicts(ms_store* store, const char* row_id, size_t row_id_size,
                         ms_buffer* out_json, ms_error* error) MS_NOEXCEPT;

typedef enum ms_resolution {
    MS_RESOLVE_KEEP_WINNER = 1, /* keep the current value */
    MS_RESOLVE_TAKE_LOSER = 2,  /* make the losing value current */
    MS_RESOLVE_CUSTOM = 3       /* write value_json (a JSON value, e.g. "\"merged text\"") */
} ms_resolution;

/* Resolves one conflict with a new local change that syncs like any other. value_json is used
 * only with MS_RESOLVE_CUSTOM (and required then).
 * Errors: NOT_FOUND (no such open conflict), INVALID_ARGUMENT (bad id/stamp/how/JSON),
 * VALIDATION (a custom value the field does not allow), LOCKED. */
MS_API bool ms_conflict_resolve(ms_store* store, const char* row_id, size_t row_id_size,
                                const char* field, size_t field_size, const char* loser_stamp,
                                size_t loser_stamp_size, int32_t how, const char* value_json,
                                size_t value_json_size, ms_error* error) MS_NOEXCEPT;

/* ---- change observers --------------------------------------------------------------------- */

typedef struct ms_change {
    const char* collection; /* NUL-terminated, valid during the callback only */
    size_t collection_size;
    char id[MS_ID_SIZE];       /* the record */
    char stamp[MS_STAMP_SIZE]; /* the write */
    int32_t remote;            /* 1: came in through sync; 0: written on this device */
    int32_t purged;            /* 1: removed from this device (the learner left its scope):
                                  ms_record_get now answers NOT_FOUND */
} ms_change;

/* Called after changes were committed, with the changes of one commit.
 * Thread: the thread whose call committed them (the app's thread for local writes, the thread
 * running the sync for remote ones), after the commit, with no store lock held: it may read the
 * store (and write, though that re-enters observers). Keep it short; never ms_close/ms_wipe. */
typedef void (*ms_change_callback)(void* context, const ms_change* changes, size_t count);

/* Registers an observer; *out_id identifies it for ms_unobserve (never 0). */
MS_API bool ms_observe(ms_store* store, ms_change_callback callback, void* context,
                       uint64_t* out_id, ms_error* error) MS_NOEXCEPT;
/* Removes an observer. When it returns, the callback will not be called again and is not
 * running on another thread, so `context` may be freed. Called from inside a callback of this
 * store it does not wait for other threads (two callbacks unobserving each other would wait
 * forever): the current call finishes normally, and a call already running on another thread
 * may still finish after it returns. Unknown ids: NOT_FOUND. */
MS_API bool ms_unobserve(ms_store* store, uint64_t id, ms_error* error) MS_NOEXCEPT;

/* ---- enrollment --------------------------------------------------------------------------- */

#define MS_ENROLL_OPTIONS_VERSION 1
typedef struct ms_enroll_options {
    uint32_t version;
    const char* server_url; /* required: "https://host[:port][/prefix]"; http:// is accepted
                               only for a loopback host (127.x, ::1, localhost: tests) */
    size_t server_url_size;
    const char* code; /* required: the one-time enrollment code the administrator issued */
    size_t code_size;
    const char* label; /* how administrators see this device, e.g. "Tablet 3"; up to 100 chars */
    size_t label_size;
    const char* ca_file; /* optional: a PEM file of extra trust anchors (a private CA) */
    size_t ca_file_size;
    uint32_t connect_timeout_ms; /* 0: 10 s */
    uint32_t request_timeout_ms; /* 0: 60 s */
} ms_enroll_options;
#define MS_ENROLL_OPTIONS_INIT \
    { MS_ENROLL_OPTIONS_VERSION, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, 0 }

typedef struct ms_enrollment {
    char device_id[MS_ID_SIZE]; /* this device, as the server knows it */
    char user_id[MS_ID_SIZE];   /* the person the code was issued to */
    char role[32];              /* "mentor" or "centre_staff" */
    int64_t server_time_ms;
} ms_enrollment;

/* Enrolls this store as a device: generates the device's Ed25519 signing keys, sends one
 * request (blocking, on the calling thread) and, on success, keeps the device id and keys
 * inside the encrypted store (the secret key never leaves it) with the server URL and CA file
 * for ms_sync_run. out_enrollment may be NULL.
 * Errors: INVALID_ARGUMENT (bad URL, http:// to a host other than "localhost" or a loopback
 * address such as 127.0.0.1 or [::1], empty code, bad label),
 * INVALID_STATE (already enrolled: a device enrolls once; wipe the store to start over),
 * LOCKED, NETWORK (transient), PROTOCOL, and SERVER-domain errors (403 "enrollment_invalid": the
 * code is wrong, used or expired; 429 "rate_limited", 408 and 5xx: transient, with the
 * server's Retry-After in retry_after_ms when it gave one). Nothing is stored on failure. */
MS_API bool ms_enroll(ms_store* store, const ms_enroll_options* options,
                      ms_enrollment* out_enrollment, ms_error* error) MS_NOEXCEPT;

/* ---- sync: shared types ------------------------------------------------------------------- */

/* Counters of one sync, passed to progress callbacks and returned at the end. */
typedef struct ms_sync_progress {
    uint64_t pushed;          /* local transactions the server answered for */
    uint64_t acked;           /* of those, stored by the server */
    uint64_t rejected;        /* of those, refused (see ms_sync_rejected) */
    uint64_t pulled;          /* remote transactions received */
    uint64_t applied;         /* of those, merged now */
    uint64_t quarantined;     /* of those, stamped too far ahead: kept aside (ms_quarantined) */
    uint64_t remote_invalid;  /* of those, invalid for this schema: dropped */
    uint64_t learners_purged; /* learners removed from this device (they left its scope) */
    uint64_t requests;        /* responses handled, retries included */
} ms_sync_progress;

/* Called after each handled response of a sync with the counters so far.
 * Thread: the thread driving the sync (the caller of ms_sync_run, or of
 * ms_sync_handle_response). It may read the store; it must not close it, and calls on its own
 * ms_sync from it are refused (INVALID_STATE). */
typedef void (*ms_progress_callback)(void* context, const ms_sync_progress* progress);

/* A cancellation flag for ms_sync_run. ms_cancel_request may be called from any thread (e.g.
 * the UI's "stop" button) while the sync runs on another. */
typedef struct ms_cancel ms_cancel;
MS_API bool ms_cancel_new(ms_cancel** out_cancel, ms_error* error) MS_NOEXCEPT;
/* Asks the sync to stop; it ends within about 100 ms, or when the request in flight ends (at
 * most the request timeout), with MS_ERR_CANCELLED. Everything stays consistent: the next sync
 * resumes. Idempotent; NULL is ignored. */
MS_API void ms_cancel_request(ms_cancel* cancel) MS_NOEXCEPT;
/* Clears the flag so the same ms_cancel can serve the next sync. */
MS_API void ms_cancel_reset(ms_cancel* cancel) MS_NOEXCEPT;
/* 1 if requested, 0 if not, -1 for NULL. */
MS_API int32_t ms_cancel_is_requested(const ms_cancel* cancel) MS_NOEXCEPT;
/* Releases it. Only after every ms_sync_run using it has returned. NULL is fine. */
MS_API void ms_cancel_free(ms_cancel* cancel) MS_NOEXCEPT;

#define MS_SYNC_OPTIONS_VERSION 1
typedef struct ms_sync_options {
    uint32_t version;
    ms_progress_callback on_progress; /* optional */
    void* progress_context;
    ms_cancel* cancel;           /* optional (ms_sync_run only) */
    uint32_t push_batch;         /* transactions per push, 1..1000; 0: 200 */
    uint32_t pull_limit;         /* transactions per pull page, 1..1000; 0: 500 */
    uint32_t max_attempts;       /* ms_sync_run: give up after this many consecutive transient
                                    failures; 0: 8 */
    uint32_t connect_timeout_ms; /* ms_sync_run; 0: 10 s */
    uint32_t request_timeout_ms; /* ms_sync_run; 0: 60 s */
} ms_sync_options;
#define MS_SYNC_OPTIONS_INIT \
    { MS_SYNC_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, 0, 0 }

/* ---- sync through the built-in HTTP(S) transport ------------------------------------------ */

/* Runs one whole sync on the calling thread (blocking: never the UI thread): pushes every
 * pending local change, then pulls until the server has nothing more, retrying transient
 * failures after the protocol's backoff (1 s doubling, up to max_attempts in a row). Every
 * attempt is signed afresh (timestamp, nonce): when a kept-alive connection turns out to be
 * closed, the request is signed again and sent at once on a new connection; a timeout is
 * reported (and retried after the backoff), not waited out a second time. Uses the
 * server URL and CA file given at enrollment, over TLS unless the URL is http://.
 * options may be NULL. out_progress (may be NULL) receives the final counters on success.
 * On success the last successful sync time and the clock skew are recorded (ms_status).
 * Other threads may read and write the store meanwhile; their writes are sent by the next sync
 * if this one already pushed.
 * Edits the server refuses as stamped in the future are re-dated and sent again within the
 * same sync (ms_clock_report says how many).
 * Errors: NOT_ENROLLED, LOCKED, CANCELLED, NETWORK (after max_attempts; transient),
 * PROTOCOL, SERVER domain (e.g. 403 "device_revoked": an administrator revoked this device,
 * wipe and enroll again; 401 "stale_timestamp": the device clock is more than 5 minutes off,
 * fix it - the message says "... N min ahead of the server's" or "behind"; see
 * ms_clock_report), IO. */
MS_API bool ms_sync_run(ms_store* store, const ms_sync_options* options,
                        ms_sync_progress* out_progress, ms_error* error) MS_NOEXCEPT;

/* ---- sync through the app's own HTTP stack (sans I/O) -------------------------------------- */
/*
 * The same protocol, but the app moves the bytes (NSURLSession, OkHttp, ...):
 *
 *     ms_sync* s; ms_http_request* req; int64_t wait_ms; ms_error err;
 *     if (!ms_sync_begin(store, NULL, &s, &err)) ...;
 *     for (;;) {
 *         if (!ms_sync_next_request(s, &req, &err)) break;       // local failure
 *         send req->method to req->url with req->headers and req->body ...
 *         ms_sync_step step = ok ? ms_sync_handle_response(s, status, headers, header_count,
 *                                                          body, n, &wait_ms, &err)
 *                                : ms_sync_transport_error(s, "timeout", 7, &wait_ms, &err);
 *         ms_http_request_free(req);
 *         if (step == MS_SYNC_STEP_NEXT) continue;
 *         if (step == MS_SYNC_STEP_RETRY) { wait wait_ms; continue; }  // re-signed next time
 *         break;                          // DONE, or FAILED with err written
 *     }
 *     ms_sync_finish(s);
 *
 * The session is safe to abandon at any point (the app was killed): the next sync resumes.
 * Never send a request's bytes twice: each carries a nonce the server may already have
 * recorded, and it refuses a repeat with 401 "replayed_nonce". Switch off your HTTP client's
 * own retries of POST requests (OkHttp: retryOnConnectionFailure(false)); to resend, report
 * the failure (ms_sync_transport_error) or simply call ms_sync_next_request again: every call
 * signs anew, and the new request replaces the one outstanding.
 */
typedef struct ms_sync ms_sync;

typedef struct ms_http_header {
    const char* name; /* NUL-terminated as well */
    size_t name_size;
    const char* value;
    size_t value_size;
} ms_http_header;

/* A request to send exactly as given. Owned by the caller: ms_http_request_free. */
typedef struct ms_http_request {
    const char* method; /* "POST"; NUL-terminated */
    size_t method_size;
    const char* url; /* the enrolled server URL joined with path; NUL-terminated */
    size_t url_size;
    const char* path; /* "/v1/sync/push", after any path prefix of the server URL */
    size_t path_size;
    const ms_http_header* headers; /* header_count entries (content type, device id,
                                      timestamp, nonce, signature) */
    size_t header_count;
    const uint8_t* body; /* body_size bytes (msgpack); not NUL-terminated */
    size_t body_size;
} ms_http_request;

typedef enum ms_sync_step {
    MS_SYNC_STEP_NEXT = 0,  /* call ms_sync_next_request and send it */
    MS_SYNC_STEP_DONE = 1,  /* the sync finished; the last sync time is recorded */
    MS_SYNC_STEP_RETRY = 2, /* a transient failure (error written): wait *out_retry_after_ms,
                               then call ms_sync_next_request again (same request, re-signed) */
    MS_SYNC_STEP_FAILED = 3 /* a permanent failure or misuse (error written): stop */
} ms_sync_step;

/* Starts a sync session of an enrolled store (push, then pull). options may be NULL; only
 * push_batch, pull_limit and on_progress are used (progress runs on the thread calling
 * ms_sync_handle_response). Several sessions of one store should not run at once (each pushes
 * the same pending changes; harmless but wasteful).
 * Errors: NOT_ENROLLED, LOCKED, INVALID_ARGUMENT. */
MS_API bool ms_sync_begin(ms_store* store, const ms_sync_options* options, ms_sync** out_sync,
                          ms_error* error) MS_NOEXCEPT;
/* The request to send now (after begin, after NEXT, and to retry after RETRY), signed with a
 * fresh timestamp and nonce on every call; a retried push keeps its body and batch id.
 * Errors: INVALID_STATE (the sync is done or failed), LOCKED, CLOSED, IO. */
MS_API bool ms_sync_next_request(ms_sync* sync, ms_http_request** out_request,
                                 ms_error* error) MS_NOEXCEPT;
/* Overwrites and frees a request. NULL is fine. */
MS_API void ms_http_request_free(ms_http_request* request) MS_NOEXCEPT;
/* Hands back the answer to the last request: the HTTP status, the response headers and the
 * body bytes. Of the headers only `Retry-After` (any case; whole seconds) is read: pass it on,
 * so that a 429 or 503 waits at least as long as the server asked (up to an hour). headers may
 * be NULL with count 0; the wait is then the library's own backoff.
 * out_retry_after_ms (may be NULL) is written for RETRY. */
MS_API ms_sync_step ms_sync_handle_response(ms_sync* sync, int32_t http_status,
                                            const ms_http_header* headers, size_t header_count,
                                            const void* body, size_t body_size,
                                            int64_t* out_retry_after_ms,
                                            ms_error* error) MS_NOEXCEPT;
/* The request could not be sent or its answer not read completely (no connection, timeout,
 * TLS failure). `what` describes it for the message. Answers RETRY (transient). */
MS_API ms_sync_step ms_sync_transport_error(ms_sync* sync, const char* what, size_t what_size,
                                            int64_t* out_retry_after_ms,
                                            ms_error* error) MS_NOEXCEPT;
/* The counters of this session so far. */
MS_API bool ms_sync_get_progress(const ms_sync* sync, ms_sync_progress* out_progress,
                                 ms_error* error) MS_NOEXCEPT;
/* Ends and releases the session, done or not. NULL is fine. */
MS_API void ms_sync_finish(ms_sync* sync) MS_NOEXCEPT;

/* ---- status, quarantine, rejected pushes -------------------------------------------------- */

/* Warn the user when |clock_skew_ms| reaches this: at 5 minutes the server refuses requests
 * and other devices quarantine this device's edits. Say in words which way the clock is off
 * ("this tablet's clock is 4 min ahead of the server's"): ms_clock_report gives the direction
 * and the amount apart, so no one has to read a sign. */
#define MS_CLOCK_SKEW_WARNING_MS 120000

typedef struct ms_store_status {
    int32_t locked;             /* 1: locked; the fields below except node_id are then zero */
    int32_t enrolled;           /* 1: ms_enroll succeeded */
    char node_id[MS_ID_SIZE];   /* this store's replica id (in every stamp it writes) */
    char device_id[MS_ID_SIZE]; /* the enrolled device id, or "" */
    uint32_t schema_version;
    uint32_t reserved;
    uint64_t pending_changes;   /* local transactions not yet acknowledged by the server */
    uint64_t open_conflicts;    /* see ms_conflicts */
    uint64_t quarantined;       /* remote transactions kept aside: ms_quarantined */
    uint64_t rejected;          /* local transactions the server refused: ms_sync_rejected */
    uint64_t records;           /* records on this device, deleted ones included */
    int64_t last_sync_ms;       /* when the last sync completed; 0: never */
    int32_t clock_skew_known;   /* 1: clock_skew_ms is from a server answer */
    int32_t clock_skew_warning; /* 1: |clock_skew_ms| >= MS_CLOCK_SKEW_WARNING_MS */
    int64_t clock_skew_ms;      /* the server's clock minus ours, at the last sync: NEGATIVE
                                   when this device's clock is AHEAD of the server's, positive
                                   when it is behind (ms_clock_report says it without a sign) */
} ms_store_status;

/* Errors: INVALID_ARGUMENT, CLOSED, IO. A locked store is not an error: locked = 1. */
MS_API bool ms_status(ms_store* store, ms_store_status* out_status, ms_error* error) MS_NOEXCEPT;

/* Quarantined remote transactions (stamped more than 5 minutes ahead of this device's clock:
 * one of the two clocks is wrong) as a JSON array of
 *   {"stamp", "received_ms", "ahead_ms", "changes"}. */
MS_API bool ms_quarantined(ms_store* store, ms_buffer* out_json, ms_error* error) MS_NOEXCEPT;
/* Merges a quarantined transaction now (after the clock question was settled). */
MS_API bool ms_quarantine_release(ms_store* store, const char* stamp, size_t stamp_size,
                                  ms_error* error) MS_NOEXCEPT;
/* Drops a quarantined transaction without merging it. */
MS_API bool ms_quarantine_discard(ms_store* store, const char* stamp, size_t stamp_size,
                                  ms_error* error) MS_NOEXCEPT;

/* Local transactions the server refused, oldest first, as a JSON array of
 *   {"stamp", "code", "message"}   (code: "out_of_scope", "invalid", "future_stamp", ...).
 * They stay in the store and are not sent again until ms_sync_retry_rejected, except
 * "future_stamp" ones: a sync re-dates an edit the server refuses as stamped in the future
 * and sends it again at once (see ms_clock_report); one listed with that code could not be
 * re-dated far enough yet and is sent again once per sync until the server accepts it.
 * Errors: NOT_ENROLLED, LOCKED. */
MS_API bool ms_sync_rejected(ms_store* store, ms_buffer* out_json, ms_error* error) MS_NOEXCEPT;
/* Forgets the rejections so the next sync sends those transactions again (e.g. after an
 * administrator fixed an assignment). */
MS_API bool ms_sync_retry_rejected(ms_store* store, ms_error* error) MS_NOEXCEPT;

/* ---- clock -------------------------------------------------------------------------------- */
/*
 * A device whose clock runs ahead stamps every edit ahead too, and keeps doing so after the
 * clock is corrected until the corrected clock passes its highest stamp. The server refuses a
 * stamp more than 5 minutes ahead of its own clock ("future_stamp"). A sync then re-dates such
 * edits - each gets the earliest stamp consistent with what the device had seen when it was
 * written, so that it loses to edits other devices made later - and sends them again at once;
 * the store then shows what the server and every other device show. The content of the edits
 * is kept. Tell the user what happened, e.g. "3 edits were re-dated because this tablet's
 * clock was 10 years ahead of the server's", then call ms_clock_report_clear. While the clock
 * is more than 5 minutes off, every sync fails with 401 "stale_timestamp" and edits wait on
 * the device: ask the user to correct the date and time settings.
 */
#define MS_CLOCK_REPORT_VERSION 1
typedef struct ms_clock_report {
    uint32_t version;  /* in: MS_CLOCK_REPORT_VERSION (the fields of that version are written) */
    int32_t known;     /* 1: the offset below is from a server answer (the last sync) */
    int32_t ahead;     /* known: 1 this device's clock is ahead of the server's, 0 behind or
                          equal */
    int32_t warning;   /* known: 1 when offset_ms >= MS_CLOCK_SKEW_WARNING_MS */
    int64_t offset_ms; /* known: how far ahead or behind, in ms (never negative) */
    uint64_t redated;  /* this device's edits re-dated since ms_clock_report_clear */
    int64_t redated_ahead_ms; /* how far ahead of the server's clock their stamps were, at most */
    int64_t redated_at_ms;    /* this device's clock when the last was re-dated; 0: never */
    uint64_t waiting; /* edits the server still refuses as stamped in the future: nothing this
                         device holds allows an earlier stamp yet; each sync sends them once
                         more until the server's clock has passed them */
} ms_clock_report;
#define MS_CLOCK_REPORT_INIT \
    { MS_CLOCK_REPORT_VERSION, 0, 0, 0, 0, 0, 0, 0, 0 }

/* Fills *out_report (whose version the caller set). A store that is not enrolled reports
 * nothing re-dated and, before its first sync, known = 0.
 * Errors: INVALID_ARGUMENT (NULL, unknown version), LOCKED, CLOSED, CORRUPT. */
MS_API bool ms_clock_report_get(ms_store* store, ms_clock_report* out_report,
                                ms_error* error) MS_NOEXCEPT;
/* Resets the re-dated figures (redated, redated_ahead_ms, redated_at_ms) once the user has
 * been told. Errors: NOT_ENROLLED, LOCKED, CLOSED. */
MS_API bool ms_clock_report_clear(ms_store* store, ms_error* error) MS_NOEXCEPT;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MENTORSYNC_MENTORSYNC_H */
