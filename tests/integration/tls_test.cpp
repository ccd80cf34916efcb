// TLS end to end: the server with a certificate, a tablet that trusts exactly that certificate,
// and one that does not.
#include <catch2/catch.hpp>

#include "server_process.h"
#include "test_cert.h"
#include "test_support.h"

using namespace mentorsync;
using mstest::admin;

TEST_CASE("a tablet syncs over TLS and refuses a server it does not trust", "[integration][tls]") {
    mstest::TempDir dir;
    const std::string data = dir.file("server");
    admin(data, {"init"});
    std::string m = admin(data, {"add-municipality", "--name", "Testa novads"})["municipality_id"];
    std::string c = admin(data, {"add-institution", "--name", "Centrs", "--municipality", m,
                                 "--kind", "youth_centre"})["institution_id"];
    std::string mentor =
        admin(data, {"add-user", "--role", "mentor", "--name", "M", "--institution", c})["user_id"];
    std::string learner =
        admin(data, {"add-learner", "--name", "L", "--birth-year", "2011", "--school", c,
                     "--municipality", m, "--grade", "8", "--education", "general"})["learner_id"];
    admin(data, {"assign", "--learner", learner, "--mentor", mentor});
    auto cert = mstest::make_self_signed_cert(dir.path().string());
    mstest::ServerProcess server(data, {"--tls-cert", cert.cert_file, "--tls-key", cert.key_file});
    REQUIRE(server.url().rfind("https://", 0) == 0);

    // Without the certificate among its trust anchors the tablet refuses the connection.
    mstest::Tablet stranger(dir.file("stranger.db"), server.url());
    auto refused = client::enroll(stranger.transport(), "AAAA-BBBB-CCCC-DDDD",
                                  wire::DeviceKeys::generate(), Uuid::random(), "stranger");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().message().find("TLS handshake") != std::string::npos);

    client::TransportOptions trusting;
    trusting.ca_file = cert.cert_file;
    mstest::Tablet tablet(dir.file("tablet.db"), server.url(), trusting);
    tablet.enroll(admin(data, {"enroll-code", "--user", mentor})["code"], "TLS tablet");
    auto p = tablet.sync_ok();
    CHECK(p.applied == 2);  // the learner and the case, over TLS
    CHECK(server.stop() == 0);
}
