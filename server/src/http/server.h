// HttpServer: the sync server's HTTP front end, as main.cpp and the tests use it.
//
// Threads: one io_context run by `config.threads` threads. Each connection lives on a strand
// of its own (http/session.h); the listener and the shutdown sequence have strands too.
// The io threads only read and write: every service call runs on a pool (http/blocking_pool.h),
// sign-ins on the sign-in pool (config.signin_threads), every other request on the store pool
// (config.store_threads), and the connection's coroutine resumes on its strand afterwards.
//
// Shutdown (SIGTERM/SIGINT when config.handle_signals, or request_stop()): stop accepting;
// close idle connections; let requests already being read or handled finish, each answered
// with "Connection: close"; wait up to config.shutdown_timeout for the connections to end;
// then close whatever is left. The io threads then run out of work and wait() returns. A
// second signal closes everything at once. io_context::stop() is used only as a last resort
// when connections ignore even a closed socket for one more second.
// wait() joins the pools after the io threads: a service call stuck on a pool thread (a disk
// that never answers) still blocks wait(), and io_context::stop() cannot free it.
//
// This header is free of Asio and Beast on purpose: main.cpp and the tests include it cheaply.
// Thread-safety: request_stop() may be called from any thread, also concurrently with wait().
#pragma once

#include <cstdint>
#include <memory>

#include "core/service.h"
#include "http/config.h"
#include "http/log.h"
#include "mentorsync/status.h"

namespace mentorsync::server::http {

class CoordApi;

class HttpServer {
  public:
    // `service` (and `coord`, which serves /api/ when given) must outlive the server.
    HttpServer(ServerConfig config, SyncService& service, Logger logger = Logger(),
               const CoordApi* coord = nullptr);
    // Stops (gracefully, bounded by shutdown_timeout) and joins the io threads if needed.
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds, listens, logs {"event":"listening", "port": ...} and starts the io threads.
    // Errors: invalid_argument (address, TLS flags), io (bind, TLS files). Call once.
    Status start();
    // The bound port, valid after a successful start().
    std::uint16_t port() const noexcept;
    // Begins the graceful shutdown described above; returns at once. Idempotent.
    void request_stop();
    // Blocks until the io threads have finished (after a shutdown). Idempotent.
    void wait();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace mentorsync::server::http
