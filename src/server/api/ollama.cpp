#include "server/api/ollama.h"

#include <chrono>
#include <cstdio>
#include <functional>

#include "server/api/openai.h"
#include "util/str.h"

namespace llm::server {
namespace {

using stack::GenerateRequest;
using stack::GenerationDelta;
using stack::GenerationFinish;
using stack::GenerationResult;

// The API version we report: the Ollama release whose API this front end follows.
constexpr const char* kOllamaApiVersion = "0.12.0";

HttpResponse ollama_error(const ApiError& e) {
  HttpResponse response = json_response(e.status, {{"error", e.message}});
  if (e.status == 429 || e.status == 503) response.headers.emplace_back("Retry-After", "1");
  return response;
}

// RFC 3339 with nanoseconds, UTC: "2024-08-04T19:22:45.499127Z".
std::string rfc3339(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  time_t seconds = static_cast<time_t>(ns / 1000000000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<long long>(ns % 1000000000));
  return buffer;
}

std::string now_rfc3339() { return rfc3339(std::chrono::system_clock::now()); }

std::string parameter_size(int64_t n) {
  char buffer[32];
  if (n >= 1000000000) std::snprintf(buffer, sizeof(buffer), "%.1fB", n / 1e9);
  else if (n >= 1000000) std::snprintf(buffer, sizeof(buffer), "%.1fM", n / 1e6);
  else std::snprintf(buffer, sizeof(buffer), "%.1fK", n / 1e3);
  return buffer;
}

// A stable 64-hex-digit digest for a model (Ollama clients display it; it names no real blob).
std::string digest_of(const stack::ModelInfo& m) {
  std::string key = m.id + "|" + m.provider_resource_id + "|" + std::to_string(m.created);
  uint64_t h = 1469598103934665603ull;
  std::string out;
  for (int round = 0; round < 4; ++round) {
    for (char c : key) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    h = (h ^ static_cast<uint64_t>(round)) * 1099511628211ull;
    char part[17];
    std::snprintf(part, sizeof(part), "%016llx", static_cast<unsigned long long>(h));
    out += part;
  }
  return out;
}

std::string tagged(const std::string& id) { return id.find(':') == std::string::npos ? id + ":latest" : id; }

Json details_json(const stack::ModelInfo& m) {
  return {{"parent_model", ""}, {"format", m.format == "gguf" ? "gguf" : m.format}, {"family", m.family},
          {"families", Json::array({m.family})}, {"parameter_size", parameter_size(m.parameter_count)},
          {"quantization_level", m.quantization.empty() ? "unknown" : m.quantization}};
}

Json tag_json(const stack::ModelInfo& m) {
  return {{"name", tagged(m.id)}, {"model", tagged(m.id)}, {"modified_at", rfc3339(std::chrono::system_clock::from_time_t(m.created))},
          {"size", m.size_bytes}, {"digest", digest_of(m)}, {"details", details_json(m)}};
}

stack::ResolvedModel resolve(ApiContext& ctx, const Json& body) {
  std::optional<std::string> name = opt_string(body, "model");
  if (!name) name = opt_string(body, "name");
  if (!name || name->empty()) throw_bad("model is required", "model");
  Result<stack::ResolvedModel> m = ctx.stack.resolve(*name);
  if (!m) throw ApiError{.status = 404, .message = str("model '", *name, "' not found"), .type = "not_found_error"};
  return *m;
}

// options: temperature, top_p, top_k, min_p, num_predict, repeat_penalty, seed, stop (others, like
// num_ctx, are accepted and ignored, as Ollama ignores what a runner does not use).
void read_options(const Json& body, GenerateRequest& request) {
  request.sampling.temperature = 0.8f;  // Ollama's defaults
  request.sampling.top_k = 40;
  request.sampling.top_p = 0.9f;
  request.sampling.seed = random_seed();
  auto it = body.find("options");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_object()) throw_bad("options must be an object", "options");
  const Json& o = *it;
  if (auto v = opt_number(o, "temperature", 0.0, 100.0)) request.sampling.temperature = static_cast<float>(*v);
  if (auto v = opt_number(o, "top_p", 0.0, 1.0)) request.sampling.top_p = *v <= 0 ? 1.0f : static_cast<float>(*v);
  if (auto v = opt_int(o, "top_k", 0, 1 << 20)) request.sampling.top_k = static_cast<int32_t>(*v);
  if (auto v = opt_number(o, "min_p", 0.0, 1.0)) request.sampling.min_p = static_cast<float>(*v);
  if (auto v = opt_number(o, "repeat_penalty", 0.0, 100.0)) request.sampling.repetition_penalty = *v <= 0 ? 1.0f : static_cast<float>(*v);
  if (auto v = opt_int(o, "seed", INT64_MIN, INT64_MAX)) request.sampling.seed = static_cast<uint64_t>(*v);
  if (auto v = opt_int(o, "num_predict", -2, INT32_MAX)) {
    if (*v == 0) throw_bad("options.num_predict must be positive, or -1 / -2 for no limit", "num_predict");
    if (*v > 0) request.max_tokens = static_cast<int32_t>(*v);
  }
  request.stop = opt_stop_list(o, "stop", 16);
  if (auto v = opt_number(o, "presence_penalty", -2.0, 2.0)) request.sampling.presence_penalty = static_cast<float>(*v);
  if (auto v = opt_number(o, "frequency_penalty", -2.0, 2.0)) request.sampling.frequency_penalty = static_cast<float>(*v);
}

void reject_unsupported(const Json& body) {
  if (auto images = body.find("images"); images != body.end() && images->is_array() && !images->empty()) {
    throw_bad("images are not supported by this model", "images");
  }
  if (auto format = body.find("format"); format != body.end() && !format->is_null() &&
                                          !(format->is_string() && format->get<std::string>().empty())) {
    throw_bad("format (JSON mode) is not supported by this server yet", "format");
  }
  if (auto suffix = opt_string(body, "suffix"); suffix && !suffix->empty()) throw_bad("suffix is not supported", "suffix");
}

Json timings(const GenerationResult& r) {
  auto ns = [](double s) { return static_cast<int64_t>(s * 1e9); };
  return {{"total_duration", ns(r.usage.total_seconds)},
          {"load_duration", 0},
          {"prompt_eval_count", r.usage.prompt_tokens},
          {"prompt_eval_duration", ns(std::max(0.0, r.usage.first_token_seconds - r.usage.queue_seconds))},
          {"eval_count", r.usage.completion_tokens},
          {"eval_duration", ns(std::max(0.0, r.usage.total_seconds - r.usage.first_token_seconds))}};
}

const char* done_reason(const GenerationResult& r) {
  switch (r.finish) {
    case GenerationFinish::kLength: return "length";
    case GenerationFinish::kCancelled: return "abort";
    case GenerationFinish::kStop:
    case GenerationFinish::kToolCalls:
    case GenerationFinish::kError: return "stop";
  }
  return "stop";
}

// Shared by /api/generate and /api/chat: stream NDJSON lines or answer once.
HandlerResult run(ApiContext& ctx, stack::Provider& provider, const GenerateRequest& request, bool stream, bool chat,
                  const std::string& model_name) {
  struct State {
    bool stream = false, chat = false, head_sent = false;
    std::string model, text;
  };
  auto state = std::make_shared<State>();
  state->stream = stream;
  state->chat = chat;
  state->model = model_name;
  auto channel = std::make_shared<ResponseChannel>();
  auto ensure_head = [state, channel]() {
    if (state->head_sent) return;
    state->head_sent = true;
    channel->begin_stream(200, "application/x-ndjson");
  };
  auto line = [state](const std::string& text) {
    Json out = {{"model", state->model}, {"created_at", now_rfc3339()}};
    if (state->chat) out["message"] = {{"role", "assistant"}, {"content", text}};
    else out["response"] = text;
    out["done"] = false;
    return out;
  };
  GenerationCallbacks callbacks;
  callbacks.on_delta = [state, channel, ensure_head, line](size_t, const GenerationDelta& delta) {
    if (!state->stream) {
      state->text += delta.text;
      return;
    }
    if (delta.text.empty()) return;
    ensure_head();
    channel->write(dump_json(line(delta.text)) + "\n");
  };
  callbacks.on_choice_done = [state, channel, ensure_head, line](size_t, const GenerationResult& r) {
    if (r.finish == GenerationFinish::kError) {
      if (state->stream) {
        ensure_head();
        channel->write(dump_json({{"error", r.error}}) + "\n");
        channel->end();
      } else {
        channel->respond(ollama_error(ApiError{.status = 500, .message = r.error}));
      }
      return;
    }
    Json out = line(state->stream ? std::string() : state->text);
    if (state->chat && !r.tool_calls.empty()) {
      Json calls = Json::array();
      for (const auto& c : r.tool_calls) {
        calls.push_back({{"function", {{"name", c.name}, {"arguments", Json::parse(c.arguments.dump())}}}});
      }
      out["message"]["tool_calls"] = calls;
    }
    out["done"] = true;
    out["done_reason"] = done_reason(r);
    if (!state->chat) {
      std::vector<int32_t> context = r.prompt_ids;
      context.insert(context.end(), r.output_ids.begin(), r.output_ids.end());
      out["context"] = context;
    }
    out.update(timings(r));
    if (state->stream) {
      ensure_head();
      channel->write(dump_json(out) + "\n");
      channel->end();
    } else {
      channel->respond(json_response(200, out));
    }
  };
  Status started = start_generations(provider, {request}, channel, std::move(callbacks));
  if (!started) return ollama_error(api_error_from(started.error(), ctx.draining()));
  return channel;
}

// An empty prompt or message list only loads the model (Ollama answers done_reason "load").
HttpResponse load_response(const std::string& model, bool chat) {
  Json out = {{"model", model}, {"created_at", now_rfc3339()}};
  if (chat) out["message"] = {{"role", "assistant"}, {"content", ""}};
  else out["response"] = "";
  out["done"] = true;
  out["done_reason"] = "load";
  return json_response(200, out);
}

HandlerResult generate(ApiContext& ctx, HttpRequest& http) {
  Json body = parse_body(http);
  stack::ResolvedModel model = resolve(ctx, body);
  std::string name = opt_string(body, "model").value_or(opt_string(body, "name").value_or(""));
  reject_unsupported(body);
  GenerateRequest request;
  request.model = model.info.id;
  read_options(body, request);
  bool stream = opt_bool(body, "stream").value_or(true);
  std::string prompt = opt_string(body, "prompt").value_or("");
  if (prompt.empty()) return load_response(name, false);
  if (opt_bool(body, "raw").value_or(false)) {
    request.prompt_text = prompt;
    request.raw = true;
  } else {
    if (auto t = opt_string(body, "template"); t && !t->empty()) throw_bad("a custom template is not supported", "template");
    std::vector<chat::ChatMessage> messages;
    if (auto system = opt_string(body, "system"); system && !system->empty()) {
      messages.push_back(chat::ChatMessage{.role = "system", .content = *system});
    }
    messages.push_back(chat::ChatMessage{.role = "user", .content = prompt});
    request.messages = std::move(messages);
  }
  return run(ctx, *model.provider, request, stream, false, name);
}

HandlerResult chat_route(ApiContext& ctx, HttpRequest& http) {
  Json body = parse_body(http);
  stack::ResolvedModel model = resolve(ctx, body);
  std::string name = opt_string(body, "model").value_or("");
  reject_unsupported(body);
  GenerateRequest request;
  request.model = model.info.id;
  read_options(body, request);
  bool stream = opt_bool(body, "stream").value_or(true);
  auto messages = body.find("messages");
  if (messages == body.end() || messages->is_null() || (messages->is_array() && messages->empty())) {
    return load_response(name, true);
  }
  if (!messages->is_array()) throw_bad("messages must be a list", "messages");
  // Ollama's messages: tool_calls carry arguments as an object, tool results name the tool.
  Json openai_messages = Json::array();
  for (const Json& m : *messages) {
    if (!m.is_object()) throw_bad("messages entries must be objects", "messages");
    if (auto images = m.find("images"); images != m.end() && images->is_array() && !images->empty()) {
      throw_bad("images are not supported by this model", "images");
    }
    Json converted = {{"role", m.value("role", "")}, {"content", m.contains("content") ? m["content"] : Json("")}};
    if (auto calls = m.find("tool_calls"); calls != m.end() && calls->is_array()) {
      Json out = Json::array();
      for (const Json& c : *calls) {
        if (!c.is_object() || !c.contains("function") || !c["function"].is_object()) {
          throw_bad("tool_calls entries must be {\"function\": {\"name\", \"arguments\"}}", "messages");
        }
        const Json& f = c["function"];
        Json args = f.contains("arguments") ? f["arguments"] : Json::object();
        out.push_back({{"type", "function"},
                       {"function", {{"name", f.value("name", "")}, {"arguments", args.is_string() ? args : Json(args.dump())}}}});
      }
      converted["tool_calls"] = out;
    }
    openai_messages.push_back(std::move(converted));
  }
  request.messages = parse_openai_messages(openai_messages);
  if (auto tools = body.find("tools"); tools != body.end() && !tools->is_null()) request.tools = parse_openai_tools(*tools);
  return run(ctx, *model.provider, request, stream, true, name);
}

HandlerResult show(ApiContext& ctx, HttpRequest& http) {
  Json body = parse_body(http);
  stack::ModelInfo m = resolve(ctx, body).info;
  Json info = {{"general.architecture", "llama"},
               {"general.parameter_count", m.parameter_count},
               {"llama.context_length", m.context_length},
               {"llama.vocab_size", m.vocab_size}};
  return json_response(200, {{"modelfile", str("# served by llama-stack-cpp\nFROM ", m.provider_resource_id, "\n")},
                             {"parameters", ""},
                             {"template", m.chat_template.empty() ? "(built-in Llama 3 chat format)" : m.chat_template},
                             {"details", details_json(m)},
                             {"model_info", info},
                             {"capabilities", Json::array({"completion", "tools"})},
                             {"modified_at", rfc3339(std::chrono::system_clock::from_time_t(m.created))}});
}

Handler guarded(ApiContext& ctx, HandlerResult (*f)(ApiContext&, HttpRequest&)) {
  return [&ctx, f](HttpRequest& request) -> HandlerResult {
    try {
      return f(ctx, request);
    } catch (const ApiError& e) {
      return ollama_error(e);
    }
  };
}

}  // namespace

void add_ollama_routes(Router& router, ApiContext& ctx) {
  router.add({.method = "GET", .pattern = "/", .api = "ollama", .handler = [](HttpRequest&) -> HandlerResult {
                return HttpResponse{.content_type = "text/plain; charset=utf-8", .body = "Ollama is running"};
              }});
  router.add({.method = "GET", .pattern = "/api/version", .api = "ollama", .handler = [](HttpRequest&) -> HandlerResult {
                return json_response(200, {{"version", kOllamaApiVersion}});
              }});
  router.add({.method = "GET", .pattern = "/api/tags", .api = "ollama", .handler = [&ctx](HttpRequest&) -> HandlerResult {
                Json models = Json::array();
                for (const auto& m : ctx.stack.models()) models.push_back(tag_json(m));
                return json_response(200, {{"models", models}});
              }});
  router.add({.method = "GET", .pattern = "/api/ps", .api = "ollama", .handler = [&ctx](HttpRequest&) -> HandlerResult {
                Json models = Json::array();
                auto forever = rfc3339(std::chrono::system_clock::now() + std::chrono::hours(24 * 365));
                for (const auto& m : ctx.stack.models()) {
                  Json entry = tag_json(m);
                  entry.erase("modified_at");
                  entry["expires_at"] = forever;
                  entry["size_vram"] = 0;
                  entry["context_length"] = m.context_length;
                  models.push_back(entry);
                }
                return json_response(200, {{"models", models}});
              }});
  router.add({.method = "POST", .pattern = "/api/show", .api = "ollama", .handler = guarded(ctx, show)});
  router.add({.method = "POST", .pattern = "/api/generate", .api = "ollama", .handler = guarded(ctx, generate)});
  router.add({.method = "POST", .pattern = "/api/chat", .api = "ollama", .handler = guarded(ctx, chat_route)});
}

}  // namespace llm::server
