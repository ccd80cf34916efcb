// wire::Error's table (names, HTTP statuses, Codes) and wire::check_transaction, the one check
// of protocol section 6 that the replica and the server's ledger share.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "mentorsync/schema.h"
#include "mentorsync/wire.h"
#include "test_support.h"

using namespace mentorsync;

TEST_CASE("every wire error has one name and status from the protocol's table", "[wire][errors]") {
    const auto errors = wire::all_errors();
    CHECK(errors.size() == 21u);
    std::set<std::string_view> names;
    for (const wire::Error e : errors) {
        const std::string_view name = wire::error_name(e);
        INFO(name);
        CHECK(names.insert(name).second);
        CHECK(wire::parse_error_name(name) == e);
        CHECK(wire::http_status(e) >= 400);
        CHECK(wire::http_status(e) <= 503);
        const Status s = wire::error(e, "message for people");
        CHECK_FALSE(s.ok());
        CHECK(s.message() == "message for people");
        CHECK(wire::error_of(s) == e);
        const wire::ErrorReply reply = wire::error_reply_for(s);
        CHECK(reply.http_status == wire::http_status(e));
        CHECK(reply.body.code == name);
        CHECK(reply.body.message == "message for people");
    }
    CHECK(wire::error_name(wire::Error::unsigned_request) == "unsigned");
    CHECK(wire::http_status(wire::Error::body_too_large) == 413);
    CHECK(wire::http_status(wire::Error::rate_limited) == 429);
    CHECK(wire::http_status(wire::Error::headers_too_large) == 431);
    CHECK(wire::http_status(wire::Error::unavailable) == 503);
    CHECK(wire::error(wire::Error::too_deep, "m").code() == Code::invalid_argument);
    CHECK(wire::error(wire::Error::internal, "m").code() == Code::internal);
    CHECK_FALSE(wire::parse_error_name("Bad_Request"));
    CHECK_FALSE(wire::parse_error_name("other"));
}

TEST_CASE("a reason of another domain or an unknown value is no wire error", "[wire][errors]") {
    CHECK_FALSE(wire::error_of(Status::invalid_argument("x")));
    CHECK_FALSE(
        wire::error_of(Status::invalid_argument("x").with_reason({ReasonDomain::coord, 2})));
    CHECK_FALSE(wire::error_of(Status::invalid_argument("x").with_reason({ReasonDomain::wire, 0})));
    CHECK_FALSE(
        wire::error_of(Status::invalid_argument("x").with_reason({ReasonDomain::wire, 999})));
    const wire::ErrorReply reply =
        wire::error_reply_for(Status::internal("x").with_reason({ReasonDomain::coord, 2}));
    CHECK(reply.http_status == 400);
    CHECK(reply.body.code == "bad_request");
}

namespace {

// A new absence record: learner_id, date, lessons, status, source, in that order.
Transaction absence(const Uuid& row) {
    Transaction t;
    t.stamp = {std::uint64_t{1'760'000'000'000} << 16, Uuid::random()};
    const mentorsync::Fields f = mstest::absence_fields(Uuid::random());
    for (const char* k : {"learner_id", "date", "lessons", "status", "source"})
        t.changes.push_back({"absences", row, k, f.at(k), {}, {}});
    return t;
}

std::string problem(const Transaction& t) {
    return wire::check_transaction(Schema::programme(), t).message();
}

}  // namespace

TEST_CASE("check_transaction accepts a complete new record and names what breaks the rules",
          "[wire][check]") {
    const Uuid row = Uuid::random();
    const Transaction good = absence(row);
    CHECK(wire::check_transaction(Schema::programme(), good).ok());

    Transaction t = good;
    t.stamp.hlc = 0;
    CHECK(problem(t) == "transaction stamp is zero");
    t = good;
    t.changes.clear();
    CHECK(problem(t) == "transaction has no changes");
    t = good;
    t.changes[0].field.clear();
    CHECK(problem(t) == "a change has an empty collection or field name");
    t = good;
    t.changes[1].row = Uuid{};
    CHECK(problem(t) == "absences.date: row id is nil");
    t = good;
    t.changes.push_back(t.changes[2]);
    CHECK(problem(t) == "absences.lessons: the same field appears twice in one transaction");
    t = good;
    t.changes[2].prev = t.stamp;
    CHECK(problem(t) == "absences.lessons: prev stamp is not before the transaction's own stamp");
    t = good;
    t.changes[2].resolves.push_back(Stamp{});
    CHECK(problem(t) ==
          "absences.lessons: a resolved stamp is not before the transaction's own stamp");
    t = good;
    t.changes.push_back({"absences", row, std::string(kDeletedField), Value(3), {}, {}});
    CHECK(problem(t) == "absences._deleted: expected true or false");
    t = good;
    t.changes[3].value = Value("maybe");
    CHECK(wire::check_transaction(Schema::programme(), t).code() == Code::validation);
    CHECK(problem(t) == "absences.status: 'maybe' is not one of: unknown, justified, unjustified");
    t = good;
    t.changes.erase(t.changes.begin() + 1);  // a create without its date
    CHECK(wire::check_transaction(Schema::programme(), t).code() == Code::validation);
}

TEST_CASE("check_transaction keeps unknown collections and fields and has no change limit",
          "[wire][check]") {
    Transaction t = absence(Uuid::random());
    t.changes.push_back({"absences", t.changes[0].row, "school_period", Value(3), {}, {}});
    t.changes.push_back({"wellbeing_checks", Uuid::random(), "score", Value(7), {}, {}});
    CHECK(wire::check_transaction(Schema::programme(), t).ok());
    Transaction many;
    many.stamp = t.stamp;
    for (std::size_t i = 0; i < wire::kMaxChangesPerTransaction + 5; ++i)
        many.changes.push_back({"wellbeing_checks", Uuid::random(), "score", Value(1), {}, {}});
    CHECK(wire::check_transaction(Schema::programme(), many).ok());
}
