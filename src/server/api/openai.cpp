#include "server/api/openai.h"

#include <set>

#include "util/str.h"

namespace llm::server {
namespace {

using stack::GenerateRequest;
using stack::GenerationDelta;
using stack::GenerationFinish;
using stack::GenerationResult;

constexpr int64_t kMaxChoices = 16;

const char* openai_finish(GenerationFinish finish) {
  switch (finish) {
    case GenerationFinish::kStop: return "stop";
    case GenerationFinish::kLength: return "length";
    case GenerationFinish::kToolCalls: return "tool_calls";
    case GenerationFinish::kCancelled: return "abort";
    case GenerationFinish::kError: return "error";
  }
  return "stop";
}

Json bytes_list(const std::string& bytes) {
  Json out = Json::array();
  for (unsigned char c : bytes) out.push_back(static_cast<int>(c));
  return out;
}

Json chat_logprobs(const std::vector<stack::TokenLogprobInfo>& tokens) {
  Json content = Json::array();
  for (const auto& t : tokens) {
    Json top = Json::array();
    for (const auto& alt : t.top) {
      top.push_back({{"token", valid_utf8(alt.bytes)}, {"logprob", alt.logprob}, {"bytes", bytes_list(alt.bytes)}});
    }
    content.push_back({{"token", valid_utf8(t.bytes)}, {"logprob", t.logprob}, {"bytes", bytes_list(t.bytes)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}, {"refusal", nullptr}};
}

Json completion_logprobs(const std::vector<stack::TokenLogprobInfo>& tokens, size_t text_offset) {
  Json tok = Json::array(), lps = Json::array(), tops = Json::array(), offsets = Json::array();
  for (const auto& t : tokens) {
    std::string text = valid_utf8(t.bytes);
    tok.push_back(text);
    lps.push_back(t.logprob);
    Json top = Json::object();
    for (const auto& alt : t.top) top[valid_utf8(alt.bytes)] = alt.logprob;
    tops.push_back(top);
    offsets.push_back(text_offset);
    text_offset += text.size();
  }
  return {{"tokens", tok}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

Json tool_calls_json(const std::vector<chat::ToolCall>& calls, bool with_index) {
  Json out = Json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    Json call = {{"id", calls[i].id},
                 {"type", "function"},
                 {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments.dump()}}}};
    if (with_index) call["index"] = i;
    out.push_back(std::move(call));
  }
  return out;
}

Json usage_json(const std::vector<GenerationResult>& results, const std::vector<bool>& counts_prompt) {
  int64_t prompt = 0, completion = 0, cached = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    if (counts_prompt[i]) {
      prompt += results[i].usage.prompt_tokens;
      cached += results[i].usage.cached_prompt_tokens;
    }
    completion += results[i].usage.completion_tokens;
  }
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

std::string sse(const Json& event) { return "data: " + dump_json(event) + "\n\n"; }

const GenerationResult* first_failure(const std::vector<GenerationResult>& results) {
  for (const auto& r : results) {
    if (r.finish == GenerationFinish::kError) return &r;
  }
  return nullptr;
}

// The end of a chat or completion stream: an error event, or the usage chunk when asked for
// (`last` is the stream's chunk with no choices), then [DONE].
void end_stream(ResponseChannel& channel, const GenerationResult* failed, bool include_usage, Json last,
                const std::vector<GenerationResult>& results, const std::vector<bool>& counts_prompt) {
  if (failed != nullptr) {
    channel.write(sse({{"error", {{"message", failed->error}, {"type", "server_error"}}}}));
  } else if (include_usage) {
    last["usage"] = usage_json(results, counts_prompt);
    channel.write(sse(last));
  }
  channel.write("data: [DONE]\n\n");
  channel.end();
}

// Unique per call id ("call_0" from the parser is per choice): prefix with the response id.
void name_tool_calls(std::vector<chat::ToolCall>& calls, const std::string& response_id, size_t choice) {
  for (size_t i = 0; i < calls.size(); ++i) calls[i].id = str("call_", response_id.substr(response_id.find('-') + 1), "_", choice, "_", i);
}

struct Common {
  std::string model;
  bool stream = false;
  bool include_usage = false;
  int64_t n = 1;
};

// Reads what chat and completions share into `request`; returns stream/usage/n.
Common read_common(const Json& body, GenerateRequest& request, const char* max_tokens_key, int64_t default_max) {
  Common c;
  c.model = need_string(body, "model");
  request.model = c.model;
  c.stream = opt_bool(body, "stream").value_or(false);
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) throw_bad("'stream_options' must be an object", "stream_options");
    c.include_usage = opt_bool(*it, "include_usage").value_or(false);
  }
  c.n = opt_int(body, "n", 1, kMaxChoices).value_or(1);
  if (auto best_of = opt_int(body, "best_of", 1, kMaxChoices); best_of && *best_of != c.n) {
    throw_bad("'best_of' other than n is not supported", "best_of");
  }
  std::optional<int64_t> max_tokens = opt_int(body, max_tokens_key, 1, INT32_MAX);
  if (!max_tokens) max_tokens = opt_int(body, "max_tokens", 1, INT32_MAX);
  if (max_tokens) request.max_tokens = static_cast<int32_t>(*max_tokens);
  else if (default_max > 0) request.max_tokens = static_cast<int32_t>(default_max);
  read_openai_sampling(body, request);
  // vLLM's extension: generate exactly max_tokens tokens (benchmarks with fixed output lengths).
  request.ignore_eos = opt_bool(body, "ignore_eos").value_or(false);
  request.stop = opt_stop_list(body, "stop", 16);
  if (auto format = body.find("response_format"); format != body.end() && !format->is_null()) {
    if (!format->is_object() || opt_string(*format, "type").value_or("text") != "text") {
      throw_bad("'response_format' other than {\"type\": \"text\"} is not supported by this server yet", "response_format");
    }
  }
  return c;
}

stack::Provider& resolve(ApiContext& ctx, const std::string& model) {
  Result<stack::ResolvedModel> resolved = ctx.stack.resolve(model);
  if (!resolved) throw api_error_from(resolved.error(), ctx.draining());
  return *resolved->provider;
}

// n copies of `base` with seeds base.seed + i (so a seeded n > 1 request is reproducible and its
// choices differ).
std::vector<GenerateRequest> fan_out(const GenerateRequest& base, int64_t n) {
  std::vector<GenerateRequest> out;
  for (int64_t i = 0; i < n; ++i) {
    out.push_back(base);
    out.back().sampling.seed = base.sampling.seed + static_cast<uint64_t>(i);
  }
  return out;
}

HandlerResult start(ApiContext& ctx, stack::Provider& provider, const std::vector<GenerateRequest>& requests,
                    const std::shared_ptr<ResponseChannel>& channel, GenerationCallbacks callbacks) {
  Status started = start_generations(provider, requests, channel, std::move(callbacks));
  if (!started) return openai_error_response(api_error_from(started.error(), ctx.draining()));
  return channel;
}

HandlerResult chat_completions(ApiContext& ctx, HttpRequest& http) {
  Json body = parse_body(http);
  GenerateRequest request;
  Common common = read_common(body, request, "max_completion_tokens", 0);
  auto messages = body.find("messages");
  if (messages == body.end() || messages->is_null()) throw_bad("'messages' is required", "messages");
  request.messages = parse_openai_messages(*messages);
  if (auto tools = body.find("tools"); tools != body.end() && !tools->is_null()) {
    request.tools = parse_openai_tools(*tools);
  }
  if (auto choice = body.find("tool_choice"); choice != body.end() && !choice->is_null()) {
    if (choice->is_string()) {
      std::string c = choice->get<std::string>();
      if (c == "none") request.tool_choice = stack::ToolChoice::kNone;
      else if (c == "auto") request.tool_choice = stack::ToolChoice::kAuto;
      else if (c == "required") request.tool_choice = stack::ToolChoice::kRequired;
      else throw_bad(str("'tool_choice' must be none, auto, required or a function, got '", c, "'"), "tool_choice");
    } else if (choice->is_object() && choice->contains("function") && (*choice)["function"].is_object()) {
      std::string name = need_string((*choice)["function"], "name");
      bool known = false;
      for (const auto& tool : request.tools) known = known || tool["function"]["name"] == name;
      if (!known) throw_bad(str("'tool_choice' names the function '", name, "', which is not in 'tools'"), "tool_choice");
      request.tool_choice = stack::ToolChoice::kNamed;
      request.tool_choice_name = name;
    } else {
      throw_bad("'tool_choice' must be a string or {\"type\": \"function\", \"function\": {\"name\": ...}}", "tool_choice");
    }
  }
  request.logprobs = opt_bool(body, "logprobs").value_or(false);
  if (auto top = opt_int(body, "top_logprobs", 0, 20)) {
    if (!request.logprobs && *top > 0) throw_bad("'top_logprobs' needs 'logprobs': true", "top_logprobs");
    request.top_logprobs = static_cast<int32_t>(*top);
  }
  stack::Provider& provider = resolve(ctx, common.model);
  std::vector<GenerateRequest> requests = fan_out(request, common.n);

  struct State {
    std::string id, model;
    int64_t created = 0;
    bool stream = false, include_usage = false, head_sent = false;
    std::vector<std::string> texts;
    std::vector<std::vector<stack::TokenLogprobInfo>> logprobs;
    std::vector<GenerationResult> results;
    bool want_logprobs = false;
  };
  auto state = std::make_shared<State>();
  state->id = "chatcmpl-" + http.request_id;
  state->model = common.model;
  state->created = unix_now();
  state->stream = common.stream;
  state->include_usage = common.include_usage;
  state->want_logprobs = request.logprobs;
  state->texts.resize(requests.size());
  state->logprobs.resize(requests.size());
  state->results.resize(requests.size());
  auto channel = std::make_shared<ResponseChannel>();

  auto chunk = [state](Json choices) {
    return Json{{"id", state->id}, {"object", "chat.completion.chunk"}, {"created", state->created},
                {"model", state->model}, {"system_fingerprint", "llama-stack-cpp"}, {"choices", std::move(choices)}};
  };
  auto ensure_head = [state, channel, chunk]() {
    if (state->head_sent) return;
    state->head_sent = true;
    channel->begin_stream(200, "text/event-stream");
    for (size_t i = 0; i < state->texts.size(); ++i) {
      channel->write(sse(chunk(Json::array({{{"index", i},
                                              {"delta", {{"role", "assistant"}, {"content", ""}}},
                                              {"logprobs", nullptr},
                                              {"finish_reason", nullptr}}}))));
    }
  };
  GenerationCallbacks callbacks;
  callbacks.on_delta = [state, channel, chunk, ensure_head](size_t i, const GenerationDelta& delta) {
    if (!state->stream) {
      state->texts[i] += delta.text;
      state->logprobs[i].insert(state->logprobs[i].end(), delta.logprobs.begin(), delta.logprobs.end());
      return;
    }
    ensure_head();
    if (delta.text.empty() && delta.logprobs.empty()) return;
    Json choice = {{"index", i}, {"delta", {{"content", delta.text}}}, {"finish_reason", nullptr}};
    choice["logprobs"] = state->want_logprobs ? chat_logprobs(delta.logprobs) : Json(nullptr);
    channel->write(sse(chunk(Json::array({choice}))));
  };
  callbacks.on_choice_done = [state, channel, chunk, ensure_head](size_t i, const GenerationResult& result) {
    state->results[i] = result;
    name_tool_calls(state->results[i].tool_calls, state->id, i);
    if (!state->stream || result.finish == GenerationFinish::kError) return;
    ensure_head();
    const auto& calls = state->results[i].tool_calls;
    if (!calls.empty()) {
      channel->write(sse(chunk(Json::array(
          {{{"index", i}, {"delta", {{"tool_calls", tool_calls_json(calls, true)}}}, {"logprobs", nullptr},
            {"finish_reason", nullptr}}}))));
    }
    channel->write(sse(chunk(Json::array(
        {{{"index", i}, {"delta", Json::object()}, {"logprobs", nullptr}, {"finish_reason", openai_finish(result.finish)}}}))));
  };
  callbacks.on_all_done = [state, channel, chunk, ensure_head]() {
    std::vector<bool> counts_prompt(state->results.size(), false);
    if (!counts_prompt.empty()) counts_prompt[0] = true;
    const GenerationResult* failed = first_failure(state->results);
    if (state->stream) {
      ensure_head();
      end_stream(*channel, failed, state->include_usage, chunk(Json::array()), state->results, counts_prompt);
      return;
    }
    if (failed != nullptr) {
      channel->respond(openai_error_response(ApiError{.status = 500, .message = failed->error, .type = "server_error"}));
      return;
    }
    Json choices = Json::array();
    for (size_t i = 0; i < state->results.size(); ++i) {
      const GenerationResult& r = state->results[i];
      Json message = {{"role", "assistant"}, {"refusal", nullptr}};
      if (!r.tool_calls.empty()) {
        message["content"] = state->texts[i].empty() ? Json(nullptr) : Json(state->texts[i]);
        message["tool_calls"] = tool_calls_json(r.tool_calls, false);
      } else {
        message["content"] = state->texts[i];
      }
      choices.push_back({{"index", i},
                         {"message", message},
                         {"logprobs", state->want_logprobs ? chat_logprobs(state->logprobs[i]) : Json(nullptr)},
                         {"finish_reason", openai_finish(r.finish)}});
    }
    channel->respond(json_response(200, {{"id", state->id},
                                         {"object", "chat.completion"},
                                         {"created", state->created},
                                         {"model", state->model},
                                         {"system_fingerprint", "llama-stack-cpp"},
                                         {"choices", choices},
                                         {"usage", usage_json(state->results, counts_prompt)}}));
  };
  return start(ctx, provider, requests, channel, std::move(callbacks));
}

HandlerResult completions(ApiContext& ctx, HttpRequest& http) {
  Json body = parse_body(http);
  GenerateRequest request;
  Common common = read_common(body, request, "max_tokens", 16);  // the legacy API's default is 16
  if (opt_bool(body, "echo").value_or(false)) throw_bad("'echo' is not supported by this server yet", "echo");
  if (auto suffix = opt_string(body, "suffix"); suffix && !suffix->empty()) {
    throw_bad("'suffix' is not supported by this server yet", "suffix");
  }
  if (auto lp = opt_int(body, "logprobs", 0, 20)) {
    request.logprobs = true;
    request.top_logprobs = static_cast<int32_t>(*lp);
  }
  // prompt: "text" | ["text", ...] | [1, 2, 3] | [[1, 2], [3]]
  auto prompt = body.find("prompt");
  if (prompt == body.end() || prompt->is_null()) throw_bad("'prompt' is required", "prompt");
  std::vector<GenerateRequest> prompts;
  auto token_list = [](const Json& list) {
    std::vector<int32_t> ids;
    for (const Json& id : list) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
        throw_bad("'prompt' token ids must be non-negative integers", "prompt");
      }
      ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
    if (ids.empty()) throw_bad("'prompt' must not be empty", "prompt");
    return ids;
  };
  auto with = [&](auto set) {
    GenerateRequest r = request;
    set(r);
    prompts.push_back(std::move(r));
  };
  if (prompt->is_string()) {
    if (prompt->get<std::string>().empty()) throw_bad("'prompt' must not be empty", "prompt");
    with([&](GenerateRequest& r) { r.prompt_text = prompt->get<std::string>(); });
  } else if (prompt->is_array() && !prompt->empty()) {
    if ((*prompt)[0].is_number()) {
      with([&](GenerateRequest& r) { r.prompt_tokens = token_list(*prompt); });
    } else {
      if (prompt->size() > static_cast<size_t>(kMaxChoices)) throw_bad(str("at most ", kMaxChoices, " prompts"), "prompt");
      for (const Json& p : *prompt) {
        if (p.is_string() && !p.get<std::string>().empty()) {
          with([&](GenerateRequest& r) { r.prompt_text = p.get<std::string>(); });
        } else if (p.is_array()) {
          with([&](GenerateRequest& r) { r.prompt_tokens = token_list(p); });
        } else {
          throw_bad("'prompt' entries must be non-empty strings or token id lists", "prompt");
        }
      }
    }
  } else {
    throw_bad("'prompt' must be a non-empty string, a list of strings, or token ids", "prompt");
  }
  if (static_cast<int64_t>(prompts.size()) * common.n > kMaxChoices) {
    throw_bad(str("prompts x n must be at most ", kMaxChoices), "n");
  }
  std::vector<GenerateRequest> requests;
  std::vector<bool> counts_prompt;
  for (const GenerateRequest& p : prompts) {
    for (GenerateRequest& r : fan_out(p, common.n)) {
      counts_prompt.push_back(counts_prompt.size() % static_cast<size_t>(common.n) == 0);
      requests.push_back(std::move(r));
    }
  }
  stack::Provider& provider = resolve(ctx, common.model);

  struct State {
    std::string id, model;
    int64_t created = 0;
    bool stream = false, include_usage = false, head_sent = false, want_logprobs = false;
    std::vector<std::string> texts;
    std::vector<std::vector<stack::TokenLogprobInfo>> logprobs;
    std::vector<GenerationResult> results;
    std::vector<bool> counts_prompt;
  };
  auto state = std::make_shared<State>();
  state->id = "cmpl-" + http.request_id;
  state->model = common.model;
  state->created = unix_now();
  state->stream = common.stream;
  state->include_usage = common.include_usage;
  state->want_logprobs = request.logprobs;
  state->texts.resize(requests.size());
  state->logprobs.resize(requests.size());
  state->results.resize(requests.size());
  state->counts_prompt = counts_prompt;
  auto channel = std::make_shared<ResponseChannel>();
  auto chunk = [state](Json choices) {
    return Json{{"id", state->id}, {"object", "text_completion"}, {"created", state->created},
                {"model", state->model}, {"system_fingerprint", "llama-stack-cpp"}, {"choices", std::move(choices)}};
  };
  auto ensure_head = [state, channel]() {
    if (state->head_sent) return;
    state->head_sent = true;
    channel->begin_stream(200, "text/event-stream");
  };
  GenerationCallbacks callbacks;
  callbacks.on_delta = [state, channel, chunk, ensure_head](size_t i, const GenerationDelta& delta) {
    size_t offset = state->texts[i].size();
    state->texts[i] += delta.text;
    if (!state->stream) {
      state->logprobs[i].insert(state->logprobs[i].end(), delta.logprobs.begin(), delta.logprobs.end());
      return;
    }
    ensure_head();
    // Token-only deltas (a model without a tokenizer) still make one event per token, with empty
    // text, so that streaming clients can time them.
    if (delta.text.empty() && delta.logprobs.empty() && delta.tokens.empty()) return;
    channel->write(sse(chunk(Json::array(
        {{{"index", i},
          {"text", delta.text},
          {"logprobs", state->want_logprobs ? completion_logprobs(delta.logprobs, offset) : Json(nullptr)},
          {"finish_reason", nullptr}}}))));
  };
  callbacks.on_choice_done = [state, channel, chunk, ensure_head](size_t i, const GenerationResult& result) {
    state->results[i] = result;
    if (!state->stream || result.finish == GenerationFinish::kError) return;
    ensure_head();
    channel->write(sse(chunk(Json::array(
        {{{"index", i}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", openai_finish(result.finish)}}}))));
  };
  callbacks.on_all_done = [state, channel, chunk, ensure_head]() {
    const GenerationResult* failed = first_failure(state->results);
    if (state->stream) {
      ensure_head();
      end_stream(*channel, failed, state->include_usage, chunk(Json::array()), state->results, state->counts_prompt);
      return;
    }
    if (failed != nullptr) {
      channel->respond(openai_error_response(ApiError{.status = 500, .message = failed->error, .type = "server_error"}));
      return;
    }
    Json choices = Json::array();
    for (size_t i = 0; i < state->results.size(); ++i) {
      choices.push_back({{"index", i},
                         {"text", state->texts[i]},
                         {"logprobs", state->want_logprobs ? completion_logprobs(state->logprobs[i], 0) : Json(nullptr)},
                         {"finish_reason", openai_finish(state->results[i].finish)}});
    }
    channel->respond(json_response(200, {{"id", state->id},
                                         {"object", "text_completion"},
                                         {"created", state->created},
                                         {"model", state->model},
                                         {"system_fingerprint", "llama-stack-cpp"},
                                         {"choices", choices},
                                         {"usage", usage_json(state->results, state->counts_prompt)}}));
  };
  return start(ctx, provider, requests, channel, std::move(callbacks));
}

Handler guarded(ApiContext& ctx, HandlerResult (*f)(ApiContext&, HttpRequest&)) {
  return [&ctx, f](HttpRequest& request) -> HandlerResult {
    try {
      return f(ctx, request);
    } catch (const ApiError& e) {
      return openai_error_response(e);
    }
  };
}

}  // namespace

HttpResponse openai_error_response(const ApiError& error) {
  Json body = {{"error",
                {{"message", error.message},
                 {"type", error.type},
                 {"param", error.param.empty() ? Json(nullptr) : Json(error.param)},
                 {"code", error.code.empty() ? Json(nullptr) : Json(error.code)}}}};
  HttpResponse response = json_response(error.status, body);
  if (error.status == 429 || error.status == 503) response.headers.emplace_back("Retry-After", "1");
  return response;
}

Json model_object(const stack::ModelInfo& m) {
  return {{"id", m.id},
          {"object", "model"},
          {"created", m.created},
          {"owned_by", "llama-stack-cpp"},
          {"identifier", m.id},
          {"provider_id", m.provider_id},
          {"provider_resource_id", m.provider_resource_id},
          {"type", "model"},
          {"model_type", "llm"},
          {"metadata", {{"context_length", m.context_length}}},
          {"custom_metadata", {{"context_length", m.context_length}, {"provider_id", m.provider_id}}}};
}

std::vector<chat::ChatMessage> parse_openai_messages(const Json& messages) {
  if (!messages.is_array() || messages.empty()) throw_bad("'messages' must be a non-empty list", "messages");
  if (messages.size() > 4096) throw_bad("'messages' may have at most 4096 entries", "messages");
  std::vector<chat::ChatMessage> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const Json& m = messages[i];
    std::string where = str("messages[", i, "]");
    if (!m.is_object()) throw_bad(where + " must be an object", "messages");
    chat::ChatMessage message;
    std::optional<std::string> role = opt_string(m, "role");
    if (!role) throw_bad(where + ".role is required", "messages");
    if (*role == "developer") role = "system";
    if (*role != "system" && *role != "user" && *role != "assistant" && *role != "tool" && *role != "ipython") {
      throw_bad(str(where, ".role must be system, developer, user, assistant or tool, got '", *role, "'"), "messages");
    }
    message.role = *role;
    auto content = m.find("content");
    if (content != m.end() && !content->is_null()) {
      if (content->is_string()) {
        message.content = content->get<std::string>();
      } else if (content->is_array()) {
        for (const Json& part : *content) {
          if (!part.is_object() || opt_string(part, "type").value_or("") != "text") {
            throw_bad(where + ".content: only text parts are supported (no images or files)", "messages");
          }
          message.content += need_string(part, "text");
        }
      } else {
        throw_bad(where + ".content must be a string or a list of parts", "messages");
      }
    } else if (message.role != "assistant") {
      throw_bad(where + ".content is required", "messages");
    }
    if (auto calls = m.find("tool_calls"); calls != m.end() && !calls->is_null()) {
      if (message.role != "assistant" || !calls->is_array()) throw_bad(where + ".tool_calls must be a list on an assistant message", "messages");
      for (const Json& call : *calls) {
        if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) {
          throw_bad(where + ".tool_calls entries must be {\"id\", \"type\": \"function\", \"function\": {...}}", "messages");
        }
        const Json& f = call["function"];
        chat::ToolCall tc{.id = opt_string(call, "id").value_or(""), .name = need_string(f, "name")};
        std::string arguments = opt_string(f, "arguments").value_or("{}");
        tc.arguments = chat::OrderedJson::parse(arguments, nullptr, false);
        if (tc.arguments.is_discarded() || !tc.arguments.is_object()) {
          throw_bad(where + ".tool_calls[].function.arguments must be a JSON object in a string", "messages");
        }
        message.tool_calls.push_back(std::move(tc));
      }
    }
    if (message.role == "tool") message.tool_call_id = opt_string(m, "tool_call_id").value_or("");
    out.push_back(std::move(message));
  }
  return out;
}

chat::OrderedJson parse_openai_tools(const Json& tools) {
  if (!tools.is_array()) throw_bad("'tools' must be a list", "tools");
  if (tools.size() > 128) throw_bad("'tools' may have at most 128 entries", "tools");
  std::set<std::string> names;
  for (const Json& tool : tools) {
    if (!tool.is_object() || opt_string(tool, "type").value_or("function") != "function" || !tool.contains("function") ||
        !tool["function"].is_object()) {
      throw_bad("'tools' entries must be {\"type\": \"function\", \"function\": {\"name\", ...}}", "tools");
    }
    const Json& f = tool["function"];
    std::string name = need_string(f, "name");
    if (!names.insert(name).second) throw_bad(str("'tools' has the function '", name, "' twice"), "tools");
    if (auto p = f.find("parameters"); p != f.end() && !p->is_null() && !p->is_object()) {
      throw_bad(str("'tools': the parameters of '", name, "' must be a JSON schema object"), "tools");
    }
  }
  return chat::OrderedJson::parse(tools.dump());
}

void add_openai_routes(Router& router, ApiContext& ctx) {
  for (std::string prefix : {"/v1", "/v1/openai/v1"}) {
    router.add({.method = "POST", .pattern = prefix + "/chat/completions", .api = "openai", .handler = guarded(ctx, chat_completions)});
    router.add({.method = "POST", .pattern = prefix + "/completions", .api = "openai", .handler = guarded(ctx, completions)});
    router.add({.method = "GET", .pattern = prefix + "/models", .api = "openai", .handler = [&ctx](HttpRequest&) -> HandlerResult {
                  Json data = Json::array();
                  for (const stack::ModelInfo& m : ctx.stack.models()) data.push_back(model_object(m));
                  return json_response(200, {{"object", "list"}, {"data", data}});
                }});
  }
}

}  // namespace llm::server
