// Routes: method + path pattern -> handler. "{name}" matches one path segment, "{name:path}" the
// rest of the path (model ids contain '/').
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "server/http_types.h"

namespace llm::server {

using Handler = std::function<HandlerResult(HttpRequest&)>;

struct Route {
  std::string method;
  std::string pattern;
  std::string api;       // "openai", "llama_stack", "ollama", "operations"
  bool is_public = false;  // served without the API key (health)
  Handler handler;
};

class Router {
 public:
  void add(Route route);
  const std::vector<Route>& routes() const { return routes_; }

  enum class Match { kFound, kNoPath, kWrongMethod };
  // On kFound, sets request.route and request.path_params.
  Match match(HttpRequest& request, const Route** route) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace llm::server
