#include "model/config.h"

#include <algorithm>
#include <cmath>

#include "util/log.h"
#include "util/str.h"

namespace llm {
namespace {

Error invalid(const std::string& subject, const std::string& what) {
  return make_error(ErrorCode::kInvalidFormat, str(subject, ": ", what));
}

// Optional integer field: default when absent or null; an error when present with another type.
Result<int64_t> int_or(const Json& object, const char* key, int64_t fallback, const std::string& subject) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  return json_int(object, key, subject);
}

Result<double> number_or(const Json& object, const char* key, double fallback, const std::string& subject) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  return json_number(object, key, subject);
}

// Parses a rope scaling dict (HF rope_scaling or rope_parameters) into `scaling`.
Status parse_rope_scaling(const Json& dict, const std::string& subject, RopeScaling& scaling) {
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    auto it = dict.find(key);
    if (it != dict.end() && it->is_string()) {
      type = it->get<std::string>();
      break;
    }
  }
  if (type.empty() || type == "default") {
    scaling.type = RopeScalingType::kNone;
    return {};
  }
  Result<double> factor = number_or(dict, "factor", 1.0, subject);
  if (!factor) return factor.error();
  if (!(*factor > 0) || !std::isfinite(*factor)) return invalid(subject, str("rope scaling factor ", *factor));
  scaling.factor = *factor;
  if (type == "linear") {
    scaling.type = RopeScalingType::kLinear;
    return {};
  }
  if (type == "llama3") {
    scaling.type = RopeScalingType::kLlama3;
    Result<double> low = number_or(dict, "low_freq_factor", 1.0, subject);
    Result<double> high = number_or(dict, "high_freq_factor", 4.0, subject);
    Result<int64_t> original = int_or(dict, "original_max_position_embeddings", 8192, subject);
    if (!low) return low.error();
    if (!high) return high.error();
    if (!original) return original.error();
    if (!(*high > *low) || !(*low > 0) || *original <= 0) {
      return invalid(subject, str("llama3 rope scaling needs high_freq_factor > low_freq_factor > 0 and a positive "
                                  "original_max_position_embeddings, got ",
                                  *high, ", ", *low, ", ", *original));
    }
    scaling.low_freq_factor = *low;
    scaling.high_freq_factor = *high;
    scaling.original_max_position = *original;
    return {};
  }
  return make_error(ErrorCode::kUnsupported, str(subject, ": rope scaling type \"", type,
                                                 "\" is not supported (supported: default, linear, llama3)"));
}

Status parse_eos(const Json& config, const std::string& subject, std::vector<int32_t>& eos) {
  auto it = config.find("eos_token_id");
  if (it == config.end() || it->is_null()) return {};
  auto add = [&](const Json& value) -> Status {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > INT32_MAX) {
      return invalid(subject, str("eos_token_id must be a non-negative integer or a list of them, got ", value.dump()));
    }
    eos.push_back(static_cast<int32_t>(value.get<int64_t>()));
    return {};
  };
  if (it->is_array()) {
    for (const Json& value : *it) {
      Status status = add(value);
      if (!status) return status;
    }
    return {};
  }
  return add(*it);
}

}  // namespace

Status LlamaConfig::validate(const std::string& subject) const {
  auto positive = [&](const char* name, int64_t value) -> Status {
    if (value <= 0 || value > (int64_t{1} << 31)) return invalid(subject, str(name, " must be positive, got ", value));
    return {};
  };
  for (auto [name, value] : {std::pair{"dim", dim}, {"n_layers", n_layers}, {"n_heads", n_heads},
                             {"n_kv_heads", n_kv_heads}, {"head_dim", head_dim}, {"ffn_dim", ffn_dim},
                             {"vocab_size", vocab_size}, {"max_position", max_position}}) {
    Status status = positive(name, value);
    if (!status) return status;
  }
  if (n_heads % n_kv_heads != 0) {
    return invalid(subject, str(n_heads, " attention heads are not a multiple of ", n_kv_heads, " kv heads"));
  }
  if (head_dim % 2 != 0) return invalid(subject, str("head_dim ", head_dim, " must be even for RoPE"));
  if (!(norm_eps > 0) || !std::isfinite(norm_eps)) return invalid(subject, str("norm eps ", norm_eps));
  if (!(rope_theta > 0) || !std::isfinite(rope_theta)) return invalid(subject, str("rope theta ", rope_theta));
  for (int32_t id : eos_token_ids) {
    if (id >= vocab_size) return invalid(subject, str("eos token id ", id, " >= vocab size ", vocab_size));
  }
  if (bos_token_id && (*bos_token_id < 0 || *bos_token_id >= vocab_size)) {
    return invalid(subject, str("bos token id ", *bos_token_id, " outside vocab size ", vocab_size));
  }
  return {};
}

std::string LlamaConfig::summary() const {
  const char* scaling = "none";
  switch (rope_scaling.type) {
    case RopeScalingType::kNone: break;
    case RopeScalingType::kLinear: scaling = "linear"; break;
    case RopeScalingType::kLlama3: scaling = "llama3"; break;
  }
  return str("dim ", dim, ", ", n_layers, " layers, ", n_heads, " heads (", n_kv_heads, " kv, head_dim ", head_dim,
             "), ffn ", ffn_dim, ", vocab ", vocab_size, ", rope theta ", rope_theta, " scaling ", scaling,
             rope_scaling.type == RopeScalingType::kNone ? std::string() : str(" x", rope_scaling.factor),
             tied_embeddings ? ", tied embeddings" : "");
}

Result<LlamaConfig> parse_hf_config(const Json& config, const std::string& subject) {
  if (!config.is_object()) return invalid(subject, "not a JSON object");
  auto model_type = config.find("model_type");
  if (model_type != config.end() && (!model_type->is_string() || model_type->get<std::string>() != "llama")) {
    return make_error(ErrorCode::kUnsupported,
                      str(subject, ": model_type ", model_type->dump(), " is not supported (expected \"llama\")"));
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    auto it = config.find(key);
    if (it != config.end() && it->is_boolean() && it->get<bool>()) {
      return make_error(ErrorCode::kUnsupported, str(subject, ": ", key, " = true is not supported"));
    }
  }
  LlamaConfig out;
  Result<int64_t> dim = json_int(config, "hidden_size", subject);
  Result<int64_t> layers = json_int(config, "num_hidden_layers", subject);
  Result<int64_t> heads = json_int(config, "num_attention_heads", subject);
  Result<int64_t> ffn = json_int(config, "intermediate_size", subject);
  Result<int64_t> vocab = json_int(config, "vocab_size", subject);
  for (const auto* r : {&dim, &layers, &heads, &ffn, &vocab}) {
    if (!*r) return r->error();
  }
  out.dim = *dim;
  out.n_layers = *layers;
  out.n_heads = *heads;
  out.ffn_dim = *ffn;
  out.vocab_size = *vocab;
  if (out.n_heads <= 0) return invalid(subject, str("num_attention_heads must be positive, got ", out.n_heads));
  Result<int64_t> kv_heads = int_or(config, "num_key_value_heads", out.n_heads, subject);
  Result<int64_t> head_dim = int_or(config, "head_dim", out.dim / out.n_heads, subject);
  Result<double> eps = number_or(config, "rms_norm_eps", 1e-6, subject);
  Result<int64_t> max_position = int_or(config, "max_position_embeddings", 4096, subject);
  if (!kv_heads) return kv_heads.error();
  if (!head_dim) return head_dim.error();
  if (!eps) return eps.error();
  if (!max_position) return max_position.error();
  out.n_kv_heads = *kv_heads;
  out.head_dim = *head_dim;
  out.norm_eps = *eps;
  out.max_position = *max_position;
  auto tied = config.find("tie_word_embeddings");
  out.tied_embeddings = tied != config.end() && tied->is_boolean() && tied->get<bool>();

  // Newer transformers write rope_parameters {rope_type, rope_theta, factor, ...}; older ones a
  // top-level rope_theta and an optional rope_scaling dict.
  auto parameters = config.find("rope_parameters");
  if (parameters != config.end() && parameters->is_object()) {
    Result<double> theta = number_or(*parameters, "rope_theta", 10000.0, subject);
    if (!theta) return theta.error();
    out.rope_theta = *theta;
    Status status = parse_rope_scaling(*parameters, subject, out.rope_scaling);
    if (!status) return status.error();
  } else {
    Result<double> theta = number_or(config, "rope_theta", 10000.0, subject);
    if (!theta) return theta.error();
    out.rope_theta = *theta;
    auto scaling = config.find("rope_scaling");
    if (scaling != config.end() && !scaling->is_null()) {
      if (!scaling->is_object()) return invalid(subject, str("rope_scaling must be an object, got ", scaling->dump()));
      Status status = parse_rope_scaling(*scaling, subject, out.rope_scaling);
      if (!status) return status.error();
    }
  }
  auto bos = config.find("bos_token_id");
  if (bos != config.end() && bos->is_number_integer()) out.bos_token_id = static_cast<int32_t>(bos->get<int64_t>());
  Status eos = parse_eos(config, subject, out.eos_token_ids);
  if (!eos) return eos.error();
  Status valid = out.validate(subject);
  if (!valid) return valid.error();
  return out;
}

Status merge_generation_config(const Json& generation_config, const std::string& subject, LlamaConfig& config) {
  if (!generation_config.is_object()) return invalid(subject, "not a JSON object");
  std::vector<int32_t> eos;
  Status status = parse_eos(generation_config, subject, eos);
  if (!status) return status;
  for (int32_t id : eos) {
    if (id >= config.vocab_size) return invalid(subject, str("eos token id ", id, " >= vocab size ", config.vocab_size));
    if (std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), id) == config.eos_token_ids.end()) {
      config.eos_token_ids.push_back(id);
    }
  }
  return {};
}

int64_t meta_ffn_dim(int64_t dim, int64_t multiple_of, std::optional<double> ffn_dim_multiplier) {
  int64_t hidden = 2 * (4 * dim) / 3;
  if (ffn_dim_multiplier) hidden = static_cast<int64_t>(*ffn_dim_multiplier * static_cast<double>(hidden));
  return multiple_of * ((hidden + multiple_of - 1) / multiple_of);
}

Result<LlamaConfig> parse_meta_params(const Json& params_in, const std::string& subject,
                                      const Json* sibling_hf_config) {
  if (!params_in.is_object()) return invalid(subject, "not a JSON object");
  // Some releases nest the model arguments under "model".
  const Json& params = params_in.contains("model") && params_in["model"].is_object() ? params_in["model"] : params_in;
  LlamaConfig out;
  Result<int64_t> dim = json_int(params, "dim", subject);
  Result<int64_t> layers = json_int(params, "n_layers", subject);
  Result<int64_t> heads = json_int(params, "n_heads", subject);
  if (!dim) return dim.error();
  if (!layers) return layers.error();
  if (!heads) return heads.error();
  out.dim = *dim;
  out.n_layers = *layers;
  out.n_heads = *heads;
  if (out.n_heads <= 0 || out.dim <= 0) return invalid(subject, str("dim ", out.dim, " / n_heads ", out.n_heads));
  Result<int64_t> kv_heads = int_or(params, "n_kv_heads", out.n_heads, subject);
  Result<int64_t> vocab = int_or(params, "vocab_size", -1, subject);
  Result<int64_t> multiple_of = int_or(params, "multiple_of", 256, subject);
  Result<double> eps = number_or(params, "norm_eps", 1e-5, subject);
  // Llama 2's params.json has no rope_theta; its code used 10000.
  Result<double> theta = number_or(params, "rope_theta", 10000.0, subject);
  for (const auto* r : {&kv_heads, &vocab, &multiple_of}) {
    if (!*r) return r->error();
  }
  if (!eps) return eps.error();
  if (!theta) return theta.error();
  if (*multiple_of <= 0) return invalid(subject, str("multiple_of must be positive, got ", *multiple_of));
  std::optional<double> multiplier;
  if (params.contains("ffn_dim_multiplier") && !params["ffn_dim_multiplier"].is_null()) {
    Result<double> m = json_number(params, "ffn_dim_multiplier", subject);
    if (!m) return m.error();
    multiplier = *m;
  }
  out.n_kv_heads = *kv_heads;
  out.vocab_size = *vocab;  // -1: filled from the embedding by the loader
  out.head_dim = out.dim / out.n_heads;
  out.ffn_dim = meta_ffn_dim(out.dim, *multiple_of, multiplier);
  out.norm_eps = *eps;
  out.rope_theta = *theta;
  out.max_position = 4096;
  auto scaled = params.find("use_scaled_rope");
  if (scaled != params.end() && scaled->is_boolean() && scaled->get<bool>()) {
    out.rope_scaling.type = RopeScalingType::kLlama3;
    out.rope_scaling.factor = 8.0;  // llama-models' hard-coded value, right for 3.1 only
    out.max_position = 131072;
    if (params.contains("rope_scaling_factor")) {  // Llama 4-style explicit factor
      Result<double> factor = json_number(params, "rope_scaling_factor", subject);
      if (!factor) return factor.error();
      out.rope_scaling.factor = *factor;
    } else if (sibling_hf_config != nullptr) {
      Result<LlamaConfig> hf = parse_hf_config(*sibling_hf_config, "config.json beside " + subject);
      if (hf && hf->rope_scaling.type == RopeScalingType::kLlama3) {
        out.rope_scaling = hf->rope_scaling;
      }
    } else {
      log_warning(subject, ": use_scaled_rope without a factor; using llama-models' 8 (Llama 3.1). Llama 3.2 "
                           "1B/3B need 32: put config.json beside params.json or add \"rope_scaling_factor\"");
    }
  }
  if (out.vocab_size == -1) return out;  // validated by the loader once the vocab is known
  Status valid = out.validate(subject);
  if (!valid) return valid.error();
  return out;
}

}  // namespace llm
