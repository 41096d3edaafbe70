#include "server/api/llama_stack.h"

#include "server/api/openai.h"
#include "util/str.h"

namespace llm::server {
namespace {

using stack::GenerateRequest;
using stack::GenerationDelta;
using stack::GenerationFinish;
using stack::GenerationResult;

// Llama Stack answers errors as {"detail": ...} (FastAPI); we add OpenAI's "error" object too.
HttpResponse ls_error(const ApiError& e) {
  HttpResponse response = openai_error_response(e);
  Json body = Json::parse(response.body);
  body["detail"] = e.message;
  response.body = dump_json(body);
  return response;
}

std::string sse(const Json& event) { return "data: " + dump_json(event) + "\n\n"; }

// content: "text" | {"type": "text", "text"} | [those]
std::string content_text(const Json& content, const std::string& where) {
  if (content.is_null()) return {};
  if (content.is_string()) return content.get<std::string>();
  auto item = [&](const Json& c) -> std::string {
    if (c.is_string()) return c.get<std::string>();
    if (c.is_object() && opt_string(c, "type").value_or("") == "text") return opt_string(c, "text").value_or("");
    throw_bad(where + ": only text content is supported (no images)", where);
  };
  if (content.is_array()) {
    std::string out;
    for (const Json& c : content) out += item(c);
    return out;
  }
  return item(content);
}

// sampling_params: {"strategy": {"type": "greedy"|"top_p"|"top_k", ...}, "max_tokens", "repetition_penalty",
// "stop"}; before 2025 the strategy was a string with flat temperature/top_p/top_k fields.
void read_sampling(const Json& body, GenerateRequest& request) {
  request.sampling.temperature = 0;  // the native API's default strategy is greedy
  auto it = body.find("sampling_params");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_object()) throw_bad("'sampling_params' must be an object", "sampling_params");
  const Json& sp = *it;
  auto strategy = sp.find("strategy");
  if (strategy != sp.end() && strategy->is_object()) {
    std::string type = opt_string(*strategy, "type").value_or("greedy");
    if (type == "top_p") {
      request.sampling.temperature = static_cast<float>(opt_number(*strategy, "temperature", 0.0, 100.0).value_or(1.0));
      request.sampling.top_p = static_cast<float>(opt_number(*strategy, "top_p", 1e-9, 1.0).value_or(0.95));
    } else if (type == "top_k") {
      request.sampling.temperature = 1.0f;
      request.sampling.top_k = static_cast<int32_t>(opt_int(*strategy, "top_k", 1, 1 << 20).value_or(1));
    } else if (type != "greedy") {
      throw_bad(str("'sampling_params.strategy.type' must be greedy, top_p or top_k, got '", type, "'"), "sampling_params");
    }
  } else if (strategy != sp.end() && strategy->is_string()) {
    std::string type = strategy->get<std::string>();
    if (type != "greedy") {
      request.sampling.temperature = static_cast<float>(opt_number(sp, "temperature", 0.0, 100.0).value_or(1.0));
      request.sampling.top_p = static_cast<float>(opt_number(sp, "top_p", 1e-9, 1.0).value_or(1.0));
      request.sampling.top_k = static_cast<int32_t>(opt_int(sp, "top_k", 0, 1 << 20).value_or(0));
    }
  }
  if (auto max = opt_int(sp, "max_tokens", 0, INT32_MAX); max && *max > 0) request.max_tokens = static_cast<int32_t>(*max);
  if (auto penalty = opt_number(sp, "repetition_penalty", 1e-6, 1e6)) request.sampling.repetition_penalty = static_cast<float>(*penalty);
  request.stop = opt_stop_list(sp, "stop", 16);
  request.sampling.seed = random_seed();
}

// Llama Stack tool definitions -> the OpenAI function list the chat template takes.
chat::OrderedJson read_tools(const Json& body) {
  auto it = body.find("tools");
  if (it == body.end() || it->is_null()) return nullptr;
  if (!it->is_array()) throw_bad("'tools' must be a list", "tools");
  Json functions = Json::array();
  for (const Json& tool : *it) {
    if (!tool.is_object()) throw_bad("'tools' entries must be objects", "tools");
    if (tool.contains("function")) {  // already OpenAI-shaped
      functions.push_back(tool);
      continue;
    }
    std::string name = need_string(tool, "tool_name");
    Json properties = Json::object(), required = Json::array();
    if (auto params = tool.find("parameters"); params != tool.end() && params->is_object()) {
      for (const auto& [pname, def] : params->items()) {
        if (!def.is_object()) throw_bad("'tools[].parameters' entries must be objects", "tools");
        properties[pname] = {{"type", opt_string(def, "param_type").value_or("string")},
                             {"description", opt_string(def, "description").value_or("")}};
        if (opt_bool(def, "required").value_or(true)) required.push_back(pname);
      }
    }
    functions.push_back({{"type", "function"},
                         {"function", {{"name", name},
                                       {"description", opt_string(tool, "description").value_or("")},
                                       {"parameters", {{"type", "object"}, {"properties", properties}, {"required", required}}}}}});
  }
  return parse_openai_tools(functions);
}

std::vector<chat::ChatMessage> read_messages(const Json& body) {
  auto it = body.find("messages");
  if (it == body.end() || !it->is_array() || it->empty()) throw_bad("'messages' must be a non-empty list", "messages");
  std::vector<chat::ChatMessage> out;
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& m = (*it)[i];
    std::string where = str("messages[", i, "]");
    if (!m.is_object()) throw_bad(where + " must be an object", "messages");
    chat::ChatMessage message;
    message.role = opt_string(m, "role").value_or("");
    if (message.role != "system" && message.role != "user" && message.role != "assistant" && message.role != "tool" &&
        message.role != "ipython") {
      throw_bad(str(where, ".role must be system, user, assistant or tool, got '", message.role, "'"), "messages");
    }
    message.content = content_text(m.contains("content") ? m["content"] : Json(nullptr), where + ".content");
    if (opt_string(m, "stop_reason").value_or("") == "end_of_message") message.stop_reason = chat::StopReason::kEndOfMessage;
    if (auto calls = m.find("tool_calls"); calls != m.end() && calls->is_array()) {
      for (const Json& c : *calls) {
        if (!c.is_object()) throw_bad(where + ".tool_calls entries must be objects", "messages");
        chat::ToolCall call{.id = opt_string(c, "call_id").value_or(""), .name = need_string(c, "tool_name")};
        auto args = c.find("arguments");
        if (args != c.end() && args->is_object()) call.arguments = chat::OrderedJson::parse(args->dump());
        else if (args != c.end() && args->is_string()) call.arguments = chat::OrderedJson::parse(args->get<std::string>(), nullptr, false);
        if (call.arguments.is_discarded() || (!call.arguments.is_null() && !call.arguments.is_object())) {
          throw_bad(where + ".tool_calls[].arguments must be an object", "messages");
        }
        if (call.arguments.is_null()) call.arguments = chat::OrderedJson::object();
        message.tool_calls.push_back(std::move(call));
      }
    }
    message.tool_call_id = opt_string(m, "call_id").value_or("");
    out.push_back(std::move(message));
  }
  return out;
}

const char* stop_reason(const GenerationResult& r) {
  if (r.finish == GenerationFinish::kLength) return "out_of_tokens";
  return r.end_of_message ? "end_of_message" : "end_of_turn";
}

Json tool_call_json(const chat::ToolCall& call) {
  return {{"call_id", call.id}, {"tool_name", call.name}, {"arguments", Json::parse(call.arguments.dump())},
          {"arguments_json", call.arguments.dump()}};
}

Json metrics_json(const GenerationResult& r) {
  int64_t p = r.usage.prompt_tokens, c = r.usage.completion_tokens;
  return Json::array({{{"metric", "prompt_tokens"}, {"value", p}, {"unit", nullptr}},
                      {{"metric", "completion_tokens"}, {"value", c}, {"unit", nullptr}},
                      {{"metric", "total_tokens"}, {"value", p + c}, {"unit", nullptr}}});
}

Json logprobs_json(const std::vector<stack::TokenLogprobInfo>& tokens) {
  Json out = Json::array();
  for (const auto& t : tokens) {
    Json by_token = Json::object();
    by_token[valid_utf8(t.bytes)] = t.logprob;
    for (const auto& alt : t.top) by_token[valid_utf8(alt.bytes)] = alt.logprob;
    out.push_back({{"logprobs_by_token", by_token}});
  }
  return out;
}

HandlerResult inference(ApiContext& ctx, HttpRequest& http, bool chat) {
  Json body = parse_body(http);
  GenerateRequest request;
  std::optional<std::string> model = opt_string(body, "model_id");
  if (!model) model = opt_string(body, "model");
  if (!model || model->empty()) throw_bad("'model_id' is required", "model_id");
  request.model = *model;
  read_sampling(body, request);
  if (chat) {
    request.messages = read_messages(body);
    request.tools = read_tools(body);
    std::string choice = "auto";
    if (auto config = body.find("tool_config"); config != body.end() && config->is_object()) {
      choice = opt_string(*config, "tool_choice").value_or("auto");
    } else if (auto c = opt_string(body, "tool_choice")) {
      choice = *c;
    }
    if (choice == "none") request.tool_choice = stack::ToolChoice::kNone;
    else if (choice == "required") request.tool_choice = stack::ToolChoice::kRequired;
    else if (choice != "auto") throw_bad("'tool_choice' must be auto, required or none", "tool_config");
  } else {
    auto content = body.find("content");
    if (content == body.end()) throw_bad("'content' is required", "content");
    std::string text = content_text(*content, "content");
    if (text.empty()) throw_bad("'content' must not be empty", "content");
    request.prompt_text = text;
  }
  if (auto fmt = body.find("response_format"); fmt != body.end() && !fmt->is_null()) {
    throw_bad("'response_format' is not supported by this server yet", "response_format");
  }
  if (auto lp = body.find("logprobs"); lp != body.end() && !lp->is_null()) {
    if (!lp->is_object()) throw_bad("'logprobs' must be an object {\"top_k\": N}", "logprobs");
    request.logprobs = true;
    request.top_logprobs = static_cast<int32_t>(opt_int(*lp, "top_k", 0, 20).value_or(0));
  }
  bool stream = opt_bool(body, "stream").value_or(false);
  Result<stack::ResolvedModel> resolved = ctx.stack.resolve(request.model);
  if (!resolved) return ls_error(api_error_from(resolved.error(), ctx.draining()));

  struct State {
    bool stream = false, chat = false, head_sent = false, logprobs = false;
    std::string text;
    std::vector<stack::TokenLogprobInfo> tokens;
  };
  auto state = std::make_shared<State>();
  state->stream = stream;
  state->chat = chat;
  state->logprobs = request.logprobs;
  auto channel = std::make_shared<ResponseChannel>();
  auto ensure_head = [state, channel]() {
    if (state->head_sent) return;
    state->head_sent = true;
    channel->begin_stream(200, "text/event-stream");
    if (state->chat) {
      channel->write(sse({{"event", {{"event_type", "start"}, {"delta", {{"type", "text"}, {"text", ""}}}}}}));
    }
  };
  GenerationCallbacks callbacks;
  callbacks.on_delta = [state, channel, ensure_head](size_t, const GenerationDelta& delta) {
    state->text += delta.text;
    if (!state->stream) {
      state->tokens.insert(state->tokens.end(), delta.logprobs.begin(), delta.logprobs.end());
      return;
    }
    ensure_head();
    if (delta.text.empty() && delta.logprobs.empty()) return;
    Json lp = state->logprobs ? logprobs_json(delta.logprobs) : Json(nullptr);
    if (state->chat) {
      channel->write(sse({{"event", {{"event_type", "progress"}, {"delta", {{"type", "text"}, {"text", delta.text}}},
                                     {"logprobs", lp}}}}));
    } else {
      channel->write(sse({{"delta", delta.text}, {"logprobs", lp}}));
    }
  };
  callbacks.on_choice_done = [state, channel, ensure_head](size_t, const GenerationResult& r) {
    std::vector<chat::ToolCall> calls = r.tool_calls;
    if (!state->stream) {
      if (r.finish == GenerationFinish::kError) {
        channel->respond(ls_error(ApiError{.status = 500, .message = r.error, .type = "server_error"}));
        return;
      }
      Json lp = state->logprobs ? logprobs_json(state->tokens) : Json(nullptr);
      if (state->chat) {
        Json tool_calls = Json::array();
        for (const auto& c : calls) tool_calls.push_back(tool_call_json(c));
        channel->respond(json_response(200, {{"completion_message", {{"role", "assistant"},
                                                                     {"content", state->text},
                                                                     {"stop_reason", stop_reason(r)},
                                                                     {"tool_calls", tool_calls}}},
                                             {"logprobs", lp},
                                             {"metrics", metrics_json(r)}}));
      } else {
        channel->respond(json_response(200, {{"content", state->text}, {"stop_reason", stop_reason(r)}, {"logprobs", lp},
                                             {"metrics", metrics_json(r)}}));
      }
      return;
    }
    ensure_head();
    if (r.finish == GenerationFinish::kError) {
      channel->write(sse({{"error", {{"message", r.error}}}}));
      channel->end();
      return;
    }
    if (state->chat) {
      for (const auto& c : calls) {
        channel->write(sse({{"event", {{"event_type", "progress"},
                                       {"delta", {{"type", "tool_call"}, {"tool_call", tool_call_json(c)},
                                                  {"parse_status", "succeeded"}}}}}}));
      }
      channel->write(sse({{"event", {{"event_type", "complete"}, {"delta", {{"type", "text"}, {"text", ""}}},
                                     {"stop_reason", stop_reason(r)}}},
                          {"metrics", metrics_json(r)}}));
    } else {
      channel->write(sse({{"delta", ""}, {"stop_reason", stop_reason(r)}, {"metrics", metrics_json(r)}}));
    }
    channel->end();
  };
  Status started = start_generations(*resolved->provider, {request}, channel, std::move(callbacks));
  if (!started) return ls_error(api_error_from(started.error(), ctx.draining()));
  return channel;
}

Handler guarded(std::function<HandlerResult(HttpRequest&)> f) {
  return [f = std::move(f)](HttpRequest& request) -> HandlerResult {
    try {
      return f(request);
    } catch (const ApiError& e) {
      return ls_error(e);
    }
  };
}

Json provider_json(const stack::Provider& p) {
  return {{"api", "inference"}, {"provider_id", p.id()}, {"provider_type", p.type()}, {"config", Json::object()},
          {"health", {{"status", "OK"}}}};
}

}  // namespace

void add_llama_stack_routes(Router& router, ApiContext& ctx) {
  auto add = [&](const char* method, const char* pattern, bool is_public, std::function<HandlerResult(HttpRequest&)> f) {
    router.add({.method = method, .pattern = pattern, .api = "llama_stack", .is_public = is_public, .handler = guarded(std::move(f))});
  };
  add("GET", "/v1/health", true, [](HttpRequest&) -> HandlerResult { return json_response(200, {{"status", "OK"}}); });
  add("GET", "/v1/version", false, [&ctx](HttpRequest&) -> HandlerResult {
    return json_response(200, {{"version", ctx.stack.version()}});
  });
  add("GET", "/v1/models/{model_id:path}", false, [&ctx](HttpRequest& r) -> HandlerResult {
    Result<stack::ResolvedModel> m = ctx.stack.resolve(r.path_params["model_id"]);
    if (!m) throw api_error_from(m.error(), false);
    return json_response(200, model_object(m->info));
  });
  add("GET", "/v1/providers", false, [&ctx](HttpRequest&) -> HandlerResult {
    Json data = Json::array();
    for (const auto& p : ctx.stack.providers()) data.push_back(provider_json(*p));
    return json_response(200, {{"data", data}});
  });
  add("GET", "/v1/providers/{provider_id}", false, [&ctx](HttpRequest& r) -> HandlerResult {
    for (const auto& p : ctx.stack.providers()) {
      if (p->id() == r.path_params["provider_id"]) return json_response(200, provider_json(*p));
    }
    throw ApiError{.status = 404, .message = str("provider '", r.path_params["provider_id"], "' not found"), .type = "not_found_error"};
  });
  add("GET", "/v1/inspect/routes", false, [&ctx](HttpRequest&) -> HandlerResult {
    std::vector<std::string> types;
    for (const auto& p : ctx.stack.providers()) types.push_back(p->type());
    Json data = Json::array();
    for (const Route& route : ctx.router.routes()) {
      data.push_back({{"route", route.pattern}, {"method", route.method}, {"provider_types", types}});
    }
    return json_response(200, {{"data", data}});
  });
  add("POST", "/v1/inference/chat-completion", false, [&ctx](HttpRequest& r) { return inference(ctx, r, true); });
  add("POST", "/v1/inference/completion", false, [&ctx](HttpRequest& r) { return inference(ctx, r, false); });
}

}  // namespace llm::server
