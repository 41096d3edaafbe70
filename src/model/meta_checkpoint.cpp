#include "model/meta_checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>

#include "formats/pytorch/checkpoint.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mapped_file.h"
#include "util/str.h"

namespace llm {
namespace {

namespace fs = std::filesystem;

Error invalid(const std::string& what) { return make_error(ErrorCode::kInvalidFormat, what); }

// Which dim the MP shards of `name` were split along (llama-models checkpoint.py): -1 for
// replicated tensors. The embedding is split along dim 0 in Llama 3 and along dim 1 in Llama 2
// (ParallelEmbedding); the shard's own shape tells which.
int split_dim(const std::string& name, const Shape& shard_shape, const LlamaConfig& config, int n_shards) {
  static const std::regex kColumn(R"((^|\.)(attention\.w[qkv]|feed_forward\.w[13])\.weight$|^output\.weight$)");
  static const std::regex kRow(R"((^|\.)(attention\.wo|feed_forward\.w2)\.weight$)");
  if (name == "tok_embeddings.weight") {
    return shard_shape.rank() == 2 && shard_shape[1] * n_shards == config.dim && n_shards > 1 ? 1 : 0;
  }
  if (std::regex_search(name, kColumn)) return 0;
  if (std::regex_search(name, kRow)) return 1;
  return -1;
}

// Describes the shards' `parts` (same dtype, same rank) as one tensor tiled along `dim`.
Result<NamedTensor> describe_split(const std::string& name, const std::vector<const TensorEntry*>& parts, int dim) {
  const TensorEntry& first = *parts[0];
  if (first.shape.rank() != 2) return invalid(str(name, ": split tensors must be 2-D, got ", first.shape));
  if (dtype_info(first.dtype).quantized) {
    return make_error(ErrorCode::kUnsupported, str(name, ": quantized MP shards are not supported"));
  }
  NamedTensor tensor{first.dtype, first.shape, {}, dim};
  int64_t total = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const TensorEntry& part = *parts[i];
    if (part.dtype != first.dtype || part.shape.rank() != 2 || part.shape[1 - dim] != first.shape[1 - dim]) {
      return invalid(str(name, ": shard ", i, " has ", dtype_name(part.dtype), " ", part.shape, ", shard 0 has ",
                         dtype_name(first.dtype), " ", first.shape, " (they must agree except along dim ", dim, ")"));
    }
    tensor.parts.push_back(TensorView{const_cast<std::byte*>(part.bytes.data()), part.dtype, part.shape});
    total += part.shape[dim];
  }
  tensor.shape[dim] = total;
  return tensor;
}

// When MP exceeds n_kv_heads, llama-models repeats wk/wv (tiling the whole matrix) before
// splitting, so the parts hold `copies` identical tiles: the tensor is the first tile.
Result<NamedTensor> deduplicate_kv(const std::string& name, NamedTensor tensor, int64_t expected_rows) {
  if (tensor.shape[0] == expected_rows) return tensor;
  if (tensor.shape[0] % expected_rows != 0) {
    return invalid(str(name, ": shards hold ", tensor.shape[0], " rows in total, expected ", expected_rows,
                       " (or a whole multiple of it when kv heads are replicated)"));
  }
  tensor.shape[0] = expected_rows;
  return tensor;
}

// A checkpoint saved for MP=N holds 1/N of wq in each shard: when shards are missing at the end
// (consolidated.00.pth present, consolidated.01.pth gone) the numbering has no gap, but the
// shards hold too little. Name the missing files instead of a shape mismatch.
Status check_shard_count(const std::string& dir, const TensorSource& first, int n_shards, const LlamaConfig& config) {
  const TensorEntry* wq = first.find("layers.0.attention.wq.weight");
  int64_t whole = config.n_heads * config.head_dim;
  if (wq == nullptr || wq->shape.rank() != 2 || wq->shape[0] <= 0 || whole % wq->shape[0] != 0) return {};
  int64_t saved_for = whole / wq->shape[0];
  if (saved_for <= n_shards) return {};
  char missing[32];
  std::snprintf(missing, sizeof(missing), "consolidated.%02d.pth", n_shards);
  return invalid(str(dir, ": ", missing, " is missing: the checkpoint was saved for MP=", saved_for,
                     " (consolidated.00.pth holds ", wq->shape, " of layers.0.attention.wq.weight, the model needs [",
                     whole, ", ", config.dim, "]) but only ", n_shards, " shard(s) are present"));
}

}  // namespace

Result<std::vector<std::string>> find_meta_shards(const std::string& dir) {
  static const std::regex kShard(R"(consolidated\.(\d{2,})\.pth)");
  std::map<int, std::string> shards;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch match;
    std::string file = entry.path().filename().string();
    if (std::regex_match(file, match, kShard) && match[1].str().size() < 6) {
      shards[std::stoi(match[1].str())] = entry.path().string();
    }
  }
  if (ec) return make_error(ErrorCode::kIo, str(dir, ": cannot list: ", ec.message()));
  if (shards.empty()) return make_error(ErrorCode::kNotFound, str(dir, ": no consolidated.NN.pth files"));
  std::vector<std::string> paths;
  int expected = 0;
  for (const auto& [index, path] : shards) {
    if (index != expected) {
      char name[32];
      std::snprintf(name, sizeof(name), "consolidated.%02d.pth", expected);
      return invalid(str(dir, ": ", name, " is missing (found ", shards.size(), " shards up to consolidated.",
                         shards.rbegin()->first, ")"));
    }
    paths.push_back(path);
    ++expected;
  }
  return paths;
}

Result<std::unique_ptr<MetaCheckpoint>> load_meta_checkpoint(const std::string& dir) {
  std::string params_path = (fs::path(dir) / "params.json").string();
  Result<std::string> params_text = read_text_file(params_path, 1 << 20);
  if (!params_text) return params_text.error();
  Result<Json> params = parse_json(*params_text, params_path);
  if (!params) return params.error();
  // An HF download keeps Meta weights in original/ with config.json one level up.
  std::optional<Json> sibling;
  for (const fs::path& candidate : {fs::path(dir) / "config.json", fs::path(dir).parent_path() / "config.json"}) {
    if (!fs::exists(candidate)) continue;
    Result<std::string> text = read_text_file(candidate.string(), 1 << 20);
    if (!text) continue;
    Result<Json> json = parse_json(*text, candidate.string());
    if (json) sibling = std::move(*json);
    break;
  }
  Result<LlamaConfig> config = parse_meta_params(*params, params_path, sibling ? &*sibling : nullptr);
  if (!config) return config.error();
  Result<std::vector<std::string>> shard_paths = find_meta_shards(dir);
  if (!shard_paths) return shard_paths.error();

  auto checkpoint = std::make_unique<MetaCheckpoint>();
  checkpoint->config = *config;
  checkpoint->n_shards = static_cast<int>(shard_paths->size());
  for (const std::string& path : *shard_paths) {
    Result<TensorSource> source = read_pytorch_checkpoint(path);
    if (!source) return source.error();
    checkpoint->sources.push_back(std::move(*source));
  }
  const TensorSource& first = checkpoint->sources[0];
  for (size_t s = 1; s < checkpoint->sources.size(); ++s) {
    if (checkpoint->sources[s].size() != first.size()) {
      return invalid(str((*shard_paths)[s], ": ", checkpoint->sources[s].size(), " tensors, ", (*shard_paths)[0],
                         " has ", first.size(), " (shards of one checkpoint hold the same names)"));
    }
  }
  int n = checkpoint->n_shards;
  LlamaConfig& cfg = checkpoint->config;
  Status complete = check_shard_count(dir, first, n, cfg);
  if (!complete) return complete.error();
  for (const TensorEntry& entry : first.tensors()) {
    std::vector<const TensorEntry*> parts;
    for (size_t s = 0; s < checkpoint->sources.size(); ++s) {
      const TensorEntry* part = checkpoint->sources[s].find(entry.name);
      if (part == nullptr) return invalid(str((*shard_paths)[s], ": tensor ", entry.name, " is missing"));
      parts.push_back(part);
    }
    int dim = n == 1 ? -1 : split_dim(entry.name, entry.shape, cfg, n);
    if (dim < 0) {  // replicated (or MP=1): shard 0's bytes
      checkpoint->tensors[entry.name] = whole_tensor(entry.dtype, entry.shape, entry.bytes.data());
      continue;
    }
    Result<NamedTensor> tensor = describe_split(entry.name, parts, dim);
    if (!tensor) return tensor.error();
    static const std::regex kKv(R"(attention\.w[kv]\.weight$)");
    if (std::regex_search(entry.name, kKv)) {
      tensor = deduplicate_kv(entry.name, std::move(*tensor), cfg.n_kv_heads * cfg.head_dim);
      if (!tensor) return tensor.error();
    }
    checkpoint->tensors[entry.name] = std::move(*tensor);
  }
  // Llama 2 params.json says vocab_size -1: the embedding knows.
  auto embedding = checkpoint->tensors.find("tok_embeddings.weight");
  if (cfg.vocab_size <= 0 && embedding != checkpoint->tensors.end() && embedding->second.shape.rank() == 2) {
    cfg.vocab_size = embedding->second.shape[0];
  }
  Status valid = cfg.validate(params_path);
  if (!valid) return valid.error();
  log_info("meta checkpoint ", dir, ": ", n, " shard(s)");
  return checkpoint;
}

}  // namespace llm
