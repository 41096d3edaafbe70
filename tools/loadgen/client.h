// The loopback HTTP client both llama-loadgen modes share: one request per connection.
#pragma once

#include <functional>
#include <string>

namespace loadgen {

struct Target {
  std::string host = "127.0.0.1";
  std::string port;
  std::string api_key;
};

struct Reply {
  int status = 0;     // HTTP status; 0: transport error (body says why); -1: we hung up on purpose
  std::string body;
};

// One request on its own connection. With `on_chunk`, the response body is read piece by piece
// as it arrives and each new piece is handed over; returning false hangs up (status -1).
Reply send(const Target& target, const std::string& method, const std::string& path, const std::string& body,
           const std::function<bool(const std::string&)>& on_chunk = nullptr);

bool is_loopback(const std::string& host);

}  // namespace loadgen
