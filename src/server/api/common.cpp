#include "server/api/common.h"

#include <chrono>
#include <cmath>
#include <mutex>
#include <random>

#include "util/str.h"

namespace llm::server {

void throw_bad(std::string message, std::string param, std::string code) {
  throw ApiError{.status = 400, .message = std::move(message), .param = std::move(param), .code = std::move(code)};
}

ApiError api_error_from(const Error& error, bool draining) {
  ApiError e{.message = error.message};
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      e.status = 400;
      if (error.message.find("context length") != std::string::npos ||
          error.message.find("does not fit the KV cache") != std::string::npos) {
        e.code = "context_length_exceeded";
        e.param = "messages";
      }
      return e;
    case ErrorCode::kUnsupported: e.status = 400; return e;
    case ErrorCode::kNotFound:
      e.status = 404;
      e.code = "model_not_found";
      e.type = "not_found_error";
      return e;
    case ErrorCode::kUnavailable:
      e.status = draining ? 503 : 429;
      e.type = draining ? "unavailable_error" : "rate_limit_error";
      return e;
    case ErrorCode::kIo:
    case ErrorCode::kInvalidFormat:
    case ErrorCode::kOutOfMemory:
    case ErrorCode::kInternal:
      e.status = 500;
      e.type = "server_error";
      return e;
  }
  e.status = 500;
  return e;
}

Json parse_body(const HttpRequest& request) {
  Result<Json> parsed = parse_json(request.body, "request body", 64);
  if (!parsed) throw_bad(str("invalid JSON: ", parsed.error().message));
  if (!parsed->is_object()) throw_bad(str("the request body must be a JSON object, got ", parsed->type_name()));
  return std::move(*parsed);
}

namespace {
const Json* present(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}
}  // namespace

std::optional<std::string> opt_string(const Json& object, const char* key) {
  const Json* v = present(object, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) throw_bad(str("'", key, "' must be a string, got ", v->type_name()), key);
  return v->get<std::string>();
}

std::optional<int64_t> opt_int(const Json& object, const char* key, int64_t min, int64_t max) {
  const Json* v = present(object, key);
  if (v == nullptr) return std::nullopt;
  int64_t value = 0;
  if (v->is_number_integer() && !v->is_number_unsigned()) {
    value = v->get<int64_t>();
  } else if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(max)) throw_bad(str("'", key, "' must be at most ", max, ", got ", u), key);
    value = static_cast<int64_t>(u);
  } else if (v->is_number_float()) {
    double d = v->get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15) {
      throw_bad(str("'", key, "' must be an integer, got ", v->dump()), key);
    }
    value = static_cast<int64_t>(d);
  } else {
    throw_bad(str("'", key, "' must be an integer, got ", v->type_name()), key);
  }
  if (value < min || value > max) throw_bad(str("'", key, "' must be in [", min, ", ", max, "], got ", value), key);
  return value;
}

std::optional<double> opt_number(const Json& object, const char* key, double min, double max) {
  const Json* v = present(object, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) throw_bad(str("'", key, "' must be a number, got ", v->type_name()), key);
  double value = v->get<double>();
  if (!std::isfinite(value) || value < min || value > max) {
    throw_bad(str("'", key, "' must be in [", min, ", ", max, "], got ", v->dump()), key);
  }
  return value;
}

std::optional<bool> opt_bool(const Json& object, const char* key) {
  const Json* v = present(object, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) throw_bad(str("'", key, "' must be a boolean, got ", v->type_name()), key);
  return v->get<bool>();
}

std::string need_string(const Json& object, const char* key) {
  std::optional<std::string> v = opt_string(object, key);
  if (!v || v->empty()) throw_bad(str("'", key, "' is required"), key);
  return *v;
}

std::vector<std::string> opt_stop_list(const Json& object, const char* key, size_t max_count) {
  const Json* v = present(object, key);
  std::vector<std::string> out;
  if (v == nullptr) return out;
  auto take = [&](const Json& s) {
    if (!s.is_string()) throw_bad(str("'", key, "' must be a string or a list of strings"), key);
    std::string text = s.get<std::string>();
    if (text.size() > 1024) throw_bad(str("'", key, "' entries must be at most 1024 bytes"), key);
    if (!text.empty()) out.push_back(std::move(text));
  };
  if (v->is_string()) {
    take(*v);
  } else if (v->is_array()) {
    if (v->size() > max_count) throw_bad(str("'", key, "' may have at most ", max_count, " entries, got ", v->size()), key);
    for (const Json& s : *v) take(s);
  } else {
    throw_bad(str("'", key, "' must be a string or a list of strings"), key);
  }
  return out;
}

std::string dump_json(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string valid_utf8(const std::string& bytes) {
  Json s = bytes;
  std::string quoted = s.dump(-1, ' ', false, Json::error_handler_t::replace);
  Result<Json> back = parse_json(quoted, "token");
  return back && back->is_string() ? back->get<std::string>() : std::string();
}

HttpResponse json_response(int status, const Json& body) { return HttpResponse{.status = status, .body = dump_json(body)}; }

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

uint64_t random_seed() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng() >> 1;
}

void read_openai_sampling(const Json& body, stack::GenerateRequest& request) {
  if (auto t = opt_number(body, "temperature", 0.0, 2.0)) request.sampling.temperature = static_cast<float>(*t);
  else request.sampling.temperature = 1.0f;  // OpenAI's default
  if (auto p = opt_number(body, "top_p", 0.0, 1.0)) {
    if (*p <= 0) throw_bad("'top_p' must be in (0, 1]", "top_p");
    request.sampling.top_p = static_cast<float>(*p);
  }
  if (auto v = opt_number(body, "presence_penalty", -2.0, 2.0)) request.sampling.presence_penalty = static_cast<float>(*v);
  if (auto v = opt_number(body, "frequency_penalty", -2.0, 2.0)) request.sampling.frequency_penalty = static_cast<float>(*v);
  if (auto bias = body.find("logit_bias"); bias != body.end() && !bias->is_null()) {
    if (!bias->is_object()) throw_bad("'logit_bias' must be an object", "logit_bias");
    if (!bias->empty()) throw_bad("'logit_bias' is not supported by this server yet", "logit_bias");
  }
  if (auto seed = opt_int(body, "seed", INT64_MIN, INT64_MAX)) request.sampling.seed = static_cast<uint64_t>(*seed);
  else request.sampling.seed = random_seed();
}

Status start_generations(stack::Provider& provider, const std::vector<stack::GenerateRequest>& requests,
                         const std::shared_ptr<ResponseChannel>& channel, GenerationCallbacks callbacks) {
  struct Shared {
    std::mutex mutex;
    GenerationCallbacks callbacks;
    size_t remaining = 0;
    bool aborted = false;
  };
  class Sink final : public stack::GenerationSink {
   public:
    Sink(std::shared_ptr<Shared> shared, size_t index) : shared_(std::move(shared)), index_(index) {}
    void on_delta(const stack::GenerationDelta& delta) override {
      std::lock_guard lock(shared_->mutex);
      if (!shared_->aborted && shared_->callbacks.on_delta) shared_->callbacks.on_delta(index_, delta);
    }
    void on_done(const stack::GenerationResult& result) override {
      std::lock_guard lock(shared_->mutex);
      if (shared_->aborted) return;
      if (shared_->callbacks.on_choice_done) shared_->callbacks.on_choice_done(index_, result);
      if (--shared_->remaining == 0 && shared_->callbacks.on_all_done) shared_->callbacks.on_all_done();
    }

   private:
    std::shared_ptr<Shared> shared_;
    size_t index_;
  };
  auto shared = std::make_shared<Shared>();
  shared->callbacks = std::move(callbacks);
  shared->remaining = requests.size();
  auto ids = std::make_shared<std::vector<uint64_t>>();
  std::lock_guard lock(shared->mutex);  // no callback runs before every request is in
  for (size_t i = 0; i < requests.size(); ++i) {
    Result<uint64_t> id = provider.generate(requests[i], std::make_shared<Sink>(shared, i));
    if (!id) {
      shared->aborted = true;
      for (uint64_t started : *ids) provider.cancel(started);
      return id.error();
    }
    ids->push_back(*id);
  }
  channel->set_cancel_hook([&provider, ids] {
    for (uint64_t id : *ids) provider.cancel(id);
  });
  return {};
}

}  // namespace llm::server
