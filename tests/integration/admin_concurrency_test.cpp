// Admin commands beside a running, busy server (docs/server.md "One owner"): the real server
// binary, two tablets syncing through the SDK transport, a coordinator reading the API, and
// admin commands — writes and views — run in loops by two separate processes meanwhile. Nothing may
// answer 500, the merged state must never fail to apply, and every write must be seen.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "http_client.h"
#include "server_process.h"
#include "test_support.h"

using mstest::admin;
using nlohmann::json;

namespace {

// Starts `sh -c script` with `env` added to the environment, stderr to `err_file`; returns the
// child's pid. Only async-signal-safe calls after fork.
pid_t spawn_shell(const std::string& script, const std::map<std::string, std::string>& env,
                  const std::string& err_file) {
    std::vector<std::string> vars;
    for (char** e = environ; *e != nullptr; ++e)
        vars.emplace_back(*e);
    for (const auto& [k, v] : env)
        vars.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& v : vars)
        envp.push_back(v.data());
    envp.push_back(nullptr);
    std::string shell = "/bin/sh", dash_c = "-c", body = script;
    char* argv[] = {shell.data(), dash_c.data(), body.data(), nullptr};
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) dup2(fd, 2);
        execve(argv[0], argv, envp.data());
        _exit(127);
    }
    return pid;
}

// The files of the data directory the process holds open although they were deleted (SQLite's
// WAL or shared memory removed under it): Linux's /proc view of its descriptors.
std::vector<std::string> deleted_files_held(int pid) {
    std::vector<std::string> out;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        std::error_code ec;
        const std::string target = std::filesystem::read_symlink(e.path(), ec).string();
        if (!ec && target.find("(deleted)") != std::string::npos) out.push_back(target);
    }
    return out;
}

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE(
    "admin commands run in a loop beside a syncing, read server: no 500, no failed state "
    "apply, every write seen",
    "[integration][admin]") {
    mstest::TempDir dir;
    const std::string data = dir.file("data");
    admin(data, {"init"});
    const std::string muni =
        admin(data, {"add-municipality", "--name", "Testa novads"})["municipality_id"];
    const std::string centre = admin(data, {"add-institution", "--name", "Centrs", "--municipality",
                                            muni, "--kind", "youth_centre"})["institution_id"];
    const std::string m1 = admin(
        data, {"add-user", "--role", "mentor", "--name", "M1", "--institution", centre})["user_id"];
    const std::string m2 = admin(
        data, {"add-user", "--role", "mentor", "--name", "M2", "--institution", centre})["user_id"];
    auto add_learner = [&](const std::string& name) -> std::string {
        return admin(
            data, {"add-learner", "--name", name, "--birth-year", "2011", "--school", centre,
                   "--municipality", muni, "--grade", "8", "--education", "general"})["learner_id"];
    };
    const std::string l1 = add_learner("Pirmais"), l2 = add_learner("Otrais");
    admin(data, {"assign", "--learner", l1, "--mentor", m1});
    admin(data, {"assign", "--learner", l2, "--mentor", m2});
    ::setenv("MENTORSYNC_COORD_PASSWORD", "administratora parole", 1);
    admin(data, {"coord-add-account", "--username", "admin", "--role", "admin"});
    ::unsetenv("MENTORSYNC_COORD_PASSWORD");
    const std::string token =
        admin(data, {"coord-issue-token", "--username", "admin", "--name", "loop"})["token"];

    // The tablets sync in a tight loop, far above a real tablet's rate: the per-device rate
    // limit (issue 10's hardening, tested in flood_test) is off here.
    mstest::ServerProcess server(data, {"--device-rate", "0"});
    mstest::Tablet t1(dir.file("t1.db"), server.url()), t2(dir.file("t2.db"), server.url());
    t1.enroll(admin(data, {"enroll-code", "--user", m1})["code"], "t1");
    t2.enroll(admin(data, {"enroll-code", "--user", m1})["code"], "t2");
    t1.sync_ok();
    t2.sync_ok();

    // The loop: writes (new learners, the second learner's case moved back and forth between the
    // mentors, enrollment codes) and views (a learner's records, every conflict, devices), each a
    // process of its own, one after the other as an administrator's script would run them.
    const std::string script = R"(set -e
i=0
while [ $i -lt 15 ]; do
  "$B" admin add-learner --data-dir "$D" --name "Cilpa $i" --birth-year 2012 --school "$C" \
      --municipality "$MU" --grade 7 --education general >/dev/null
  if [ $((i % 2)) -eq 0 ]; then WHO="$M1"; else WHO="$M2"; fi
  "$B" admin assign --data-dir "$D" --learner "$L2" --mentor "$WHO" >/dev/null
  "$B" admin show-learner --data-dir "$D" --learner "$L1" >/dev/null
  "$B" admin conflicts --data-dir "$D" >/dev/null
  "$B" admin list-devices --data-dir "$D" >/dev/null
  "$B" admin enroll-code --data-dir "$D" --user "$M1" >/dev/null
  i=$((i + 1))
done
)";
    const std::map<std::string, std::string> env = {{"B", MENTORSYNC_SERVER_BINARY},
                                                    {"D", data},
                                                    {"C", centre},
                                                    {"MU", muni},
                                                    {"M1", m1},
                                                    {"M2", m2},
                                                    {"L1", l1},
                                                    {"L2", l2}};
    const std::string err_file = dir.file("admin-loop.err");
    const pid_t loop = spawn_shell(script, env, err_file);
    // A second administrator at the same time: views and writes of its own, so that two admin
    // commands often run at once.
    const std::string other_script = R"(set -e
i=0
while [ $i -lt 25 ]; do
  "$B" admin conflicts --data-dir "$D" --learner "$L1" >/dev/null
  "$B" admin add-user --data-dir "$D" --role mentor --name "Otra $i" --institution "$C" >/dev/null
  "$B" admin show-learner --data-dir "$D" --learner "$L2" >/dev/null
  i=$((i + 1))
done
)";
    const std::string other_err = dir.file("admin-other.err");
    const pid_t other = spawn_shell(other_script, env, other_err);

    mstest::HttpClient coord(static_cast<std::uint16_t>(server.port()));
    const mstest::HttpClient::Headers bearer = {{"Authorization", "Bearer " + token}};
    std::map<int, int> coord_statuses;
    int rounds = 0, failed_syncs = 0, loop_status = -1;
    for (;;) {
        if (waitpid(loop, &loop_status, WNOHANG) == loop) break;
        ++rounds;
        REQUIRE(t1.replica()
                    .create("contacts", {{"learner_id", l1},
                                         {"mentor_id", m1},
                                         {"starts_at", "2026-10-05T10:00"},
                                         {"duration_min", 30 + rounds % 60},
                                         {"place", "youth_centre"},
                                         {"form", "individual"}})
                    .ok());
        for (mstest::Tablet* t : {&t1, &t2})
            if (!t->sync().ok()) ++failed_syncs;
        for (const std::string& target :
             {"/api/v1/learners/" + l1, std::string("/api/v1/conflicts"),
              std::string("/api/v1/records/contacts"), std::string("/api/v1/devices")})
            ++coord_statuses[coord.request("GET", target, "", "", bearer).status];
    }
    int other_status = -1;
    REQUIRE(waitpid(other, &other_status, 0) == other);
    INFO("admin loop stderr: " << read_all(err_file));
    INFO("second admin loop stderr: " << read_all(other_err));
    REQUIRE(WIFEXITED(loop_status));
    REQUIRE(WEXITSTATUS(loop_status) == 0);
    REQUIRE(WIFEXITED(other_status));
    REQUIRE(WEXITSTATUS(other_status) == 0);
    INFO("rounds " << rounds << ", failed syncs " << failed_syncs);
    CHECK(rounds > 0);
    for (const auto& [status, n] : coord_statuses) {
        INFO("coordinator answers " << status << ": " << n);
        CHECK(status == 200);
    }

    // The server still works on the files in the directory: none was deleted under it.
    CHECK(deleted_files_held(server.pid()).empty());

    // The views agree with the tablets: every contact written, once.
    t1.sync_ok();
    mentorsync::Query q;
    q.collection = "contacts";
    q.ref = *mentorsync::Uuid::parse(l1);
    const std::size_t contacts = t1.replica().query(q)->size();
    CHECK(contacts == static_cast<std::size_t>(rounds));
    auto [shown_rc, shown] = mstest::admin_raw(data, {"show-learner", "--learner", l1});
    REQUIRE(shown_rc == 0);
    std::size_t shown_contacts = 0;
    for (std::size_t at = 0;
         (at = shown.find("\"collection\":\"contacts\"", at)) != std::string::npos; ++at)
        ++shown_contacts;
    CHECK(shown_contacts == contacts);
    auto file = coord.request("GET", "/api/v1/learners/" + l1, "", "", bearer);
    REQUIRE(file.status == 200);
    CHECK(json::parse(file.body).dump().find("contacts") != std::string::npos);

    // An admin write is what the coordinator sees on the very next request.
    const std::string fresh = add_learner("Jaunākais");
    auto seen = coord.request("GET", "/api/v1/learners/" + fresh, "", "", bearer);
    INFO(seen.body);
    REQUIRE(seen.status == 200);
    CHECK(seen.body.find("Jaunākais") != std::string::npos);

    // Both tablets end with the same records; the loop's last move (i = 14) gave learner 2 to
    // mentor 1, whose tablets hold it again after fifteen moves back and forth.
    t1.sync_ok();
    t2.sync_ok();
    const auto r1 = mstest::all_records(t1.replica()), r2 = mstest::all_records(t2.replica());
    REQUIRE(r1.size() == r2.size());
    for (std::size_t i = 0; i < r1.size(); ++i) {
        CHECK(r1[i].id == r2[i].id);
        CHECK(r1[i].fields == r2[i].fields);
    }
    CHECK(t1.replica().get("learners", *mentorsync::Uuid::parse(l2)).ok());

    CHECK(server.stop() == 0);
    int server_errors = 0, apply_failures = 0;
    for (const std::string& line : server.log_lines()) {
        if (line.find("state_apply_failed") != std::string::npos ||
            line.find("malformed") != std::string::npos)
            ++apply_failures;
        auto j = json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("event", "") == "request" && j.value("status", 0) >= 500)
            ++server_errors;
    }
    CHECK(apply_failures == 0);
    CHECK(server_errors == 0);
}
