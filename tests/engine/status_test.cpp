// Status's optional parts for programs (a protocol Reason and retry advice) and the
// MS_ASSIGN_OR_RETURN macro.
#include <catch2/catch.hpp>

#include <string>

#include "mentorsync/status.h"

using namespace mentorsync;

namespace {

Result<int> parse_positive(int v) {
    if (v <= 0) return Status::invalid_argument("not positive").with_retry_after(250);
    return v;
}

// Doubles through MS_ASSIGN_OR_RETURN, both into a new variable and into an existing one.
Result<int> doubled(int v) {
    MS_ASSIGN_OR_RETURN(const int first, parse_positive(v));
    int second = 0;
    MS_ASSIGN_OR_RETURN(second, parse_positive(first));
    return first + second;
}

Status check_both(int a, int b) {
    MS_ASSIGN_OR_RETURN(auto x, parse_positive(a));
    MS_ASSIGN_OR_RETURN(auto y, parse_positive(b));
    (void)x;
    (void)y;
    return {};
}

}  // namespace

TEST_CASE("a Status has no reason and no retry advice unless one is attached", "[status]") {
    const Status plain = Status::io("disk full");
    CHECK(plain.reason() == Reason{});
    CHECK(plain.reason().domain == ReasonDomain::none);
    CHECK(plain.retry_after_ms() == 0);

    const Reason r{ReasonDomain::coord, 7};
    const Status s = Status::locked_out("try again later").with_reason(r).with_retry_after(30'000);
    CHECK(s.code() == Code::locked_out);
    CHECK(s.message() == "try again later");
    CHECK(s.reason() == r);
    CHECK(s.retry_after_ms() == 30'000);
    CHECK(s.to_string() == "locked_out: try again later");  // the parts are not in the text

    Status t = Status::invalid_argument("x");
    t.with_reason(Reason{ReasonDomain::wire, 2}).with_retry_after(-5);
    CHECK(t.reason() == Reason{ReasonDomain::wire, 2});
    CHECK(t.retry_after_ms() == 0);  // negative advice counts as none
}

TEST_CASE("an ok Status never carries a reason or retry advice", "[status]") {
    const Status ok = Status().with_reason(Reason{ReasonDomain::wire, 1}).with_retry_after(10);
    CHECK(ok.ok());
    CHECK(ok.reason() == Reason{});
    CHECK(ok.retry_after_ms() == 0);
}

TEST_CASE("a reason and retry advice travel through Result and copies", "[status]") {
    const Result<int> r = parse_positive(0);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().retry_after_ms() == 250);
    const Status copy = r.status();
    CHECK(copy.retry_after_ms() == 250);
    CHECK(copy.message() == "not positive");
}

TEST_CASE("MS_ASSIGN_OR_RETURN assigns a value or returns the failure unchanged", "[status]") {
    CHECK(doubled(3).value() == 6);
    const Result<int> bad = doubled(-1);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::invalid_argument);
    CHECK(bad.status().retry_after_ms() == 250);
    CHECK(check_both(1, 2).ok());
    const Status second = check_both(1, 0);
    CHECK(second.message() == "not positive");
}

TEST_CASE("a Status carries a server's answer and transience only when it is a failure",
          "[status]") {
    const Status plain = Status::io("no answer");
    CHECK(plain.remote() == Remote{});
    CHECK_FALSE(plain.transient().has_value());
    const Status refused = Status::invalid_argument("refused")
                               .with_remote(Remote{403, "unauthorized"})
                               .with_transient(false);
    CHECK(refused.remote().http_status == 403);
    CHECK(refused.remote().code == "unauthorized");
    CHECK(refused.transient() == std::optional<bool>(false));
    const Status ok = Status().with_remote(Remote{500, "x"}).with_transient(true);
    CHECK(ok.remote() == Remote{});
    CHECK_FALSE(ok.transient().has_value());
}
