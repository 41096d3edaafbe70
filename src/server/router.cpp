#include "server/router.h"

namespace llm::server {
namespace {

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

bool match_pattern(const std::string& pattern, const std::string& path, std::map<std::string, std::string>& params) {
  std::vector<std::string_view> want = split(pattern), got = split(path);
  params.clear();
  for (size_t i = 0; i < want.size(); ++i) {
    std::string_view w = want[i];
    if (w.size() > 2 && w.front() == '{' && w.back() == '}') {
      std::string_view name = w.substr(1, w.size() - 2);
      if (name.ends_with(":path")) {
        if (i >= got.size()) return false;
        size_t offset = static_cast<size_t>(got[i].data() - path.data());
        std::string rest = path.substr(offset);
        if (rest.empty()) return false;
        params[std::string(name.substr(0, name.size() - 5))] = rest;
        return true;
      }
      if (i >= got.size() || got[i].empty()) return false;
      params[std::string(name)] = std::string(got[i]);
      continue;
    }
    if (i >= got.size() || got[i] != w) return false;
  }
  return want.size() == got.size();
}

}  // namespace

void Router::add(Route route) { routes_.push_back(std::move(route)); }

Router::Match Router::match(HttpRequest& request, const Route** found) const {
  bool path_known = false;
  std::map<std::string, std::string> params;
  // A trailing slash is tolerated ("/v1/models/" == "/v1/models").
  std::string path = request.path.size() > 1 && request.path.back() == '/' ? request.path.substr(0, request.path.size() - 1)
                                                                            : request.path;
  for (const Route& route : routes_) {
    if (!match_pattern(route.pattern, path, params)) continue;
    path_known = true;
    if (route.method != request.method) continue;
    request.route = route.pattern;
    request.path_params = std::move(params);
    *found = &route;
    return Match::kFound;
  }
  return path_known ? Match::kWrongMethod : Match::kNoPath;
}

}  // namespace llm::server
