#include "stack/inline_provider.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <utility>

#include "stack/stop_strings.h"
#include "stack/tool_calls.h"
#include "tokenizer/detokenizer.h"
#include "util/log.h"
#include "util/str.h"

namespace llm::stack {

const char* generation_finish_name(GenerationFinish finish) {
  switch (finish) {
    case GenerationFinish::kStop: return "stop";
    case GenerationFinish::kLength: return "length";
    case GenerationFinish::kToolCalls: return "tool_calls";
    case GenerationFinish::kCancelled: return "cancelled";
    case GenerationFinish::kError: return "error";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

int64_t parameter_count(const LlamaConfig& c) {
  int64_t q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
  int64_t per_layer = c.dim * q * 2 + c.dim * kv * 2 + 3 * c.dim * c.ffn_dim + 2 * c.dim;
  return c.vocab_size * c.dim * (c.tied_embeddings ? 1 : 2) + c.n_layers * per_layer + c.dim;
}

// Bytes on disk and the newest modification time of a model file or directory.
void disk_facts(const std::string& path, int64_t& size_bytes, int64_t& mtime) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto account = [&](const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    size_bytes += st.st_size;
    mtime = std::max<int64_t>(mtime, st.st_mtime);
  };
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) account(entry.path());
  } else {
    account(path);
  }
}

std::string default_model_id(const std::string& path) {
  std::filesystem::path p(path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();
  std::string name = p.filename().string();
  // A Hugging Face snapshot's directory names say little ("hf"); use the parent too.
  if ((name == "hf" || name == "original" || name.rfind("hf-", 0) == 0) && p.has_parent_path()) {
    name = p.parent_path().filename().string() + "/" + name;
  }
  if (name.rfind("ollama://", 0) == 0) name = name.substr(9);
  return name.empty() ? "default" : name;
}

}  // namespace

// Turns one request's token events into text deltas and its end into a GenerationResult. Runs on
// the scheduler thread.
class InlineProvider::Observer final : public RequestObserver {
 public:
  struct Setup {
    const Tokenizer* tokenizer = nullptr;
    std::shared_ptr<GenerationSink> sink;
    std::vector<std::string> stop;
    bool detect_tools = false;
    bool logprobs = false;
    std::vector<int32_t> prompt_ids;
    std::vector<int32_t> end_tokens;  // eos / eot / eom: not text
    int32_t eom = -1;
    int32_t python_tag = -1;
    Scheduler* scheduler = nullptr;
    ServingMetrics* metrics = nullptr;
  };

  explicit Observer(Setup setup) : s_(std::move(setup)), matcher_(s_.stop) {
    if (s_.tokenizer != nullptr) {
      detokenizer_ = std::make_unique<StreamingDetokenizer>(*s_.tokenizer, DecodeOptions{.skip_special = true});
    }
    tool_state_ = s_.detect_tools ? ToolState::kUndecided : ToolState::kText;
    result_.prompt_ids = s_.prompt_ids;
  }

  // The scheduler id, known once submit() returned (tokens may arrive before that).
  void set_id(uint64_t id) {
    bool cancel_now;
    {
      std::lock_guard lock(mutex_);
      id_ = id;
      cancel_now = stop_requested_;
    }
    if (cancel_now) s_.scheduler->cancel(id);
  }

  void on_token(const TokenEvent& event) override {
    auto now = Clock::now();
    if (have_token_time_) s_.metrics->inter_token_seconds.observe(std::chrono::duration<double>(now - last_token_).count());
    have_token_time_ = true;
    last_token_ = now;
    result_.output_ids.push_back(event.token);
    if (matcher_.matched()) return;  // a stop string ended the text; the cancel is on its way

    GenerationDelta delta;
    delta.tokens.push_back(event.token);
    if (s_.logprobs && event.logprob) delta.logprobs.push_back(logprob_info(event));
    bool is_end = std::find(s_.end_tokens.begin(), s_.end_tokens.end(), event.token) != s_.end_tokens.end();
    if (is_end) {
      result_.end_of_message = event.token == s_.eom;
    } else if (event.token == s_.python_tag && s_.detect_tools) {
      tool_state_ = ToolState::kTool;
    } else if (detokenizer_) {
      Result<std::string> piece = detokenizer_->push(event.token);
      if (piece) route_text(*piece, delta);
    }
    if (matcher_.matched()) request_stop();
    // Without a tokenizer there is never text: each token still goes out as its own delta.
    if (!delta.text.empty() || !delta.logprobs.empty() || !detokenizer_) s_.sink->on_delta(delta);
  }

  void on_finish(FinishReason reason, const RequestStats& stats) override {
    GenerationDelta tail;
    if (!matcher_.matched() && detokenizer_) route_text(detokenizer_->finish(), tail);
    if (!matcher_.matched()) emit_text(matcher_.finish(), tail);
    switch (reason) {
      case FinishReason::kStop: result_.finish = GenerationFinish::kStop; break;
      case FinishReason::kLength: result_.finish = GenerationFinish::kLength; break;
      case FinishReason::kCancelled:
        result_.finish = matcher_.matched() ? GenerationFinish::kStop : GenerationFinish::kCancelled;
        break;
      case FinishReason::kError:
        result_.finish = GenerationFinish::kError;
        result_.error = "the engine failed while running this request";
        break;
    }
    if (tool_state_ == ToolState::kUndecided) {
      tail.text += tool_text_;
    } else if (tool_state_ == ToolState::kTool) {
      std::optional<std::vector<chat::ToolCall>> calls = parse_llama3_tool_calls(tool_text_);
      if (calls && result_.finish != GenerationFinish::kCancelled && result_.finish != GenerationFinish::kError) {
        result_.tool_calls = std::move(*calls);
        result_.finish = GenerationFinish::kToolCalls;
      } else {
        tail.text += tool_text_;  // not a well-formed call: it is text after all
      }
    }
    if (!tail.text.empty()) s_.sink->on_delta(tail);
    result_.usage = GenerationUsage{.prompt_tokens = stats.prompt_tokens,
                                    .completion_tokens = stats.generated_tokens,
                                    .cached_prompt_tokens = stats.cached_prompt_tokens,
                                    .queue_seconds = stats.queue_seconds,
                                    .first_token_seconds = stats.first_token_seconds,
                                    .total_seconds = stats.total_seconds};
    ServingMetrics& m = *s_.metrics;
    if (stats.generated_tokens > 0) m.time_to_first_token_seconds.observe(stats.first_token_seconds);
    m.request_seconds.observe(stats.total_seconds);
    m.prompt_tokens += stats.prompt_tokens;
    m.generated_tokens += stats.generated_tokens;
    if (result_.finish == GenerationFinish::kCancelled) ++m.generations_cancelled;
    else if (result_.finish == GenerationFinish::kError) ++m.generations_failed;
    else ++m.generations_finished;
    s_.sink->on_done(result_);
  }

 private:
  enum class ToolState { kText, kUndecided, kTool };

  TokenLogprobInfo logprob_info(const TokenEvent& event) const {
    TokenLogprobInfo info{.token = event.token, .logprob = *event.logprob};
    auto bytes_of = [&](int32_t id) -> std::string {
      if (s_.tokenizer == nullptr) return {};
      Result<std::string> b = s_.tokenizer->token_to_bytes(id);
      return b ? *b : std::string();
    };
    info.bytes = bytes_of(event.token);
    for (const TokenLogprob& alt : event.top_logprobs) {
      info.top.push_back(TokenAlternative{.token = alt.token, .bytes = bytes_of(alt.token), .logprob = alt.logprob});
    }
    return info;
  }

  // Detokenized text -> stop strings -> tool-call detection -> the delta.
  void route_text(const std::string& piece, GenerationDelta& delta) {
    emit_text(matcher_.push(piece), delta);
  }

  void emit_text(const std::string& text, GenerationDelta& delta) {
    if (text.empty()) return;
    switch (tool_state_) {
      case ToolState::kText: delta.text += text; return;
      case ToolState::kTool: tool_text_ += text; return;
      case ToolState::kUndecided: {
        tool_text_ += text;
        size_t first = tool_text_.find_first_not_of(" \t\r\n");
        if (first == std::string::npos) return;  // only blanks so far
        if (looks_like_tool_call(tool_text_.substr(first, 10)) ||
            (tool_text_.size() - first < 10 &&
             std::string_view("<function=").starts_with(std::string_view(tool_text_).substr(first)))) {
          tool_state_ = ToolState::kTool;
        } else {
          tool_state_ = ToolState::kText;
          delta.text += std::exchange(tool_text_, {});
        }
        return;
      }
    }
  }

  void request_stop() {
    uint64_t id;
    {
      std::lock_guard lock(mutex_);
      stop_requested_ = true;
      id = id_;
    }
    if (id != 0) s_.scheduler->cancel(id);
  }

  Setup s_;
  StopStringMatcher matcher_;
  std::unique_ptr<StreamingDetokenizer> detokenizer_;
  ToolState tool_state_ = ToolState::kText;
  std::string tool_text_;
  GenerationResult result_;
  Clock::time_point last_token_;
  bool have_token_time_ = false;
  std::mutex mutex_;  // id_, stop_requested_
  uint64_t id_ = 0;
  bool stop_requested_ = false;
};

InlineProvider::InlineProvider(InlineEngineParts parts, const InlineProviderOptions& options, ServingMetrics& metrics)
    : parts_(std::move(parts)), metrics_(metrics) {
  const LlamaConfig& config = parts_.runner->config();
  info_.id = options.model_id.empty() ? default_model_id(parts_.model->path) : options.model_id;
  info_.provider_id = id_;
  info_.provider_resource_id = parts_.model->path;
  info_.context_length = static_cast<int32_t>(config.max_position);
  info_.vocab_size = static_cast<int32_t>(config.vocab_size);
  info_.parameter_count = parameter_count(config);
  info_.format = checkpoint_format_name(parts_.model->format);
  disk_facts(parts_.model->path, info_.size_bytes, info_.created);
  if (parts_.tokenizer) info_.chat_template = parts_.tokenizer->chat_template();
  scheduler_ = std::make_unique<Scheduler>(*parts_.runner, *parts_.kv, options.scheduler);
  scheduler_->start();
}

InlineProvider::~InlineProvider() { stop(); }

void InlineProvider::stop() {
  if (scheduler_) scheduler_->stop();
}

Result<std::vector<int32_t>> InlineProvider::build_prompt(const GenerateRequest& request) const {
  auto bad = [](std::string message) { return make_error(ErrorCode::kInvalidArgument, std::move(message)); };
  if (request.prompt_tokens) return *request.prompt_tokens;
  const Tokenizer* tokenizer = parts_.tokenizer.get();
  if (tokenizer == nullptr) {
    return bad(str("model ", info_.id, " has no tokenizer: send the prompt as token ids"));
  }
  if (request.prompt_text) {
    return tokenizer->encode(*request.prompt_text,
                             EncodeOptions{.add_bos = !request.raw, .parse_special = request.raw});
  }
  if (!request.messages) return bad("the request has no prompt and no messages");
  chat::ChatRenderOptions render;
  render.tools = request.tool_choice == ToolChoice::kNone ? chat::OrderedJson() : request.tools;
  const SpecialTokenIds& special = tokenizer->special_ids();
  auto token_text = [&](int32_t id, const char* fallback) -> std::string {
    if (id < 0) return fallback;
    Result<std::string> text = tokenizer->token_to_bytes(id);
    return text ? *text : std::string(fallback);
  };
  render.bos_token = special.bos >= 0 ? token_text(special.bos, "") : std::string();
  render.eos_token = token_text(special.eos, "</s>");
  Result<std::string> text = tokenizer->chat_template().empty()
                                 ? chat::render_llama3(*request.messages, render)
                                 : chat::render_chat(tokenizer->chat_template(), *request.messages, render);
  if (!text) return bad(str("cannot render the chat: ", text.error().message));
  return tokenizer->encode(*text, EncodeOptions{.add_bos = false, .parse_special = true});
}

Result<uint64_t> InlineProvider::generate(const GenerateRequest& request, std::shared_ptr<GenerationSink> sink) {
  auto bad = [](std::string message) { return make_error(ErrorCode::kInvalidArgument, std::move(message)); };
  Result<std::vector<int32_t>> prompt = build_prompt(request);
  if (!prompt) {
    Error e = prompt.error();
    if (e.code != ErrorCode::kUnavailable) e.code = ErrorCode::kInvalidArgument;
    return e;
  }
  if (prompt->empty()) return bad("the prompt is empty");
  const int64_t context = info_.context_length;
  const int64_t kv_capacity = static_cast<int64_t>(parts_.kv->pool().n_blocks()) * parts_.kv->block_size();
  const int64_t limit = std::min(context, kv_capacity);
  const int64_t n_prompt = static_cast<int64_t>(prompt->size());
  if (n_prompt >= limit) {
    return bad(str("This model's maximum context length is ", limit, " tokens. However, your prompt has ", n_prompt,
                   " tokens, which leaves no room for an answer. (context_length_exceeded)"));
  }
  int64_t max_tokens = request.max_tokens ? *request.max_tokens : limit - n_prompt;
  if (n_prompt + max_tokens > limit) {
    return bad(str("This model's maximum context length is ", limit, " tokens. However, you requested ",
                   n_prompt + max_tokens, " tokens (", n_prompt, " in the messages, ", max_tokens,
                   " in the completion). Please reduce the length of the messages or completion. "
                   "(context_length_exceeded)"));
  }
  RequestOptions options;
  options.max_tokens = static_cast<int32_t>(max_tokens);
  options.sampling = request.sampling;
  options.ignore_eos = request.ignore_eos;
  options.logprobs = request.logprobs || request.top_logprobs > 0;
  options.top_logprobs = request.top_logprobs;

  Observer::Setup setup;
  const Tokenizer* tokenizer = parts_.tokenizer.get();
  setup.tokenizer = tokenizer;
  setup.sink = std::move(sink);
  setup.stop = request.stop;
  setup.detect_tools = !request.tools.is_null() && !request.tools.empty() && request.tool_choice != ToolChoice::kNone;
  setup.logprobs = options.logprobs;
  setup.prompt_ids = *prompt;
  setup.end_tokens = parts_.runner->config().eos_token_ids;
  if (tokenizer != nullptr) {
    const SpecialTokenIds& special = tokenizer->special_ids();
    for (int32_t id : {special.eos, special.eot, special.eom}) {
      if (id >= 0) setup.end_tokens.push_back(id);
    }
    setup.eom = special.eom;
    setup.python_tag = tokenizer->token_id("<|python_tag|>").value_or(-1);
  }
  if (!request.ignore_eos) options.stop_tokens = setup.end_tokens;
  setup.scheduler = scheduler_.get();
  setup.metrics = &metrics_;
  auto observer = std::make_shared<Observer>(std::move(setup));
  Result<uint64_t> id = scheduler_->submit(Request{.prompt = std::move(*prompt), .options = options, .observer = observer});
  if (!id) return id.error();
  observer->set_id(*id);
  return *id;
}

void InlineProvider::cancel(uint64_t generation_id) { scheduler_->cancel(generation_id); }

Result<std::vector<int32_t>> InlineProvider::tokenize(const std::string& model, const std::string& text) const {
  if (!parts_.tokenizer) return make_error(ErrorCode::kUnsupported, str("model ", info_.id, " has no tokenizer"));
  return parts_.tokenizer->encode(text, EncodeOptions{.add_bos = false, .parse_special = false});
}

ProviderStats InlineProvider::stats() const {
  SchedulerStats s = scheduler_->stats();
  return ProviderStats{.waiting = s.waiting,
                       .running = s.running,
                       .kv_blocks_total = s.kv_blocks_total,
                       .kv_blocks_free = s.kv_blocks_free,
                       .kv_blocks_cached = s.kv_blocks_cached,
                       .preemptions = s.preemptions};
}

}  // namespace llm::stack
