// fuzz_make_seeds DIR: writes the seed corpora of the fuzz targets into DIR/<target>/ (the
// repository keeps them in tests/fuzz/corpus/). Seeds are valid messages made by the encoders
// the targets' decoders pair with, plus a few near misses, so that each target starts from
// inputs that reach deep into its decoder. Deterministic: fixed ids, stamps and keys, so
// running it again rewrites the same files (after a change to an encoder or a message, run it
// and commit the difference).
//
//   ./build-fuzz/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus
#include <sodium.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "codec.h"
#include "mentorsync/schema.h"
#include "mentorsync/wire.h"
#include "server_fixture.h"

using namespace mentorsync;
using mentorsync::fuzz::FuzzServer;

namespace {

std::filesystem::path g_root;

void put(const std::string& target, const std::string& name, std::string_view bytes) {
    const auto dir = g_root / target;
    std::filesystem::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        std::fprintf(stderr, "cannot write %s/%s\n", target.c_str(), name.c_str());
        std::exit(1);
    }
}

Uuid id(const char* text) {
    return *Uuid::parse(text);
}
Uuid from_raw(std::string_view raw16) {
    return *Uuid::from_bytes(raw16);
}

const Uuid kNodeA = id("0f8fad5b-d9cb-469f-a165-70867728950e");
const Uuid kNodeB = id("7c9e6679-7425-40de-944b-e07fc1f90ae7");
const Uuid kLearner = id("16fd2706-8baf-433b-82eb-8c7fada847da");
const Uuid kRow = id("886313e1-3b8a-5372-9b90-0c9aee199e5d");
constexpr std::uint64_t kHlc = (1759300000000ull << 16) | 3;  // 2025-10-01, counter 3

// A key pair from a fixed seed, so that the seeds come out the same on every run.
const wire::DeviceKeys& fixed_keys() {
    static const wire::DeviceKeys keys = [] {
        wire::DeviceKeys k;
        unsigned char seed[crypto_sign_SEEDBYTES] = {1, 2, 3};
        crypto_sign_seed_keypair(k.public_key.data(), k.secret_key.data(), seed);
        return k;
    }();
    return keys;
}

// A learner's creation, a contact edited over a conflict, a deletion, and fields and a
// collection this schema does not know (kept as names), with every kind of value.
std::vector<Transaction> sample_transactions(const Uuid& node, std::uint64_t hlc,
                                             const std::string& learner_text,
                                             const std::string& mentor_text) {
    Transaction create{{hlc, node}, {}};
    for (auto [field, value] :
         std::vector<std::pair<std::string, Value>>{{"name", "Anna Testa"},
                                                    {"birth_year", 2011},
                                                    {"school_id", kRow.to_string()},
                                                    {"municipality_id", kRow.to_string()},
                                                    {"grade", 8},
                                                    {"education", "general"}})
        create.changes.push_back({"learners", kLearner, field, value, {}, {}});

    Transaction contact{{hlc + 1, node}, {}};
    for (auto [field, value] :
         std::vector<std::pair<std::string, Value>>{{"learner_id", learner_text},
                                                    {"mentor_id", mentor_text},
                                                    {"starts_at", "2025-10-06T14:30"},
                                                    {"duration_min", 45},
                                                    {"place", "school"},
                                                    {"form", "individual"},
                                                    {"topics", Value::List{"learning", "family"}},
                                                    {"notes", "runāja par skolu, \"mierīgi\""},
                                                    {"risk_flag", false}})
        contact.changes.push_back({"contacts", kRow, field, value, {}, {}});

    Transaction edit{{hlc + 2, node}, {}};
    edit.changes.push_back(
        {"contacts", kRow, "notes", "resolved", {hlc + 1, node}, {{hlc, kNodeB}}});
    edit.changes.push_back({"contacts", kRow, "_deleted", true, {hlc + 1, node}, {}});

    Transaction unknown{{hlc + 3, node}, {}};
    unknown.changes.push_back({"future_things",
                               kRow,
                               "x",
                               Value::List{Value(), true, -7, 2.5, Value::List{"nested"}},
                               {},
                               {}});
    unknown.changes.push_back({"contacts", kRow, "field_from_v2", 1.0e300, {hlc, kNodeB}, {}});
    return {create, contact, edit, unknown};
}

std::string http(const std::string& method, const std::string& target,
                 const std::vector<std::string>& headers, const std::string& body = {},
                 bool content_length = true) {
    std::string out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n";
    for (const auto& h : headers)
        out += h + "\r\n";
    if (content_length && (!body.empty() || method == "POST"))
        out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return out + "\r\n" + body;
}

std::string coord(const std::string& method, const std::string& target,
                  const std::vector<std::string>& headers, const std::string& body = {}) {
    std::string out = method + " " + target + "\n";
    for (const auto& h : headers)
        out += h + "\n";
    return out + "\n" + body;
}

void wire_seeds(const Schema& schema) {
    const auto txns = sample_transactions(kNodeA, kHlc, kLearner.to_string(), kRow.to_string());
    put("wire_txns", "four", wire::encode_transactions(schema, txns));
    put("wire_txns", "one", wire::encode_transactions(schema, {txns.data(), 1}));
    put("wire_txns", "none", wire::encode_transactions(schema, {}));

    put("wire_push_request", "four", wire::encode_push_request(schema, kRow, txns));
    put("wire_push_request", "one", wire::encode_push_request(schema, kRow, {txns.data() + 2, 1}));

    wire::PushResponse pr;
    pr.results = {{wire::PushResult::Kind::accepted, "", ""},
                  {wire::PushResult::Kind::held, "", ""},
                  {wire::PushResult::Kind::rejected, "out_of_scope", "contacts.learner_id: no"}};
    pr.server_time_ms = 1759300000000;
    put("wire_push_response", "three", wire::encode_push_response(pr));

    put("wire_pull_request", "first", wire::encode_pull_request({"", std::nullopt, std::nullopt}));
    put("wire_pull_request", "full",
        wire::encode_pull_request({"cursor-bytes", 500, wire::DeviceReport{3, 1, 2}}));

    wire::PullResponse pull;
    pull.txns = txns;
    pull.purge = {kLearner};
    pull.cursor = std::string("\x00\x01\x02\x03", 4);
    pull.more = true;
    pull.server_time_ms = 1759300000000;
    put("wire_pull_response", "page", wire::encode_pull_response(schema, pull));
    put("wire_pull_response", "empty", wire::encode_pull_response(schema, {}));

    wire::EnrollRequest er;
    er.code = "ABCD-EFGH-JKLM";
    er.public_key = fixed_keys().public_key;
    er.node = kNodeA;
    er.label = "Planšete Nr. 1";
    put("wire_enroll_request", "request", wire::encode_enroll_request(er));
    put("wire_enroll_response", "response",
        wire::encode_enroll_response({kNodeA, kNodeB, "mentor", 1759300000000}));

    put("wire_error", "plain",
        wire::encode_error({"bad_request", "push request.batch: missing", {}}));
    put("wire_error", "timed", wire::encode_error({"unsigned", "stale", 1759300000000}));

    const std::string nonce(16, '\x05');
    put("wire_authorization", "valid",
        wire::authorization(fixed_keys(), "POST", "/v1/sync/push", kNodeA, 1759300000000, nonce,
                            "body"));
    put("wire_authorization", "short", "MS1 AAAAAAAAAAAAAAAAAAAAAA.1759300000000.x.y");
}

void codec_seeds() {
    RowState row;
    row.fields["name"] = {Value("Anna Testa"), {kHlc, kNodeA}};
    row.fields["grade"] = {Value(8), {kHlc, kNodeA}};
    row.fields["topics"] = {Value(Value::List{"learning", Value(), 1.5}), {kHlc + 1, kNodeB}};
    row.fields["_deleted"] = {Value(false), {kHlc + 2, kNodeA}};
    row.seen_early.emplace_back("notes", Stamp{kHlc + 9, kNodeB});
    put("codec_row_state", "row", encode_row_state(row));
    put("codec_row_state", "empty", encode_row_state({}));

    put("codec_value", "string", encode_value(Value("talked about school")));
    put("codec_value", "list",
        encode_value(Value(Value::List{Value(), true, -3, 0.25, "x", Value::List{1}})));
    put("codec_value", "int", encode_value(Value(std::int64_t{-9000000000})));

    const auto txns = sample_transactions(kNodeA, kHlc, kLearner.to_string(), kRow.to_string());
    for (std::size_t i = 0; i < txns.size(); ++i)
        put("codec_stored_transaction", "txn" + std::to_string(i), encode_transaction(txns[i]));
}

void csv_seeds() {
    const std::string us = "\x1f", rs = "\x1e";
    put("coord_csv", "table",
        "id" + us + "name" + us + "notes" + rs + "1" + us + "Ādažu novads" + us +
            "said \"hi\", left" + rs + "2" + us + "=SUM(A1:A9)" + us + "line\r\nbreak" + rs + "3" +
            us + "-1" + us + "@cmd" + rs + "4" + us + "\tx" + us + "+1");
    put("coord_csv", "single", "only");
}

void coord_seeds() {
    const std::vector<std::string> session = {"Cookie: theme=dark; ms_session=@SESSION@"};
    const std::vector<std::string> admin = {"Authorization: Bearer @TOKEN_ADMIN@"};
    const std::vector<std::string> muni = {"Authorization: Bearer @TOKEN_MUNI@"};
    const std::vector<std::string> national = {"Authorization: Bearer @TOKEN_NATIONAL@"};
    put("coord_api", "me_session", coord("GET", "/api/v1/me", session));
    put("coord_api", "me_token", coord("GET", "/api/v1/me", muni));
    put("coord_api", "municipalities", coord("GET", "/api/v1/municipalities", national));
    put("coord_api", "institutions",
        coord("GET", "/api/v1/institutions?municipality=@MUNI@", admin));
    put("coord_api", "records",
        coord("GET",
              "/api/v1/records/contacts?municipality=@MUNI@&from=2025-09-01&to=2026-08-31&"
              "limit=50&include_deleted=true",
              muni));
    put("coord_api", "records_cursor",
        coord("GET", "/api/v1/records/absences?limit=1&cursor=abc%20def+x", admin));
    put("coord_api", "learner", coord("GET", "/api/v1/learners/@LEARNER@", admin));
    put("coord_api", "indicators",
        coord("GET", "/api/v1/indicators?school_year=2025/2026&municipality=@MUNI@", national));
    put("coord_api", "escalations", coord("GET", "/api/v1/escalations?semester=2025/2026-1", muni));
    put("coord_api", "devices", coord("GET", "/api/v1/devices", admin));
    put("coord_api", "conflicts",
        coord("GET", "/api/v1/conflicts?learner=@LEARNER@&limit=5", admin));
    put("coord_api", "export_records",
        coord("GET", "/api/v1/export/records/contacts?learner=@LEARNER@", admin));
    put("coord_api", "export_indicators",
        coord("GET", "/api/v1/export/indicators?school_year=2025/2026", muni));
    put("coord_api", "audit", coord("GET", "/api/v1/audit?limit=3&cursor=1000", admin));
    put("coord_api", "audit_verify", coord("GET", "/api/v1/audit/verify", admin));
    put("coord_api", "resolve",
        coord("POST", "/api/v1/conflicts/resolve",
              {"Cookie: ms_session=@SESSION@", "X-CSRF-Token: @CSRF@",
               "Content-Type: application/json; charset=utf-8", "Sec-Fetch-Site: same-origin",
               "Origin: http://127.0.0.1:8443", "Host: 127.0.0.1:8443"},
              R"({"id":"@CONFLICT@","resolution":"custom","value":"merged \u0101 notes"})"));
    put("coord_api", "resolve_token",
        coord("POST", "/api/v1/conflicts/resolve",
              {"Authorization: Bearer @TOKEN_ADMIN@", "Content-Type: application/json"},
              R"({"id":"@CONFLICT@","resolution":"keep_winner"})"));
    put("coord_api", "unauthenticated", coord("GET", "/api/v1/records/contacts?x=%zz", {}));
}

void http_seeds(const Schema& schema) {
    const std::string msgpack = "Content-Type: application/msgpack";
    const Uuid node = from_raw(FuzzServer::kTabletNode);
    std::uint64_t hlc = 0;  // the placeholder's bytes as the milliseconds, counter 0
    for (char c : FuzzServer::kFreshHlcMillis)
        hlc = (hlc << 8) | static_cast<unsigned char>(c);
    hlc <<= 16;
    const auto txns = sample_transactions(node, hlc, std::string(FuzzServer::kLearnerText),
                                          std::string(FuzzServer::kMentorText));
    const Uuid batch = from_raw(FuzzServer::kFreshBatch);
    // The contact alone (its learner is the fixture's), then the whole sample.
    put("http_request", "push",
        http("POST", "/v1/sync/push", {msgpack, "Authorization: @SIGN@"},
             wire::encode_push_request(schema, batch, {txns.data() + 1, 1})));
    put("http_request", "push_all",
        http("POST", "/v1/sync/push", {msgpack, "Authorization: @SIGN@"},
             wire::encode_push_request(schema, batch, txns)));
    put("http_request", "pull",
        http("POST", "/v1/sync/pull", {msgpack, "Authorization: @SIGN@"},
             wire::encode_pull_request({"", 2, wire::DeviceReport{1, 0, 0}})));
    put("http_request", "pull_unsigned",
        http("POST", "/v1/sync/pull", {msgpack, "Authorization: MS1 a.b.c.d"},
             wire::encode_pull_request({"", std::nullopt, std::nullopt})));
    wire::EnrollRequest er;
    er.code = "ABCD-EFGH-JKLM";
    er.public_key = fixed_keys().public_key;
    er.node = kNodeB;
    er.label = "tablet";
    put("http_request", "enroll",
        http("POST", "/v1/enroll", {msgpack + "; charset=binary", "Expect: 100-continue"},
             wire::encode_enroll_request(er)));
    put("http_request", "pipelined",
        http("GET", "/healthz", {}) + http("GET", "/metrics", {"Connection: keep-alive"}) +
            http("HEAD", "/", {"Connection: close"}));
    put("http_request", "assets",
        http("GET", "/js/app.js?v=1", {"If-None-Match: W/\"x\", \"y\""}) +
            http("DELETE", "/index.html", {}));
    std::string chunked = "POST /v1/sync/pull HTTP/1.1\r\nHost: x\r\n" + msgpack +
                          "\r\nAuthorization: @SIGN@\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string pull_body = wire::encode_pull_request({"", std::nullopt, std::nullopt});
    char size_line[16];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", pull_body.size());
    chunked += size_line + pull_body + "\r\n0\r\n\r\n";
    put("http_request", "chunked", chunked);
    put("http_request", "api_token",
        http("GET", "/api/v1/export/records/absences?include_deleted=false",
             {"Authorization: Bearer @TOKEN_MUNI@"}));
    put("http_request", "api_session",
        http("POST", "/api/v1/conflicts/resolve",
             {"Cookie: ms_session=@SESSION@", "X-CSRF-Token: @CSRF@",
              "Content-Type: application/json", "Origin: http://127.0.0.1:8443"},
             R"({"id":"@CONFLICT@","resolution":"take_loser"})"));
    put("http_request", "bad_method", http("PUT", "/v1/sync/push", {msgpack}, "x"));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 || sodium_init() < 0) {
        std::fprintf(stderr, "usage: fuzz_make_seeds DIR\n");
        return 2;
    }
    g_root = argv[1];
    const Schema& schema = Schema::programme();
    wire_seeds(schema);
    codec_seeds();
    csv_seeds();
    coord_seeds();
    http_seeds(schema);
    return 0;
}
