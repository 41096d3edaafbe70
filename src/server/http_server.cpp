#include "server/http_server.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <optional>
#include <thread>
#include <unordered_map>

#include "util/log.h"
#include "util/str.h"

namespace llm::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using net::use_awaitable;
using Clock = std::chrono::steady_clock;

namespace {

// One connection. Touched only on its strand, except `id`.
struct Session {
  Session(uint64_t id, tcp::socket socket) : id(id), stream(std::move(socket)), wake(stream.get_executor()) {}
  uint64_t id;
  beast::tcp_stream stream;
  net::steady_timer wake;  // "something happened" for the coroutine waiting on a channel
  bool idle = true;        // waiting for the next request's header
  std::shared_ptr<ResponseChannel> channel;
};

// The watcher: a read kept pending on the socket while a response is produced, so that a client
// that disconnects is noticed (and its generation cancelled) at once.
struct Watch {
  std::array<char, 4096> chunk{};
  std::string pending;  // bytes the client sent meanwhile (a pipelined request)
  bool active = false, stopping = false, gone = false;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes a path; false for a bad escape or a NUL byte.
bool decode_path(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return false;
    out += c;
  }
  return true;
}

std::string error_json(const std::string& message, const std::string& type) {
  std::string escaped;
  for (char c : message) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return str("{\"error\":{\"message\":\"", escaped, "\",\"type\":\"", type, "\"}}");
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  Dispatch dispatch;
  OnComplete on_complete;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::atomic<bool> draining{false};
  std::atomic<int64_t> active{0};
  std::atomic<uint64_t> next_session{1};
  std::mutex sessions_mutex;
  std::unordered_map<uint64_t, std::weak_ptr<Session>> sessions;
  uint16_t bound_port = 0;

  net::awaitable<void> accept_loop();
  net::awaitable<void> run_session(std::shared_ptr<Session> s);
  net::awaitable<int> write_full(Session& s, const HttpResponse& response, unsigned version, bool keep_alive,
                                 bool head, beast::error_code& ec);
  net::awaitable<int> serve_channel(std::shared_ptr<Session> s, std::shared_ptr<ResponseChannel> channel,
                                    beast::flat_buffer& buffer, unsigned version, bool& keep_alive, bool head);
  void start_watch(const std::shared_ptr<Session>& s, const std::shared_ptr<Watch>& watch);
  net::awaitable<bool> write_chunk(Session& s, const std::string& data) {
    beast::error_code ec;
    s.stream.expires_after(options.write_timeout);
    co_await net::async_write(s.stream, http::make_chunk(net::buffer(data)), net::redirect_error(use_awaitable, ec));
    co_return !ec;
  }

  template <class F>
  void for_each_session(F f) {
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(sessions_mutex);
      for (auto& [id, weak] : sessions) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) net::post(s->stream.get_executor(), [s, f] { f(*s); });
  }
};

net::awaitable<void> HttpServer::Impl::accept_loop() {
  for (;;) {
    beast::error_code ec;
    net::any_io_executor strand = net::make_strand(ioc);
    tcp::socket socket = co_await acceptor.async_accept(strand, net::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
      log_warning("accept failed: ", ec.message());
      net::steady_timer pause(ioc, std::chrono::milliseconds(50));  // e.g. out of file descriptors
      co_await pause.async_wait(net::redirect_error(use_awaitable, ec));
      continue;
    }
    if (draining || static_cast<size_t>(active.load()) >= options.max_connections) {
      socket.close(ec);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto session = std::make_shared<Session>(next_session++, std::move(socket));
    {
      std::lock_guard lock(sessions_mutex);
      sessions[session->id] = session;
    }
    ++active;
    net::co_spawn(strand, run_session(session), net::detached);
  }
}

net::awaitable<int> HttpServer::Impl::write_full(Session& s, const HttpResponse& response, unsigned version,
                                                 bool keep_alive, bool head, beast::error_code& ec) {
  s.stream.expires_after(options.write_timeout);
  if (head) {
    http::response<http::empty_body> res{static_cast<http::status>(response.status), version};
    res.set(http::field::server, "llama-stack-cpp");
    res.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res.set(name, value);
    res.content_length(response.body.size());
    res.keep_alive(keep_alive);
    co_await http::async_write(s.stream, res, net::redirect_error(use_awaitable, ec));
  } else {
    http::response<http::string_body> res{static_cast<http::status>(response.status), version};
    res.set(http::field::server, "llama-stack-cpp");
    res.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res.set(name, value);
    res.body() = response.body;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    co_await http::async_write(s.stream, res, net::redirect_error(use_awaitable, ec));
  }
  co_return response.status;
}

void HttpServer::Impl::start_watch(const std::shared_ptr<Session>& s, const std::shared_ptr<Watch>& watch) {
  watch->active = true;
  s->stream.socket().async_read_some(
      net::buffer(watch->chunk),
      net::bind_executor(s->stream.get_executor(), [this, s, watch](beast::error_code ec, size_t n) {
        if (ec) {
          watch->active = false;
          if (!watch->stopping) {
            watch->gone = true;
            if (s->channel) s->channel->cancel();
          }
          s->wake.cancel();
          return;
        }
        watch->pending.append(watch->chunk.data(), n);
        if (!watch->stopping && watch->pending.size() < options.max_header_bytes) {
          start_watch(s, watch);
        } else {
          watch->active = false;
          s->wake.cancel();
        }
      }));
}

net::awaitable<int> HttpServer::Impl::serve_channel(std::shared_ptr<Session> s, std::shared_ptr<ResponseChannel> channel,
                                                    beast::flat_buffer& buffer, unsigned version, bool& keep_alive,
                                                    bool head) {
  s->channel = channel;
  std::weak_ptr<Session> weak = s;
  net::any_io_executor executor = s->stream.get_executor();
  channel->set_waker([weak, executor] {
    net::post(executor, [weak] {
      if (auto session = weak.lock()) session->wake.cancel();
    });
  });
  auto watch = std::make_shared<Watch>();
  start_watch(s, watch);

  int status = 0;
  bool done = false, failed = false;
  beast::error_code ec;
  std::optional<http::response<http::empty_body>> stream_head;
  std::optional<http::response_serializer<http::empty_body>> serializer;
  while (!done && !failed) {
    std::deque<ResponseChannel::Item> items = channel->take();
    if (items.empty()) {
      if (watch->gone || channel->cancelled()) {
        failed = true;
        break;
      }
      s->wake.expires_at(net::steady_timer::time_point::max());
      co_await s->wake.async_wait(net::redirect_error(use_awaitable, ec));
      continue;
    }
    std::string out;  // consecutive chunks go out as one
    for (ResponseChannel::Item& item : items) {
      if (failed || done) break;
      switch (item.kind) {
        case ResponseChannel::Item::Kind::kFull:
          for (const auto& header : channel->extra_headers()) item.response.headers.push_back(header);
          status = co_await write_full(*s, item.response, version, keep_alive, head, ec);
          if (ec) failed = true;
          done = true;
          break;
        case ResponseChannel::Item::Kind::kHead:
          stream_head.emplace(static_cast<http::status>(item.response.status), version);
          stream_head->set(http::field::server, "llama-stack-cpp");
          stream_head->set(http::field::content_type, item.response.content_type);
          stream_head->set(http::field::cache_control, "no-cache");
          for (const auto& [name, value] : item.response.headers) stream_head->set(name, value);
          for (const auto& [name, value] : channel->extra_headers()) stream_head->set(name, value);
          stream_head->keep_alive(keep_alive);
          stream_head->chunked(true);
          serializer.emplace(*stream_head);
          s->stream.expires_after(options.write_timeout);
          co_await http::async_write_header(s->stream, *serializer, net::redirect_error(use_awaitable, ec));
          status = item.response.status;
          if (ec) failed = true;
          break;
        case ResponseChannel::Item::Kind::kChunk:
          out += item.data;
          break;
        case ResponseChannel::Item::Kind::kEnd:
          if (!out.empty()) {
            failed = !co_await write_chunk(*s, out);
            out.clear();
          }
          if (!failed) {
            s->stream.expires_after(options.write_timeout);
            co_await net::async_write(s->stream, http::make_chunk_last(), net::redirect_error(use_awaitable, ec));
            if (ec) failed = true;
          }
          done = true;
          break;
      }
    }
    if (!out.empty() && !failed && !done) failed = !co_await write_chunk(*s, out);
  }
  if (failed) channel->cancel();
  // Stop the watcher; keep whatever the client already sent (the next pipelined request).
  watch->stopping = true;
  if (watch->active) {
    beast::error_code ignored;
    s->stream.socket().cancel(ignored);
    while (watch->active) {
      s->wake.expires_at(net::steady_timer::time_point::max());
      co_await s->wake.async_wait(net::redirect_error(use_awaitable, ec));
    }
  }
  if (!watch->pending.empty()) {
    auto space = buffer.prepare(watch->pending.size());
    net::buffer_copy(space, net::buffer(watch->pending));
    buffer.commit(watch->pending.size());
  }
  channel->set_waker(nullptr);
  s->channel.reset();
  if (failed || !done) {
    keep_alive = false;
    co_return 0;  // the client went away (or stopped reading) before the response was complete
  }
  if (watch->gone) keep_alive = false;
  co_return status;
}

net::awaitable<void> HttpServer::Impl::run_session(std::shared_ptr<Session> s) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  std::string remote;
  {
    auto endpoint = s->stream.socket().remote_endpoint(ec);
    if (!ec) remote = str(endpoint.address().to_string(), ":", endpoint.port());
  }
  try {
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(options.max_header_bytes));
      parser.body_limit(options.max_body_bytes);
      s->idle = true;
      if (draining) break;
      s->stream.expires_after(options.header_timeout);
      co_await http::async_read_header(s->stream, buffer, parser, net::redirect_error(use_awaitable, ec));
      s->idle = false;
      auto reject = [&](int status, const std::string& message) -> net::awaitable<void> {
        beast::error_code ignored;
        HttpResponse response{.status = status, .body = error_json(message, "invalid_request_error")};
        co_await write_full(*s, response, 11, false, false, ignored);
      };
      if (ec) {
        if (ec == http::error::header_limit) {
          co_await reject(431, str("request headers exceed ", options.max_header_bytes, " bytes"));
        } else if (ec == http::error::body_limit) {
          co_await reject(413, str("request body exceeds the limit of ", options.max_body_bytes, " bytes"));
        } else if (ec != http::error::end_of_stream && ec != beast::error::timeout && ec != net::error::eof &&
                   ec != net::error::operation_aborted && ec != net::error::connection_reset && ec != net::error::bad_descriptor) {
          co_await reject(400, str("malformed HTTP request: ", ec.message()));
        }
        break;
      }
      auto& message = parser.get();
      if (parser.content_length() && *parser.content_length() > options.max_body_bytes) {
        co_await reject(413, str("request body of ", *parser.content_length(), " bytes exceeds the limit of ",
                                 options.max_body_bytes, " bytes"));
        break;
      }
      if (beast::iequals(message[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, message.version()};
        s->stream.expires_after(options.write_timeout);
        co_await http::async_write(s->stream, cont, net::redirect_error(use_awaitable, ec));
        if (ec) break;
      }
      if (!parser.is_done()) {
        s->stream.expires_after(options.body_timeout);
        co_await http::async_read(s->stream, buffer, parser, net::redirect_error(use_awaitable, ec));
        if (ec) {
          if (ec == http::error::body_limit) {
            co_await reject(413, str("request body exceeds the limit of ", options.max_body_bytes, " bytes"));
          } else if (ec != beast::error::timeout && ec != http::error::end_of_stream && ec != net::error::eof) {
            co_await reject(400, str("malformed HTTP request body: ", ec.message()));
          }
          break;
        }
      }
      auto started = Clock::now();
      HttpRequest request;
      bool head = message.method() == http::verb::head;
      request.method = head ? "GET" : std::string(message.method_string());
      std::string_view target(message.target().data(), message.target().size());
      size_t q = target.find('?');
      if (!decode_path(target.substr(0, q), request.path) || request.path.empty() || request.path[0] != '/') {
        co_await reject(400, "malformed request path");
        break;
      }
      if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
      for (const auto& field : message) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        request.headers[name] = std::string(field.value());
      }
      request.body = std::move(message.body());
      request.remote = remote;
      bool keep_alive = message.keep_alive() && !draining;
      unsigned version = message.version();

      int status = 0;
      if (draining) {
        HttpResponse busy{.status = 503, .body = error_json("the server is shutting down", "unavailable_error")};
        status = co_await write_full(*s, busy, version, false, head, ec);
        keep_alive = false;
      } else {
        HandlerResult result;
        try {
          result = dispatch(request);
        } catch (const std::exception& e) {
          log_warning(request.request_id, " handler failed: ", e.what());
          result = HttpResponse{.status = 500, .body = error_json("internal error", "server_error")};
        }
        if (auto* full = std::get_if<HttpResponse>(&result)) {
          status = co_await write_full(*s, *full, version, keep_alive, head, ec);
          if (ec) status = 0;
        } else {
          status = co_await serve_channel(s, std::get<std::shared_ptr<ResponseChannel>>(result), buffer, version,
                                          keep_alive, head);
        }
      }
      if (on_complete) on_complete(request, status, std::chrono::duration<double>(Clock::now() - started).count());
      if (ec || !keep_alive || status == 0) break;
    }
  } catch (const std::exception& e) {
    log_warning("connection ", remote, " failed: ", e.what());
  }
  beast::error_code ignored;
  s->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  s->stream.close();
  {
    std::lock_guard lock(sessions_mutex);
    sessions.erase(s->id);
  }
  --active;
}

HttpServer::HttpServer(HttpServerOptions options, Dispatch dispatch, OnComplete on_complete)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->dispatch = std::move(dispatch);
  impl_->on_complete = std::move(on_complete);
}

HttpServer::~HttpServer() { shutdown(std::chrono::milliseconds(0)); }

Status HttpServer::start() {
  beast::error_code ec;
  auto address = net::ip::make_address(impl_->options.host, ec);
  if (ec) return make_error(ErrorCode::kInvalidArgument, str("--host ", impl_->options.host, ": not an IP address"));
  tcp::endpoint endpoint(address, impl_->options.port);
  tcp::acceptor& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable,
                      str("cannot listen on ", impl_->options.host, ":", impl_->options.port, ": ", ec.message()));
  }
  impl_->bound_port = acceptor.local_endpoint().port();
  net::co_spawn(impl_->ioc, impl_->accept_loop(), net::detached);
  for (int i = 0; i < std::max(1, impl_->options.io_threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
  return {};
}

uint16_t HttpServer::port() const { return impl_->bound_port; }
bool HttpServer::draining() const { return impl_->draining; }
int64_t HttpServer::active_connections() const { return impl_->active; }

void HttpServer::shutdown(std::chrono::milliseconds drain) {
  Impl& impl = *impl_;
  if (impl.threads.empty()) return;
  impl.draining = true;
  net::post(impl.ioc, [&impl] {
    beast::error_code ignored;
    impl.acceptor.close(ignored);
  });
  // Idle connections (between requests) close now; the others after their response.
  impl.for_each_session([](Session& s) {
    if (s.idle) {
      beast::error_code ignored;
      s.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      s.stream.socket().close(ignored);
    }
  });
  auto wait_until = [&](Clock::time_point deadline) {
    while (impl.active > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  };
  wait_until(Clock::now() + drain);
  if (impl.active > 0) {
    log_info("shutdown: cancelling ", impl.active.load(), " connection(s) still busy after the drain deadline");
    impl.for_each_session([](Session& s) {
      if (s.channel) s.channel->cancel();
      if (s.idle) {
        beast::error_code ignored;
        s.stream.socket().close(ignored);
      }
    });
    wait_until(Clock::now() + std::chrono::seconds(5));
  }
  impl.ioc.stop();
  for (std::thread& t : impl.threads) t.join();
  impl.threads.clear();
}

void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int wait_for_termination_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

}  // namespace llm::server
