// The HTTP/1.1 transport on Boost.Beast + Asio: a few I/O threads serve every connection
// asynchronously (C++20 coroutines, no thread per connection). Caps on header and body size,
// timeouts against slow clients, chunked streaming from ResponseChannels, client-disconnect
// detection while a response is produced, and a graceful drain for SIGTERM.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/http_types.h"
#include "util/result.h"

namespace llm::server {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8321;  // 0: any free port (see HttpServer::port())
  int io_threads = 2;
  size_t max_header_bytes = size_t{64} << 10;
  size_t max_body_bytes = size_t{8} << 20;
  size_t max_connections = 4096;
  std::chrono::milliseconds header_timeout{15000};  // idle keep-alive and slow headers (slowloris)
  std::chrono::milliseconds body_timeout{60000};
  std::chrono::milliseconds write_timeout{60000};   // a client that stops reading
};

// Called on an I/O thread for every complete request; must not block (generations answer
// through a ResponseChannel).
using Dispatch = std::function<HandlerResult(HttpRequest&)>;
// Called when a response is done (status 0: the client went away first).
using OnComplete = std::function<void(const HttpRequest&, int status, double seconds)>;

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, Dispatch dispatch, OnComplete on_complete);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (kUnavailable if the address is taken); the I/O threads start serving.
  Status start();
  uint16_t port() const;

  // Graceful stop: no new connections or requests (503), idle connections closed; requests in
  // flight get `drain` to finish, then their channels are cancelled; returns when every
  // connection is closed (or `drain` + 5 s passed) and the I/O threads have joined.
  void shutdown(std::chrono::milliseconds drain);
  bool draining() const;

  int64_t active_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SIGINT/SIGTERM handling without async-signal handlers: block both in the calling thread before
// any thread starts (threads inherit the mask), then wait for one synchronously.
void block_termination_signals();
int wait_for_termination_signal();  // the signal number

}  // namespace llm::server
