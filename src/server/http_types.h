// What handlers see and give back, independent of the HTTP library: a parsed request, a whole
// response, or a ResponseChannel that a generation fills from another thread (streaming or not).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

namespace llm::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ... (HEAD is routed as GET)
  std::string path;    // without the query
  std::string query;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote;
  std::string request_id;
  std::string route;  // the matched pattern ("/v1/models/{model_id:path}"), for logs and metrics
  std::map<std::string, std::string> path_params;

  const std::string* header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? nullptr : &it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// A response produced later, possibly piece by piece, by another thread. Producer side: respond()
// once, or begin_stream(), write()* and end(). Transport side: take() and the waker. Cancellation
// runs the producer's cancel hook once, at most (client gone, slow reader, shutdown deadline).
class ResponseChannel {
 public:
  struct Item {
    enum class Kind { kFull, kHead, kChunk, kEnd } kind = Kind::kChunk;
    HttpResponse response;  // kFull; kHead uses status and content_type
    std::string data;       // kChunk
  };

  explicit ResponseChannel(size_t max_pending_bytes = size_t{8} << 20) : max_pending_bytes_(max_pending_bytes) {}

  // --- producer (any thread)
  void respond(HttpResponse response);
  void begin_stream(int status, std::string content_type);
  void write(std::string chunk);
  void end();
  // The hook that stops the producer; runs at once if the channel is already cancelled.
  void set_cancel_hook(std::function<void()> hook);

  // Headers for whatever response comes (request id, CORS); set before the channel is returned.
  void add_header(std::string name, std::string value) { extra_headers_.emplace_back(std::move(name), std::move(value)); }
  const std::vector<std::pair<std::string, std::string>>& extra_headers() const { return extra_headers_; }

  // --- transport
  void set_waker(std::function<void()> waker);  // called (from any thread) when items arrive
  std::deque<Item> take();
  void cancel();  // the client is gone or too slow: stop producing
  bool cancelled() const;
  bool finished() const;  // respond() or end() happened

 private:
  void push(Item item, size_t bytes);

  const size_t max_pending_bytes_;
  mutable std::mutex mutex_;
  std::deque<Item> items_;
  size_t pending_bytes_ = 0;
  std::function<void()> waker_;
  std::function<void()> cancel_hook_;
  bool cancelled_ = false;
  bool finished_ = false;
  std::vector<std::pair<std::string, std::string>> extra_headers_;
};

using HandlerResult = std::variant<HttpResponse, std::shared_ptr<ResponseChannel>>;

}  // namespace llm::server
