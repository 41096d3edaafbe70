#include "client.h"

#include <utility>  // before Boost: asio/awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

namespace loadgen {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

Reply send(const Target& target, const std::string& method, const std::string& path, const std::string& body,
           const std::function<bool(const std::string&)>& on_chunk) {
  Reply reply;
  try {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(300));  // the whole request, streaming included
    stream.connect(resolver.resolve(target.host, target.port));
    http::request<http::string_body> req{method == "GET" ? http::verb::get : http::verb::post, path, 11};
    req.set(http::field::host, target.host);
    req.set(http::field::content_type, "application/json");
    if (!target.api_key.empty()) req.set(http::field::authorization, "Bearer " + target.api_key);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read_header(stream, buffer, parser);
    reply.status = static_cast<int>(parser.get().result_int());
    if (on_chunk) {
      size_t seen = 0;
      while (!parser.is_done()) {
        beast::error_code ec;
        http::read_some(stream, buffer, parser, ec);
        if (ec) break;
        const std::string& b = parser.get().body();
        if (b.size() > seen) {
          std::string piece = b.substr(seen);
          seen = b.size();
          if (!on_chunk(piece)) {
            stream.socket().shutdown(tcp::socket::shutdown_both, ec);
            stream.close();
            reply.status = -1;
            return reply;
          }
        }
      }
      reply.body = parser.get().body();
    } else {
      http::read(stream, buffer, parser);
      reply.body = parser.get().body();
    }
  } catch (const std::exception& e) {
    reply.status = 0;
    reply.body = e.what();
  }
  return reply;
}

bool is_loopback(const std::string& host) { return host == "127.0.0.1" || host == "::1" || host == "localhost"; }

}  // namespace loadgen
