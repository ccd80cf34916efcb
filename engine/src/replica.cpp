// Replica: opening (file, keys, lockout, clock start-up), locking and re-keying, and
// recognising a replica file. The other parts are in replica_*.cpp, the shared state in
// replica_impl.h; see mentorsync/replica.h for the contract and docs/storage-format.md
// for the file layout.
#include "replica_impl.h"

namespace mentorsync {

// ---- UnlockKey ------------------------------------------------------------------------------

UnlockKey::UnlockKey(Kind kind, std::span<const std::uint8_t> bytes)
    : kind_(kind), secret_(bytes.begin(), bytes.end()) {}
UnlockKey UnlockKey::passphrase(std::string_view text) {
    return UnlockKey(Kind::passphrase,
                     {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}
UnlockKey UnlockKey::raw(std::span<const std::uint8_t> bytes) {
    return UnlockKey(Kind::raw, bytes);
}
UnlockKey::UnlockKey(UnlockKey&& o) noexcept : kind_(o.kind_), secret_(std::move(o.secret_)) {}
UnlockKey& UnlockKey::operator=(UnlockKey&& o) noexcept {
    if (this != &o) {
        if (!secret_.empty()) sodium_memzero(secret_.data(), secret_.size());
        kind_ = o.kind_;
        secret_ = std::move(o.secret_);
    }
    return *this;
}
UnlockKey::~UnlockKey() {
    if (!secret_.empty()) sodium_memzero(secret_.data(), secret_.size());
}
std::span<const std::uint8_t> UnlockKey::secret() const noexcept {
    return secret_;
}

KdfParams KdfParams::insecure_fast_for_tests() {
    return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

// ---- WriteBatch -----------------------------------------------------------------------------

Uuid WriteBatch::create(std::string collection, Fields fields) {
    Uuid id = Uuid::random();
    ops_.push_back({Op::Kind::create, std::move(collection), id, std::move(fields), true});
    return id;
}
void WriteBatch::create_with_id(std::string collection, Uuid id, Fields fields) {
    ops_.push_back({Op::Kind::create, std::move(collection), id, std::move(fields)});
}
void WriteBatch::update(std::string collection, Uuid id, Fields changes) {
    ops_.push_back({Op::Kind::update, std::move(collection), id, std::move(changes)});
}
void WriteBatch::remove(std::string collection, Uuid id) {
    ops_.push_back({Op::Kind::remove, std::move(collection), id, {}});
}
void WriteBatch::restore(std::string collection, Uuid id) {
    ops_.push_back({Op::Kind::restore, std::move(collection), id, {}});
}

// ---- Replica --------------------------------------------------------------------------------

Replica::Replica(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Replica::~Replica() = default;

Result<std::unique_ptr<Replica>> Replica::open(const OpenOptions& options, const UnlockKey& key) {
    try {
        MS_RETURN_IF_ERROR(crypto::init());
        if (options.path.empty()) return Status::invalid_argument("OpenOptions.path is empty");
        auto impl = std::make_unique<Impl>();
        if (!impl->data_key.allocated()) return Status::internal("out of secure memory");
        impl->opts = options;
        impl->schema = options.schema ? options.schema : &Schema::programme();
        impl->clock = options.clock ? options.clock : SystemClock::shared();
        MS_RETURN_IF_ERROR(impl->open_file());
        auto fresh = impl->is_new();
        if (!fresh.ok()) return fresh.status();
        if (*fresh) {
            MS_RETURN_IF_ERROR(impl->initialise(key));
        } else {
            MS_RETURN_IF_ERROR(impl->load_meta());
            MS_RETURN_IF_ERROR(impl->unlock(key));
        }
        MS_RETURN_IF_ERROR(impl->start_clock());
        return std::unique_ptr<Replica>(new Replica(std::move(impl)));
    } catch (const std::bad_alloc&) {
        return Status::internal("out of memory while opening the replica");
    }
}

void Replica::lock() {
    std::lock_guard g(impl_->mu);
    impl_->data_key.clear();
}

Status Replica::unlock(const UnlockKey& key) {
    std::lock_guard g(impl_->mu);
    // An unlocked replica checks the key too: apps re-check their user with unlock(), and a
    // guess must cost an attempt whatever the state. The data key goes first, so that every
    // failure (wrong key, lockout, storage) leaves the replica locked, as change_key() does.
    impl_->data_key.clear();
    return impl_->unlock(key);
}

bool Replica::is_locked() const {
    std::lock_guard g(impl_->mu);
    return !impl_->data_key.present();
}

Status Replica::change_key(const UnlockKey& current, const UnlockKey& next) {
    std::lock_guard g(impl_->mu);
    if (next.kind() == UnlockKey::Kind::raw && next.secret().size() != crypto::kKeyBytes)
        return Status::invalid_argument("a raw key must be exactly 32 bytes, got " +
                                        std::to_string(next.secret().size()));
    if (next.kind() == UnlockKey::Kind::passphrase && next.secret().empty())
        return Status::invalid_argument("the new passphrase is empty");
    // Check the current key even when unlocked: whoever holds an unlocked tablet must not be
    // able to take it over without knowing the key.
    const bool was_unlocked = impl_->data_key.present();
    impl_->data_key.clear();
    Status s = impl_->unlock(current);
    if (!s.ok()) {
        if (was_unlocked) impl_->data_key.clear();
        return s;
    }
    return impl_->in_write_txn([&] { return impl_->wrap_data_key(next); });
}

const Schema& Replica::schema() const noexcept {
    return *impl_->schema;
}
const Uuid& Replica::node() const noexcept {
    return impl_->node;
}

// ---- recognising a replica file ---------------------------------------------------------------

Status Replica::recognise(const std::string& path) {
    try {
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) {
            if (errno == ENOENT) return Status::not_found("there is no file at the path");
            return Status::io(std::string("cannot inspect the file: ") + std::strerror(errno));
        }
        // Before SQLite opens anything: opening a FIFO would block, a link would be followed.
        if (S_ISLNK(st.st_mode))
            return Status::invalid_argument("the path is a symbolic link, not a replica file");
        if (!S_ISREG(st.st_mode)) return Status::invalid_argument("the path is not a regular file");
        if (st.st_size == 0) return Status::invalid_argument("the file is empty");

        // Reading a WAL-mode database makes SQLite create -wal and -shm beside it; the look
        // must leave no trace, so the ones it made are removed afterwards.
        auto exists = [](const std::string& p) {
            struct stat s {};
            return ::lstat(p.c_str(), &s) == 0;
        };
        const std::string wal = path + "-wal", shm = path + "-shm";
        const bool had_wal = exists(wal), had_shm = exists(shm);
        const auto not_sqlite = [](const Status& s) {
            return s.code() == Code::corrupt
                       ? Status::invalid_argument("the file is not an SQLite database")
                       : s;
        };
        Status verdict = [&]() -> Status {
            sql::Db db;
            MS_RETURN_IF_ERROR(
                db.open(path, {.create = false,
                               .read_only = true,
                               .busy_timeout_ms = 5'000,
                               .label = {"", "the file", "the file is not a MentorSync replica"}}));
            auto tables =
                db.prepare("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'");
            if (!tables.ok()) return not_sqlite(tables.status());
            auto row = tables->step();
            if (!row.ok()) return not_sqlite(row.status());
            if (tables->int64(0) == 0)
                return Status::invalid_argument(
                    "the file is an SQLite database without a replica's meta table");
            const Status foreign = Status::invalid_argument(
                "the file is an SQLite database whose meta table is not a replica's");
            auto q = db.prepare(
                "SELECT key, value FROM meta"
                " WHERE key IN ('format', 'node', 'key_mode', 'wrapped_key')");
            if (!q.ok()) return foreign;  // a table named meta with other columns
            int found = 0;
            for (;;) {
                auto r = q->step();
                if (!r.ok()) return not_sqlite(r.status());
                if (!*r) break;
                const std::string_view key = q->text(0), value = q->blob(1);
                bool good = false;
                if (key == "format")
                    good = !value.empty() && value.size() <= 9 &&
                           std::all_of(value.begin(), value.end(),
                                       [](char c) { return c >= '0' && c <= '9'; });
                else if (key == "node")
                    good = value.size() == 16;
                else if (key == "key_mode")
                    good = value == "passphrase" || value == "raw";
                else if (key == "wrapped_key")
                    good = !value.empty();
                if (!good) return foreign;
                ++found;
            }
            return found == 4 ? Status() : foreign;
        }();
        if (!had_wal) ::unlink(wal.c_str());
        if (!had_shm) ::unlink(shm.c_str());
        return verdict;
    } catch (const std::bad_alloc&) {
        return Status::internal("out of memory while inspecting a file");
    }
}

}  // namespace mentorsync
