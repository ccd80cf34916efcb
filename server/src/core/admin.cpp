#include "core/admin.h"

#include <sodium.h>

#include <ctime>

#include "common/calendar.h"
#include "common/text.h"
#include "core/ledger.h"
#include "core/sync_service.h"

namespace mentorsync::server {

namespace {

constexpr std::size_t kMaxNameChars = 200;

Status check_name(std::string_view what, const std::string& name) {
    if (name.empty()) return Status::invalid_argument(std::string(what) + ": must not be empty");
    const auto chars = common::utf8_length(name);
    if (!chars) return Status::invalid_argument(std::string(what) + ": not valid UTF-8");
    if (*chars > kMaxNameChars)
        return Status::invalid_argument(std::string(what) + ": longer than 200 characters");
    return {};
}

}  // namespace

Admin::Admin(std::shared_ptr<ServerStore> store, std::shared_ptr<MergedState> state,
             std::shared_ptr<const WallClock> clock, const Schema* schema)
    : store_(std::move(store)),
      state_(std::move(state)),
      clock_(clock ? std::move(clock) : SystemClock::shared()),
      schema_(schema ? *schema : Schema::programme()) {}

Result<std::unique_ptr<Admin>> Admin::open(const std::string& data_dir, bool create,
                                           std::shared_ptr<const WallClock> clock, LogSink log,
                                           bool with_state) {
    StoreOptions o;
    o.data_dir = data_dir;
    o.create_if_missing = create;
    o.clock = clock;
    auto store = open_sqlite_store(o);
    if (!store.ok()) return store.status();
    std::shared_ptr<ServerStore> shared = std::move(store).value();
    std::shared_ptr<MergedState> state;
    if (with_state) {
        MergedStateOptions mo;
        mo.data_dir = data_dir;
        mo.clock = clock;
        mo.log = log;
        auto opened = MergedState::open(shared, std::move(mo));
        if (!opened.ok()) return opened.status();
        state = std::move(opened).value();
    }
    auto admin = std::make_unique<Admin>(std::move(shared), std::move(state), std::move(clock));
    admin->log_ = std::move(log);
    return admin;
}

// Called after a write's history commit, never inside store_->transact: the catch-up reads
// the history, and a failure must not undo a write that is already durable.
void Admin::apply_to_state() {
    if (state_) state_->catch_up_after_commit("admin");
}

std::string Admin::today() const {
    return common::format_iso_date(common::utc_date_of_ms(clock_->now_ms()));
}

Result<Uuid> Admin::add_municipality(const std::string& name) {
    MS_RETURN_IF_ERROR(check_name("name", name));
    Municipality m{Uuid::random(), name};
    Status s = store_->transact([&]() -> Status {
        auto all = store_->list_municipalities();
        if (!all.ok()) return all.status();
        for (const auto& x : *all)
            if (x.name == name)
                return Status::invalid_argument("a municipality with this name exists: " +
                                                x.id.to_string());
        return store_->add_municipality(m);
    });
    if (!s.ok()) return s;
    return m.id;
}

Result<Uuid> Admin::add_institution(const std::string& name, InstitutionKind kind,
                                    const Uuid& municipality) {
    MS_RETURN_IF_ERROR(check_name("name", name));
    Institution i{Uuid::random(), municipality, kind, name};
    Status s = store_->transact([&]() -> Status {
        auto m = store_->find_municipality(municipality);
        if (!m.ok()) return m.status();
        if (!*m) return Status::not_found("no municipality " + municipality.to_string());
        return store_->add_institution(i);
    });
    if (!s.ok()) return s;
    return i.id;
}

Result<Uuid> Admin::add_user(Role role, const std::optional<Uuid>& institution,
                             const std::string& display_name) {
    MS_RETURN_IF_ERROR(check_name("name", display_name));
    if ((role == Role::mentor || role == Role::centre_staff) && !institution)
        return Status::invalid_argument("institution: required for mentors and centre staff");
    User u;
    u.id = Uuid::random();
    u.role = role;
    u.institution = institution;
    u.display_name = display_name;
    u.created_ms = clock_->now_ms();
    Status s = store_->transact([&]() -> Status {
        if (institution) {
            auto i = store_->find_institution(*institution);
            if (!i.ok()) return i.status();
            if (!*i) return Status::not_found("no institution " + institution->to_string());
        }
        return store_->add_user(u);
    });
    if (!s.ok()) return s;
    return u.id;
}

Status Admin::write(std::vector<Change> changes, Stamp* stamp_out, std::int64_t* seq_out) {
    return store_->transact([&]() -> Status {
        auto max = store_->max_hlc();
        if (!max.ok()) return max.status();
        // Greater than every stamp in the history, so the server's writes win over what they
        // replace, and every prev below is smaller than the stamp.
        Hlc hlc(store_->server_node(), clock_, *max);
        Transaction txn;
        txn.stamp = hlc.now();
        for (Change& c : changes) {
            auto prev = store_->field_stamp(c.row, c.field);
            if (!prev.ok()) return prev.status();
            c.prev = *prev;
        }
        txn.changes = std::move(changes);
        Ledger ledger(*store_, schema_);
        MS_RETURN_IF_ERROR(ledger.validate(txn));
        auto rows = ledger.plan(txn);
        if (!rows.ok()) return rows.status();
        auto seq = ledger.apply(txn, *rows, std::nullopt, clock_->now_ms());
        if (seq.ok() && stamp_out) *stamp_out = txn.stamp;
        if (seq.ok() && seq_out) *seq_out = *seq;
        return seq.status();
    });
}

Result<Uuid> Admin::add_learner(const LearnerInput& in) {
    Fields f{{"name", in.name},
             {"birth_year", in.birth_year},
             {"school_id", in.school_id.to_string()},
             {"municipality_id", in.municipality_id.to_string()},
             {"grade", in.grade},
             {"education", in.education}};
    if (!in.viis_link.empty()) f["viis_link"] = in.viis_link;
    MS_RETURN_IF_ERROR(schema_.check_create("learners", f));
    const Uuid id = Uuid::random();
    Status s = store_->transact([&]() -> Status {
        auto school = store_->find_institution(in.school_id);
        if (!school.ok()) return school.status();
        if (!*school) return Status::not_found("no institution " + in.school_id.to_string());
        auto m = store_->find_municipality(in.municipality_id);
        if (!m.ok()) return m.status();
        if (!*m) return Status::not_found("no municipality " + in.municipality_id.to_string());
        std::vector<Change> changes;
        for (auto& [name, value] : f)
            changes.push_back(Change{"learners", id, name, value, {}, {}});
        return write(std::move(changes));
    });
    if (!s.ok()) return s;
    apply_to_state();
    return id;
}

Result<AssignResult> Admin::assign(const AssignInput& in) {
    AssignResult out;
    const std::string start = in.start_date.empty() ? today() : in.start_date;
    // Checked before anything else, also when the case turns out to be unchanged: a bad date
    // on the command line must always be reported.
    const CollectionDef* def = schema_.collection("assignments");
    MS_RETURN_IF_ERROR(schema_.check_value(*def, *def->field("start_date"), Value(start)));
    Status s = store_->transact([&]() -> Status {
        auto row = store_->find_row(in.learner);
        if (!row.ok()) return row.status();
        if (!*row || (*row)->collection != "learners")
            return Status::not_found("no learner " + in.learner.to_string());
        auto mentor = store_->find_user(in.mentor);
        if (!mentor.ok()) return mentor.status();
        if (!*mentor || (*mentor)->role != Role::mentor)
            return Status::not_found("no mentor " + in.mentor.to_string());
        const std::optional<Uuid> centre = in.centre ? in.centre : (*mentor)->institution;
        if (!centre) return Status::invalid_argument("centre: the mentor has no institution");
        auto inst = store_->find_institution(*centre);
        if (!inst.ok()) return inst.status();
        if (!*inst) return Status::not_found("no institution " + centre->to_string());

        auto cases = store_->assignments_of(in.learner);
        if (!cases.ok()) return cases.status();
        std::vector<Change> changes;
        for (const AssignmentState& a : *cases) {
            if (!a.grants_access()) continue;
            if (a.mentor == in.mentor && a.centre == *centre) {
                out.assignment = a.row;
                out.unchanged = true;
                continue;
            }
            // Co-mentoring: another mentor's case stays open beside the new one. The same
            // mentor's case at another centre still moves: one mentor, one case per learner.
            if (in.shared && a.mentor != in.mentor) {
                out.kept.push_back(a.row);
                continue;
            }
            // Another mentor or centre holds the case: close it, so they lose the learner.
            changes.push_back({"assignments", a.row, "status", "closed", {}, {}});
            changes.push_back({"assignments", a.row, "end_date", start, {}, {}});
            changes.push_back({"assignments", a.row, "closing_reason", "transferred", {}, {}});
            out.closed.push_back(a.row);
        }
        if (!out.unchanged) {
            out.assignment = Uuid::random();
            Fields f{{"learner_id", in.learner.to_string()},
                     {"mentor_id", in.mentor.to_string()},
                     {"centre_id", centre->to_string()},
                     {"status", "open"},
                     {"start_date", start}};
            MS_RETURN_IF_ERROR(schema_.check_create("assignments", f));
            for (auto& [name, value] : f)
                changes.push_back({"assignments", out.assignment, name, value, {}, {}});
        }
        if (changes.empty()) return {};
        return write(std::move(changes));
    });
    if (!s.ok()) return s;
    if (!out.closed.empty()) out.unchanged = false;
    if (!out.unchanged) apply_to_state();
    return out;
}

Result<CloseCaseResult> Admin::close_case(const CloseCaseInput& in) {
    const std::string end = in.end_date.empty() ? today() : in.end_date;
    const CollectionDef* def = schema_.collection("assignments");
    MS_RETURN_IF_ERROR(schema_.check_value(*def, *def->field("end_date"), Value(end)));
    MS_RETURN_IF_ERROR(schema_.check_value(*def, *def->field("closing_reason"), Value(in.reason)));
    CloseCaseResult out;
    Status s = store_->transact([&]() -> Status {
        auto found = store_->find_assignment(in.assignment);
        if (!found.ok()) return found.status();
        if (!*found || (*found)->deleted)
            return Status::not_found("no case " + in.assignment.to_string());
        const AssignmentState& a = **found;
        // Closing a closed case would rewrite its end date and reason: refused, so that a
        // repeated command cannot silently change the record of how the case ended.
        if (!a.grants_access())
            return Status::invalid_argument("case " + in.assignment.to_string() + " is already " +
                                            a.status);
        out.learner = a.learner;
        out.mentor = a.mentor;
        auto cases = store_->assignments_of(a.learner);
        if (!cases.ok()) return cases.status();
        for (const AssignmentState& other : *cases)
            if (other.row != a.row && other.mentor == a.mentor && other.grants_access())
                out.mentor_keeps_learner = true;
        return write({{"assignments", a.row, "status", "closed", {}, {}},
                      {"assignments", a.row, "end_date", end, {}, {}},
                      {"assignments", a.row, "closing_reason", in.reason, {}, {}}});
    });
    if (!s.ok()) return s;
    apply_to_state();
    return out;
}

Result<std::shared_ptr<MergedState>> Admin::view_state(std::optional<Uuid> learner) {
    if (state_) return state_;
    MergedStateOptions mo;
    mo.clock = clock_;
    mo.schema = &schema_;
    mo.log = log_;
    return MergedState::replay(store_, std::move(mo), learner);
}

Result<std::vector<Record>> Admin::learner_records(const Uuid& learner) {
    auto state = view_state(learner);
    if (!state.ok()) return state.status();
    return (*state)->learner_records(learner);
}

Result<std::vector<Conflict>> Admin::conflicts(std::optional<Uuid> learner) {
    auto state = view_state(learner);
    if (!state.ok()) return state.status();
    return (*state)->conflicts(learner);
}

Result<ResolveConflictResult> Admin::resolve_conflict(const ResolveConflictInput& in) {
    ResolveConflictResult out;
    Status s = store_->transact([&]() -> Status {
        auto row = store_->find_row(in.row);
        if (!row.ok()) return row.status();
        if (!*row) return Status::not_found("no record " + in.row.to_string());
        const CollectionDef* def = schema_.collection((*row)->collection);
        if (def == nullptr || def->field(in.field) == nullptr)
            return Status::not_found("no field " + in.field + " in " + (*row)->collection);
        MS_RETURN_IF_ERROR(schema_.check_value(*def, *def->field(in.field), in.value));
        auto current = store_->field_stamp(in.row, in.field);
        if (!current.ok()) return current.status();
        if (*current != in.winner)
            return Status::invalid_argument("the field was written since the conflict was read");
        out.collection = (*row)->collection;
        out.learner = (*row)->learner;
        Change c{out.collection, in.row, in.field, in.value, {}, {in.loser}};
        return write({std::move(c)}, &out.stamp, &out.seq);
    });
    if (!s.ok()) return s;
    apply_to_state();
    return out;
}

Result<IssuedCode> Admin::issue_enrollment_code(const Uuid& user) {
    // 16 symbols from 30 (no 0/O, 1/I/L, U: easy to read out over the phone): ~78 bits, far
    // beyond guessing within 72 hours.
    static constexpr char kAlphabet[] = "ABCDEFGHJKMNPQRSTVWXYZ23456789";
    IssuedCode out;
    out.user = user;
    std::string plain;
    for (int i = 0; i < 16; ++i) {
        if (i > 0 && i % 4 == 0) out.code.push_back('-');
        char c = kAlphabet[randombytes_uniform(sizeof kAlphabet - 1)];
        out.code.push_back(c);
        plain.push_back(c);
    }
    const std::int64_t now = clock_->now_ms();
    out.expires_ms = now + kEnrollmentCodeLifetimeMs;
    Status s = store_->transact([&]() -> Status {
        auto u = store_->find_user(user);
        if (!u.ok()) return u.status();
        if (!*u) return Status::not_found("no user " + user.to_string());
        if ((*u)->role != Role::mentor && (*u)->role != Role::centre_staff)
            return Status::invalid_argument(
                "user: only mentors and centre staff enroll devices; this user is " +
                std::string(role_name((*u)->role)));
        return store_->add_enrollment_code(EnrollmentCode{
            enrollment_code_hash(store_->key(), plain), user, now, out.expires_ms, {}});
    });
    if (!s.ok()) return s;
    return out;
}

Status Admin::revoke_device(const Uuid& device) {
    return store_->revoke_device(device);
}

Result<std::vector<Device>> Admin::list_devices() {
    return store_->list_devices();
}

}  // namespace mentorsync::server
