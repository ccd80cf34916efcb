#!/usr/bin/env python3
"""The client SDK's C ABI from Python (ctypes, standard library only), against the real server.

    sdk_ctypes_test.py --library build/client-sdk/libmentorsync.so \
                       --server build/server/mentorsync-server

Starts mentorsync-server on 127.0.0.1 with an ephemeral port and a fresh data directory,
bootstraps a programme with the admin command line, then drives two tablet stores through
libmentorsync: enroll, log records, sync, read them back on the other tablet, edit and sync
back, and checks that misuse (NULL handles, bad JSON, schema violations, a used enrollment
code, a wrong passphrase, a locked store) comes back as the documented errors. Run by ctest
(label "sdk"); exits 0 when every check passed, 1 otherwise. All data is synthetic.
"""
import argparse
import ctypes as C
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

# ---- the ABI (client-sdk/include/mentorsync/mentorsync.h) ----------------------------------

ERR_INVALID_ARGUMENT, ERR_VALIDATION, ERR_NOT_FOUND, ERR_WRONG_KEY = 1, 2, 3, 4
ERR_LOCKED, ERR_NOT_ENROLLED, ERR_INVALID_STATE = 8, 15, 16
DOMAIN_MENTORSYNC, DOMAIN_SERVER = 1, 2
KEY_PASSPHRASE = 1
ID_SIZE = 37


class Error(C.Structure):
    _fields_ = [("domain", C.c_int32), ("code", C.c_int32), ("transient", C.c_int32),
                ("reserved", C.c_int32), ("retry_after_ms", C.c_int64),
                ("server_code", C.c_char * 64), ("message", C.c_char * 512)]

    def __str__(self):
        return (f"domain {self.domain} code {self.code} ({self.server_code.decode()}): "
                f"{self.message.decode()}")


class Buffer(C.Structure):
    _fields_ = [("data", C.c_void_p), ("size", C.c_size_t)]


class Key(C.Structure):
    _fields_ = [("kind", C.c_int32), ("bytes", C.c_char_p), ("size", C.c_size_t)]


class OpenOptions(C.Structure):
    _fields_ = [("version", C.c_uint32), ("path", C.c_char_p), ("path_size", C.c_size_t),
                ("must_exist", C.c_int32), ("durability", C.c_int32),
                ("kdf_ops_limit", C.c_uint64), ("kdf_mem_limit", C.c_uint64)]


class EnrollOptions(C.Structure):
    _fields_ = [("version", C.c_uint32), ("server_url", C.c_char_p),
                ("server_url_size", C.c_size_t), ("code", C.c_char_p), ("code_size", C.c_size_t),
                ("label", C.c_char_p), ("label_size", C.c_size_t), ("ca_file", C.c_char_p),
                ("ca_file_size", C.c_size_t), ("connect_timeout_ms", C.c_uint32),
                ("request_timeout_ms", C.c_uint32)]


class Enrollment(C.Structure):
    _fields_ = [("device_id", C.c_char * ID_SIZE), ("user_id", C.c_char * ID_SIZE),
                ("role", C.c_char * 32), ("server_time_ms", C.c_int64)]


class SyncProgress(C.Structure):
    _fields_ = [(n, C.c_uint64) for n in ("pushed", "acked", "rejected", "pulled", "applied",
                                          "quarantined", "remote_invalid", "learners_purged",
                                          "requests")]


PROGRESS_CALLBACK = C.CFUNCTYPE(None, C.c_void_p, C.POINTER(SyncProgress))


class SyncOptions(C.Structure):
    _fields_ = [("version", C.c_uint32), ("on_progress", PROGRESS_CALLBACK),
                ("progress_context", C.c_void_p), ("cancel", C.c_void_p),
                ("push_batch", C.c_uint32), ("pull_limit", C.c_uint32),
                ("max_attempts", C.c_uint32), ("connect_timeout_ms", C.c_uint32),
                ("request_timeout_ms", C.c_uint32)]


class StoreStatus(C.Structure):
    _fields_ = [("locked", C.c_int32), ("enrolled", C.c_int32), ("node_id", C.c_char * ID_SIZE),
                ("device_id", C.c_char * ID_SIZE), ("schema_version", C.c_uint32),
                ("reserved", C.c_uint32), ("pending_changes", C.c_uint64),
                ("open_conflicts", C.c_uint64), ("quarantined", C.c_uint64),
                ("rejected", C.c_uint64), ("records", C.c_uint64), ("last_sync_ms", C.c_int64),
                ("clock_skew_known", C.c_int32), ("clock_skew_warning", C.c_int32),
                ("clock_skew_ms", C.c_int64)]


class QueryOptions(C.Structure):
    _fields_ = [("version", C.c_uint32), ("collection", C.c_char_p),
                ("collection_size", C.c_size_t), ("ref_field", C.c_char_p),
                ("ref_field_size", C.c_size_t), ("ref", C.c_char_p), ("ref_size", C.c_size_t),
                ("from_date", C.c_char_p), ("from_date_size", C.c_size_t),
                ("to_date", C.c_char_p), ("to_date_size", C.c_size_t),
                ("include_deleted", C.c_int32), ("limit", C.c_uint32)]


def load(path):
    lib = C.CDLL(path)
    E = C.POINTER(Error)
    S = C.c_void_p  # ms_store*
    sig = {
        "ms_abi_version": (C.c_int32, []),
        "ms_version": (C.c_char_p, []),
        "ms_error_code_name": (C.c_char_p, [C.c_int32]),
        "ms_buffer_free": (None, [C.POINTER(Buffer)]),
        "ms_open": (C.c_bool, [C.POINTER(OpenOptions), C.POINTER(Key), C.POINTER(S), E]),
        "ms_close": (C.c_bool, [S, E]),
        "ms_lock": (C.c_bool, [S, E]),
        "ms_unlock": (C.c_bool, [S, C.POINTER(Key), E]),
        "ms_is_locked": (C.c_int32, [S]),
        "ms_wipe": (C.c_bool, [C.c_char_p, C.c_size_t, E]),
        "ms_record_create": (C.c_bool, [S, C.c_char_p, C.c_size_t, C.c_char_p, C.c_size_t,
                                        C.c_char_p, E]),
        "ms_record_update": (C.c_bool, [S, C.c_char_p, C.c_size_t, C.c_char_p, C.c_size_t,
                                        C.c_char_p, C.c_size_t, E]),
        "ms_record_get": (C.c_bool, [S, C.c_char_p, C.c_size_t, C.c_char_p, C.c_size_t,
                                     C.POINTER(Buffer), E]),
        "ms_query": (C.c_bool, [S, C.POINTER(QueryOptions), C.POINTER(Buffer), E]),
        "ms_enroll": (C.c_bool, [S, C.POINTER(EnrollOptions), C.POINTER(Enrollment), E]),
        "ms_sync_run": (C.c_bool, [S, C.POINTER(SyncOptions), C.POINTER(SyncProgress), E]),
        "ms_status": (C.c_bool, [S, C.POINTER(StoreStatus), E]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


# ---- checks --------------------------------------------------------------------------------

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def expect_error(ok, err, code, what, domain=DOMAIN_MENTORSYNC):
    good = (not ok) and err.domain == domain and err.code == code and err.message
    check(good, f"{what} -> {code}" + ("" if good else f" (got ok={ok}, {err})"))


class SdkError(Exception):
    pass


def must(ok, err, what):
    if not ok:
        raise SdkError(f"{what}: {err}")


# ---- a store through the ABI ---------------------------------------------------------------

class Store:
    def __init__(self, lib, path, passphrase, create=True):
        self.lib, self.path = lib, path
        self.handle = C.c_void_p()
        err = Error()
        ok = lib.ms_open(C.byref(open_options(path, create)), C.byref(key(passphrase)),
                         C.byref(self.handle), C.byref(err))
        must(ok, err, f"open {path}")

    def close(self):
        err = Error()
        must(self.lib.ms_close(self.handle, C.byref(err)), err, "close")
        self.handle = C.c_void_p()

    def create(self, collection, fields):
        out, err = C.create_string_buffer(ID_SIZE), Error()
        c, j = collection.encode(), json.dumps(fields).encode()
        ok = self.lib.ms_record_create(self.handle, c, len(c), j, len(j), out, C.byref(err))
        return ok, err, out.value.decode()

    def update(self, collection, rid, fields):
        err = Error()
        c, i, j = collection.encode(), rid.encode(), json.dumps(fields).encode()
        ok = self.lib.ms_record_update(self.handle, c, len(c), i, len(i), j, len(j),
                                       C.byref(err))
        return ok, err

    def get(self, collection, rid):
        buf, err = Buffer(), Error()
        c, i = collection.encode(), rid.encode()
        ok = self.lib.ms_record_get(self.handle, c, len(c), i, len(i), C.byref(buf),
                                    C.byref(err))
        return ok, err, take(self.lib, buf) if ok else None

    def query(self, collection, learner=""):
        q = QueryOptions(version=1)
        q.collection, q.collection_size = collection.encode(), len(collection)
        q.ref, q.ref_size = learner.encode(), len(learner)
        buf, err = Buffer(), Error()
        must(self.lib.ms_query(self.handle, C.byref(q), C.byref(buf), C.byref(err)), err,
             f"query {collection}")
        return take(self.lib, buf)

    def enroll(self, url, code, label):
        o = EnrollOptions(version=1)
        o.server_url, o.server_url_size = url.encode(), len(url)
        o.code, o.code_size = code.encode(), len(code)
        o.label, o.label_size = label.encode(), len(label)
        out, err = Enrollment(), Error()
        ok = self.lib.ms_enroll(self.handle, C.byref(o), C.byref(out), C.byref(err))
        return ok, err, out

    def sync(self, on_progress=None):
        o = SyncOptions(version=1)
        if on_progress:
            o.on_progress = PROGRESS_CALLBACK(lambda ctx, p: on_progress(p.contents))
        progress, err = SyncProgress(), Error()
        ok = self.lib.ms_sync_run(self.handle, C.byref(o), C.byref(progress), C.byref(err))
        return ok, err, progress

    def status(self):
        s, err = StoreStatus(), Error()
        must(self.lib.ms_status(self.handle, C.byref(s), C.byref(err)), err, "status")
        return s


def open_options(path, create):
    o = OpenOptions(version=1)
    o.path, o.path_size = path.encode(), len(path.encode())
    o.must_exist = 0 if create else 1
    o.kdf_ops_limit, o.kdf_mem_limit = 1, 8192  # libsodium's minimum: tests only
    return o


def key(passphrase):
    b = passphrase.encode()
    return Key(KEY_PASSPHRASE, b, len(b))


def take(lib, buf):
    text = C.string_at(buf.data, buf.size).decode()
    lib.ms_buffer_free(C.byref(buf))
    if not take.checked:
        take.checked = check(buf.data is None and buf.size == 0, "ms_buffer_free clears the buffer")
    return json.loads(text)


take.checked = False


# ---- the server ----------------------------------------------------------------------------

class Server:
    def __init__(self, binary, data_dir):
        self.binary, self.data = binary, data_dir
        self.log_path = os.path.join(os.path.dirname(data_dir), "server.log")
        self.proc = None

    def admin(self, *args):
        r = subprocess.run([self.binary, "admin", *args, "--data-dir", self.data],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise SdkError(f"admin {args[0]} failed: {r.stderr.strip()}")
        return json.loads(r.stdout.splitlines()[0]) if r.stdout.strip() else None

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([self.binary, "serve", "--data-dir", self.data, "--listen",
                                      "127.0.0.1:0", "--threads", "2"],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                for line in f:
                    if '"event":"listening"' in line:
                        return f"http://127.0.0.1:{json.loads(line)['port']}"
            if self.proc.poll() is not None:
                raise SdkError(f"the server exited with {self.proc.returncode}")
            time.sleep(0.05)
        raise SdkError("the server did not log 'listening' within 30 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return -1
        return self.proc.returncode if self.proc else None


# ---- the test ------------------------------------------------------------------------------

def run(lib, server, tmp):
    check(lib.ms_abi_version() == 1, "the library implements ABI version 1")
    check(re.fullmatch(rb"\d+\.\d+\.\d+.*", lib.ms_version()) is not None, "ms_version is x.y.z")

    server.admin("init")
    muni = server.admin("add-municipality", "--name", "Python novads")["municipality_id"]
    centre = server.admin("add-institution", "--name", "Python centrs", "--municipality", muni,
                          "--kind", "youth_centre")["institution_id"]
    mentor_a = server.admin("add-user", "--role", "mentor", "--name", "Mentore Py",
                            "--institution", centre)["user_id"]
    mentor_b = server.admin("add-user", "--role", "mentor", "--name", "Mentors Thon",
                            "--institution", centre)["user_id"]
    learner = server.admin("add-learner", "--name", "Skolniece Ctypes", "--birth-year", "2011",
                           "--school", centre, "--municipality", muni, "--grade", "8",
                           "--education", "general")["learner_id"]
    server.admin("assign", "--learner", learner, "--mentor", mentor_a)
    server.admin("assign", "--learner", learner, "--mentor", mentor_b, "--shared")
    code_a = server.admin("enroll-code", "--user", mentor_a)["code"]
    code_b = server.admin("enroll-code", "--user", mentor_b)["code"]
    url = server.start()

    # Misuse before any store exists.
    err = Error()
    expect_error(lib.ms_open(None, None, None, C.byref(err)), err, ERR_INVALID_ARGUMENT,
                 "ms_open with NULL options")
    bad = open_options(os.path.join(tmp, "x.db"), True)
    bad.version = 99
    out = C.c_void_p()
    expect_error(lib.ms_open(C.byref(bad), C.byref(key("p")), C.byref(out), C.byref(err)), err,
                 ERR_INVALID_ARGUMENT, "ms_open with an unknown options version")
    missing = open_options(os.path.join(tmp, "missing.db"), False)
    expect_error(lib.ms_open(C.byref(missing), C.byref(key("p")), C.byref(out), C.byref(err)),
                 err, ERR_NOT_FOUND, "ms_open of a missing store with must_exist")
    check(lib.ms_close(None, None), "ms_close(NULL) is fine")
    expect_error(lib.ms_status(None, C.byref(StoreStatus()), C.byref(err)), err,
                 ERR_INVALID_ARGUMENT, "ms_status with a NULL store")

    a = Store(lib, os.path.join(tmp, "a.db"), "passphrase A")
    b = Store(lib, os.path.join(tmp, "b.db"), "passphrase B")

    ok, err, _ = a.sync()
    expect_error(ok, err, ERR_NOT_ENROLLED, "sync before enrolling")
    ok, err, en = a.enroll(url, code_a, "python tablet A")
    check(ok, f"tablet A enrolls ({err if not ok else en.device_id.decode()})")
    check(en.user_id.decode() == mentor_a and en.role == b"mentor",
          "the enrollment names mentor A and the role")
    ok, err, _ = a.enroll(url, code_b, "again")
    expect_error(ok, err, ERR_INVALID_STATE, "enrolling an enrolled store again")
    ok, err, _ = b.enroll(url, code_a, "python tablet B")
    expect_error(ok, err, 403, "enrolling with a used code", domain=DOMAIN_SERVER)
    check(err.server_code == b"enrollment_invalid", "the used code is 'enrollment_invalid'")
    check(code_a.encode() not in err.message, "the error does not repeat the code")
    ok, err, _ = b.enroll(url, code_b, "python tablet B")
    check(ok, f"tablet B enrolls with its own code ({err if not ok else 'ok'})")

    ok, err, _ = a.sync()
    check(ok, f"tablet A's first sync ({err if not ok else 'ok'})")
    learners = a.query("learners")
    check([r["id"] for r in learners] == [learner], "tablet A received its one learner")
    check(learners and learners[0]["fields"]["name"] == "Skolniece Ctypes",
          "the learner's name reads back")

    contact = {"learner_id": learner, "mentor_id": mentor_a, "starts_at": "2026-11-23T10:00",
               "duration_min": 45, "place": "school", "form": "individual",
               "topics": ["learning", "family"], "notes": "Synthetic note, ctypes test."}
    absence = {"learner_id": learner, "date": "2026-11-23", "lessons": 2,
               "status": "unjustified", "source": "mentor"}
    ok, err, contact_id = a.create("contacts", contact)
    check(ok and len(contact_id) == 36, f"create a contact ({err if not ok else contact_id})")
    ok, err, absence_id = a.create("absences", absence)
    check(ok, f"create an absence ({err if not ok else absence_id})")

    # Misuse of the record functions.
    ok, err, _ = a.create("contacts", {**contact, "duration_min": 9999,
                                       "notes": "SECRET-SYNTHETIC-TEXT"})
    expect_error(ok, err, ERR_VALIDATION, "a duration out of range")
    check(b"contacts.duration_min" in err.message, "the validation error names the field")
    check(b"SECRET" not in err.message, "the error message carries no record values")
    ok, err, _ = a.create("contacts", {k: v for k, v in contact.items() if k != "place"})
    expect_error(ok, err, ERR_VALIDATION, "a missing required field")
    ok, err, _ = a.create("meetings", contact)
    expect_error(ok, err, ERR_INVALID_ARGUMENT, "an unknown collection")
    e2, out_id = Error(), C.create_string_buffer(ID_SIZE)
    ok = lib.ms_record_create(a.handle, b"absences", 8, b"{not json", 9, out_id, C.byref(e2))
    expect_error(ok, e2, ERR_INVALID_ARGUMENT, "malformed JSON")
    ok = lib.ms_record_create(None, b"absences", 8, b"{}", 2, out_id, C.byref(e2))
    expect_error(ok, e2, ERR_INVALID_ARGUMENT, "a NULL store")
    ok = lib.ms_record_create(a.handle, None, 5, b"{}", 2, out_id, C.byref(e2))
    expect_error(ok, e2, ERR_INVALID_ARGUMENT, "a NULL string with a non-zero length")
    ok, err, _ = a.get("contacts", "00000000-0000-4000-8000-000000000000")
    expect_error(ok, err, ERR_NOT_FOUND, "getting a record that does not exist")
    ok, err, _ = a.get("absences", contact_id)
    expect_error(ok, err, ERR_NOT_FOUND, "getting a record from the wrong collection")
    ok, err = a.update("contacts", "not-a-uuid", {"duration_min": 5})
    expect_error(ok, err, ERR_INVALID_ARGUMENT, "updating with a malformed id")

    check(a.status().pending_changes == 2, "two changes wait to be sent")
    seen = []
    ok, err, progress = a.sync(on_progress=lambda p: seen.append(p.pushed))
    check(ok, f"tablet A syncs its records ({err if not ok else 'ok'})")
    check(progress.pushed == 2 and progress.acked == 2 and progress.rejected == 0,
          f"the server stored both ({progress.pushed} pushed, {progress.acked} acked)")
    check(len(seen) >= 1 and seen[-1] == 2, "the progress callback ran with the counters")
    st = a.status()
    check(st.pending_changes == 0 and st.last_sync_ms > 0 and st.enrolled == 1,
          "status: nothing pending, a last sync time, enrolled")
    check(st.clock_skew_known == 1 and st.clock_skew_warning == 0, "status: clocks agree")

    # Tablet B (co-mentor) reads them back.
    ok, err, _ = b.sync()
    check(ok, f"tablet B syncs ({err if not ok else 'ok'})")
    ok, err, got = b.get("contacts", contact_id)
    check(ok and got["fields"] == contact, "tablet B reads the contact back, field for field")
    got_absences = b.query("absences", learner)
    check([r["id"] for r in got_absences] == [absence_id], "tablet B's query finds the absence")
    check(got_absences and got_absences[0]["fields"] == absence, "the absence reads back")

    ok, err = b.update("contacts", contact_id, {"next_steps": "Call the class teacher",
                                                "notes": None})
    check(ok, f"tablet B edits the contact ({err if not ok else 'ok'})")
    check(b.sync()[0] and a.sync()[0], "B sends the edit, A receives it")
    ok, err, got = a.get("contacts", contact_id)
    check(ok and got["fields"].get("next_steps") == "Call the class teacher"
          and "notes" not in got["fields"], "tablet A sees B's edit (and the cleared notes)")

    # Keys: lock, wrong passphrase, reopen.
    check(lib.ms_lock(a.handle, None) and lib.ms_is_locked(a.handle) == 1, "lock")
    ok, err, _ = a.get("contacts", contact_id)
    expect_error(ok, err, ERR_LOCKED, "reading a locked store")
    err = Error()
    expect_error(lib.ms_unlock(a.handle, C.byref(key("wrong")), C.byref(err)), err,
                 ERR_WRONG_KEY, "unlocking with a wrong passphrase")
    check(lib.ms_unlock(a.handle, C.byref(key("passphrase A")), None), "unlock")
    # Unlocking an unlocked store still checks the key (an app re-checking its user), and a
    # failed check locks it.
    err = Error()
    expect_error(lib.ms_unlock(a.handle, C.byref(key("wrong")), C.byref(err)), err,
                 ERR_WRONG_KEY, "re-checking an unlocked store with a wrong passphrase")
    check(lib.ms_is_locked(a.handle) == 1, "a failed re-check locks the store")
    check(lib.ms_unlock(a.handle, C.byref(key("passphrase A")), None), "unlock after it")
    a.close()
    # ms_wipe erases stores only: anything else is refused and left as it was.
    notes = os.path.join(tmp, "notes.txt")
    with open(notes, "w") as f:
        f.write("Call the class teacher.\n")
    err = Error()
    expect_error(lib.ms_wipe(notes.encode(), len(notes.encode()), C.byref(err)), err,
                 ERR_INVALID_ARGUMENT, "wiping a text file")
    intact = os.path.exists(notes)
    if intact:
        with open(notes) as f:
            intact = f.read() == "Call the class teacher.\n"
    check(intact, "the refused file is intact")
    err, h = Error(), C.c_void_p()
    expect_error(lib.ms_open(C.byref(open_options(a.path, False)), C.byref(key("nope")),
                             C.byref(h), C.byref(err)), err, ERR_WRONG_KEY,
                 "reopening with a wrong passphrase")
    a = Store(lib, a.path, "passphrase A", create=False)
    check(a.status().records == b.status().records, "reopened: the same records as tablet B")
    a.close()
    b.close()
    check(server.stop() == 0, "the server stops cleanly on SIGTERM")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--library", required=True, help="path of libmentorsync.so")
    p.add_argument("--server", required=True, help="path of the mentorsync-server binary")
    args = p.parse_args()
    lib = load(args.library)
    with tempfile.TemporaryDirectory(prefix="ms-ctypes-") as tmp:
        server = Server(args.server, os.path.join(tmp, "server"))
        try:
            run(lib, server, tmp)
        except SdkError as e:
            check(False, str(e))
        finally:
            server.stop()
    if failures:
        print(f"\n{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
