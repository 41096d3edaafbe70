// A Hugging Face model directory: which safetensors files make up the model, and whether the
// shard index agrees with the shards. The index is as hostile as the shards: its file names must
// be plain basenames, so it cannot point the reader outside the model directory.
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <vector>

#include "formats/safetensors/safetensors.h"
#include "util/json.h"
#include "util/mapped_file.h"
#include "util/str.h"

namespace llm {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kIndexName = "model.safetensors.index.json";
constexpr std::string_view kSingleName = "model.safetensors";

bool path_exists(const fs::path& path) {
  std::error_code error;
  return fs::exists(path, error);
}

// A shard named by the index must be a file directly inside the model directory.
Status check_shard_basename(const std::string& shard, const std::string& tensor, const std::string& index_path) {
  bool plain = !shard.empty() && shard != "." && shard != ".." &&
               shard.find_first_of(std::string_view("/\\\0", 3)) == std::string::npos;
  if (!plain) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(index_path, ": weight_map[\"", tensor, "\"] = \"", shard,
                          "\" must be a plain file name inside the model directory (no '/', '\\', '..')"));
  }
  return {};
}

// Reads each shard the index names once and checks that the weight_map and the shards agree
// exactly: every listed tensor is in its shard, every shard tensor is listed under that shard.
Result<TensorSource> read_indexed(const fs::path& dir, const fs::path& index_path) {
  const std::string index_name = index_path.string();
  Result<std::string> text = read_text_file(index_name);
  if (!text) return text.error();
  Result<Json> parsed = parse_json(*text, index_name);
  if (!parsed) return parsed.error();
  if (!parsed->is_object()) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(index_name, ": must be a JSON object, got ", parsed->type_name()));
  }
  auto map_it = parsed->find("weight_map");
  if (map_it == parsed->end() || !map_it->is_object()) {
    return make_error(ErrorCode::kInvalidFormat, str(index_name, ": \"weight_map\" must be an object of tensor -> file"));
  }
  if (map_it->empty()) return make_error(ErrorCode::kInvalidFormat, str(index_name, ": \"weight_map\" is empty"));
  if (map_it->size() > kSafetensorsMaxTensors) {
    return make_error(ErrorCode::kInvalidFormat, str(index_name, ": \"weight_map\" has ", map_it->size(),
                                                     " tensors, more than the limit of ", kSafetensorsMaxTensors));
  }

  std::map<std::string, std::string> tensor_to_shard;
  std::map<std::string, std::vector<std::string>> shard_to_tensors;  // sorted: deterministic read order
  for (const auto& [tensor, shard] : map_it->items()) {
    if (!shard.is_string()) {
      return make_error(ErrorCode::kInvalidFormat, str(index_name, ": weight_map[\"", tensor,
                                                       "\"] must be a file name string, got ", shard.dump()));
    }
    const std::string& shard_name = shard.get_ref<const std::string&>();
    Status name_ok = check_shard_basename(shard_name, tensor, index_name);
    if (!name_ok) return name_ok.error();
    tensor_to_shard.emplace(tensor, shard_name);
    shard_to_tensors[shard_name].push_back(tensor);
  }

  TensorSource merged;
  for (const auto& [shard_name, listed] : shard_to_tensors) {
    const std::string shard_path = (dir / shard_name).string();
    if (!path_exists(dir / shard_name)) {
      return make_error(ErrorCode::kNotFound, str(shard_path, ": missing shard listed in ", kIndexName));
    }
    Result<TensorSource> shard = read_safetensors(shard_path);
    if (!shard) return shard.error();
    for (const TensorEntry& entry : shard->tensors()) {
      auto it = tensor_to_shard.find(entry.name);
      if (it == tensor_to_shard.end()) {
        return make_error(ErrorCode::kInvalidFormat,
                          str(shard_path, ": tensor \"", entry.name, "\" is not listed in ", kIndexName));
      }
      if (it->second != shard_name) {
        return make_error(ErrorCode::kInvalidFormat, str(shard_path, ": tensor \"", entry.name, "\" is listed in ",
                                                         kIndexName, " under ", it->second));
      }
    }
    for (const std::string& tensor : listed) {
      if (shard->find(tensor) == nullptr) {
        return make_error(ErrorCode::kInvalidFormat, str(shard_path, ": tensor \"", tensor, "\" is listed in ",
                                                         kIndexName, " but absent from the shard"));
      }
    }
    Status status = merged.merge(std::move(shard).value());
    if (!status) return make_error(status.error().code, str(shard_path, ": ", status.error().message));
  }
  return merged;
}

// "model-00002-of-00003.safetensors" -> {2, 3}. Up to 9 digits each, so no overflow.
struct ShardName {
  uint64_t number = 0;
  uint64_t total = 0;
  size_t number_width = 0;
  std::string total_text;
};

std::optional<uint64_t> parse_digits(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

std::optional<ShardName> parse_shard_name(std::string_view name) {
  constexpr std::string_view kPrefix = "model-", kMiddle = "-of-", kSuffix = ".safetensors";
  if (name.size() < kPrefix.size() + kSuffix.size() || !name.starts_with(kPrefix) || !name.ends_with(kSuffix)) {
    return std::nullopt;
  }
  std::string_view core = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  size_t middle = core.find(kMiddle);
  if (middle == std::string_view::npos) return std::nullopt;
  std::string_view number_text = core.substr(0, middle), total_text = core.substr(middle + kMiddle.size());
  std::optional<uint64_t> number = parse_digits(number_text), total = parse_digits(total_text);
  if (!number || !total) return std::nullopt;
  return ShardName{*number, *total, number_text.size(), std::string(total_text)};
}

std::string shard_file_name(uint64_t number, size_t number_width, const std::string& total_text) {
  std::string digits = std::to_string(number);
  if (digits.size() < number_width) digits.insert(0, number_width - digits.size(), '0');
  return str("model-", digits, "-of-", total_text, ".safetensors");
}

// Finds model-K-of-N.safetensors files; nullopt if there are none, an error if the set is
// inconsistent or incomplete, else the file names in shard order.
Result<std::optional<std::vector<std::string>>> find_numbered_shards(const fs::path& dir) {
  std::error_code error;
  fs::directory_iterator it(dir, error);
  if (error) return make_error(ErrorCode::kIo, str(dir.string(), ": cannot list: ", error.message()));
  std::map<uint64_t, std::string> by_number;
  std::optional<ShardName> first;
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) return make_error(ErrorCode::kIo, str(dir.string(), ": cannot list: ", error.message()));
    std::string name = it->path().filename().string();
    std::optional<ShardName> shard = parse_shard_name(name);
    if (!shard) continue;
    if (!first) first = shard;
    if (shard->total != first->total) {
      return make_error(ErrorCode::kInvalidFormat, str(dir.string(), ": shard files disagree on the shard count: ",
                                                       name, " says ", shard->total, ", another says ",
                                                       first->total));
    }
    if (shard->number < 1 || shard->number > shard->total) {
      return make_error(ErrorCode::kInvalidFormat,
                        str((dir / name).string(), ": shard number ", shard->number, " is outside 1..",
                            shard->total));
    }
    auto [existing, inserted] = by_number.emplace(shard->number, name);
    if (!inserted) {
      return make_error(ErrorCode::kInvalidFormat, str(dir.string(), ": two files claim shard ", shard->number,
                                                       ": ", existing->second, " and ", name));
    }
  }
  if (error) return make_error(ErrorCode::kIo, str(dir.string(), ": cannot list: ", error.message()));
  if (!first) return std::optional<std::vector<std::string>>();
  // by_number holds distinct numbers in 1..total, so the set is complete iff it has total entries;
  // otherwise name the first gap.
  std::vector<std::string> names;
  for (uint64_t number = 1; number <= first->total; ++number) {
    auto found = by_number.find(number);
    if (found == by_number.end()) {
      std::string missing = shard_file_name(number, first->number_width, first->total_text);
      return make_error(ErrorCode::kNotFound, str((dir / missing).string(), ": missing shard (found ", by_number.size(),
                                                  " of ", first->total, " model-*-of-", first->total_text,
                                                  ".safetensors files)"));
    }
    names.push_back(found->second);
  }
  return std::optional<std::vector<std::string>>(std::move(names));
}

}  // namespace

Result<TensorSource> read_safetensors_dir(const std::string& dir) {
  const fs::path root(dir);
  std::error_code error;
  if (!fs::is_directory(root, error)) return make_error(ErrorCode::kNotFound, str(dir, ": not a directory"));

  if (path_exists(root / kIndexName)) return read_indexed(root, root / kIndexName);
  if (path_exists(root / kSingleName)) return read_safetensors((root / kSingleName).string());

  Result<std::optional<std::vector<std::string>>> shards = find_numbered_shards(root);
  if (!shards) return shards.error();
  if (!shards->has_value()) {
    return make_error(ErrorCode::kNotFound, str(dir, ": no ", kIndexName, ", ", kSingleName,
                                                " or model-*-of-*.safetensors files"));
  }
  TensorSource merged;
  for (const std::string& name : **shards) {
    const std::string shard_path = (root / name).string();
    Result<TensorSource> shard = read_safetensors(shard_path);
    if (!shard) return shard.error();
    // Two shards holding the same tensor name is an error, not a silent override.
    Status status = merged.merge(std::move(shard).value());
    if (!status) return make_error(status.error().code, str(shard_path, ": ", status.error().message));
  }
  return merged;
}

}  // namespace llm
