#include "formats/ollama/ollama_store.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "util/mapped_file.h"
#include "util/str.h"

namespace llm {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kModelMediaType = "application/vnd.ollama.image.model";
constexpr std::string_view kParamsMediaType = "application/vnd.ollama.image.params";
constexpr std::string_view kTemplateMediaType = "application/vnd.ollama.image.template";
constexpr std::string_view kSystemMediaType = "application/vnd.ollama.image.system";

struct Layer {
  std::string media_type;
  std::string hex;  // the 64 hex digits of the sha256 digest
  uint64_t size = 0;
};

// ^sha256[:-][0-9a-f]{64}$ -> the hex part. Lowercase only: blob file names are lowercase.
std::optional<std::string> digest_hex(std::string_view digest) {
  if (digest.size() != 7 + 64 || !digest.starts_with("sha256") || (digest[6] != ':' && digest[6] != '-')) {
    return std::nullopt;
  }
  std::string_view hex = digest.substr(7);
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return std::string(hex);
}

Result<Layer> parse_layer(const Json& json, size_t index, const std::string& subject) {
  const std::string layer_subject = str(subject, " layer ", index);
  if (!json.is_object()) return make_error(ErrorCode::kInvalidFormat, str(layer_subject, ": expected an object"));
  Result<std::string> media_type = json_string(json, "mediaType", layer_subject);
  if (!media_type) return media_type.error();
  Result<std::string> digest = json_string(json, "digest", layer_subject);
  if (!digest) return digest.error();
  Result<int64_t> size = json_int(json, "size", layer_subject);
  if (!size) return size.error();
  std::optional<std::string> hex = digest_hex(*digest);
  if (!hex) {
    return make_error(ErrorCode::kInvalidFormat, str(layer_subject, ": digest \"", *digest,
                                                     "\" does not match sha256:<64 lowercase hex digits>"));
  }
  if (*size < 0) return make_error(ErrorCode::kInvalidFormat, str(layer_subject, ": negative size ", *size));
  return Layer{*media_type, *hex, static_cast<uint64_t>(*size)};
}

// The blob of `layer`; it must be a regular file of exactly the manifest's size.
Result<std::string> blob_path(const std::string& root, const Layer& layer, const std::string& subject) {
  fs::path path = fs::path(root) / "blobs" / ("sha256-" + layer.hex);
  std::error_code error;
  fs::file_status status = fs::status(path, error);
  if (error || !fs::is_regular_file(status)) {
    return make_error(ErrorCode::kNotFound, str(subject, ": blob ", path.string(), " for ", layer.media_type,
                                                " is missing (model not fully pulled?)"));
  }
  uint64_t size = fs::file_size(path, error);
  if (error) return make_error(ErrorCode::kIo, str(subject, ": cannot stat ", path.string(), ": ", error.message()));
  if (size != layer.size) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": blob ", path.string(), " has ", size,
                                                     " bytes, the manifest says ", layer.size,
                                                     " (incomplete or corrupted download)"));
  }
  return path.string();
}

// Reads a small text layer (params, template, system), refusing anything large.
Result<std::string> read_small_layer(const std::string& root, const Layer& layer, const std::string& subject) {
  if (layer.size > kOllamaMaxSmallLayerBytes) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": ", layer.media_type, " layer of ", layer.size,
                                                     " bytes exceeds the limit of ", kOllamaMaxSmallLayerBytes));
  }
  Result<std::string> path = blob_path(root, layer, subject);
  if (!path) return path.error();
  return read_text_file(*path, kOllamaMaxSmallLayerBytes);
}

// At most one layer of `media_type`; nullptr if none.
Result<const Layer*> single_layer(const std::vector<Layer>& layers, std::string_view media_type,
                                  const std::string& subject) {
  const Layer* found = nullptr;
  for (const Layer& layer : layers) {
    if (layer.media_type != media_type) continue;
    if (found != nullptr) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": more than one ", media_type, " layer"));
    }
    found = &layer;
  }
  return found;
}

}  // namespace

OllamaStoreOptions ollama_store_options_from_environment() {
  OllamaStoreOptions options;
  if (const char* models = std::getenv("OLLAMA_MODELS")) options.env_ollama_models = models;
  if (const char* home = std::getenv("HOME")) options.env_home = home;
  return options;
}

Result<std::string> ollama_store_root(const OllamaStoreOptions& options) {
  if (!options.root.empty()) return options.root;
  if (!options.env_ollama_models.empty()) return options.env_ollama_models;
  if (!options.env_home.empty()) return (fs::path(options.env_home) / ".ollama" / "models").string();
  return make_error(ErrorCode::kNotFound, "ollama store: no root given and neither OLLAMA_MODELS nor HOME is set");
}

Result<OllamaModel> resolve_ollama_model(std::string_view reference, const OllamaStoreOptions& options) {
  Result<OllamaName> name = parse_ollama_name(reference);
  if (!name) return name.error();
  Result<std::string> root = ollama_store_root(options);
  if (!root) return root.error();

  OllamaModel model;
  model.name = *name;
  model.manifest_path = (fs::path(*root) / "manifests" / name->manifest_relative_path()).string();
  const std::string subject = str("ollama model '", name->display(), "'");
  std::error_code error;
  if (!fs::is_regular_file(model.manifest_path, error)) {
    return make_error(ErrorCode::kNotFound,
                      str(subject, " not found: no manifest at ", model.manifest_path, " (try `ollama pull ",
                          name->display(), "`)"));
  }
  Result<std::string> text = read_text_file(model.manifest_path, kOllamaMaxManifestBytes);
  if (!text) return text.error();
  const std::string manifest_subject = str(subject, " manifest ", model.manifest_path);
  Result<Json> manifest = parse_json(*text, manifest_subject);
  if (!manifest) return manifest.error();
  if (!manifest->is_object() || !manifest->contains("layers") || !(*manifest)["layers"].is_array()) {
    return make_error(ErrorCode::kInvalidFormat, str(manifest_subject, ": expected an object with a \"layers\" array"));
  }
  std::vector<Layer> layers;
  const Json& layer_array = (*manifest)["layers"];
  for (size_t i = 0; i < layer_array.size(); ++i) {
    Result<Layer> layer = parse_layer(layer_array[i], i, manifest_subject);
    if (!layer) return layer.error();
    layers.push_back(std::move(*layer));
  }

  Result<const Layer*> model_layer = single_layer(layers, kModelMediaType, manifest_subject);
  if (!model_layer) return model_layer.error();
  if (*model_layer == nullptr) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(manifest_subject, ": no ", kModelMediaType, " layer (not a GGUF model?)"));
  }
  Result<std::string> path = blob_path(*root, **model_layer, subject);
  if (!path) return path.error();
  model.model_path = *path;
  model.model_digest = "sha256:" + (*model_layer)->hex;
  model.model_size = (*model_layer)->size;

  Result<const Layer*> params = single_layer(layers, kParamsMediaType, manifest_subject);
  if (!params) return params.error();
  if (*params != nullptr) {
    Result<std::string> params_text = read_small_layer(*root, **params, subject);
    if (!params_text) return params_text.error();
    Result<Json> params_json = parse_json(*params_text, str(subject, " params"));
    if (!params_json) return params_json.error();
    if (!params_json->is_object()) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, " params: expected a JSON object"));
    }
    model.params = std::move(*params_json);
  }
  for (auto [media_type, target] : {std::pair{kTemplateMediaType, &model.template_text},
                                    std::pair{kSystemMediaType, &model.system_prompt}}) {
    Result<const Layer*> layer = single_layer(layers, media_type, manifest_subject);
    if (!layer) return layer.error();
    if (*layer == nullptr) continue;
    Result<std::string> layer_text = read_small_layer(*root, **layer, subject);
    if (!layer_text) return layer_text.error();
    *target = std::move(*layer_text);
  }
  return model;
}

Result<std::vector<std::string>> list_ollama_models(const OllamaStoreOptions& options) {
  Result<std::string> root = ollama_store_root(options);
  if (!root) return root.error();
  std::vector<std::string> names;
  const fs::path manifests = fs::path(*root) / "manifests";
  std::error_code error;
  if (!fs::is_directory(manifests, error)) return names;
  // Exactly four levels: host / namespace / model / tag. Directory iteration that fails part way
  // (permissions) skips that branch rather than failing the listing.
  auto children = [](const fs::path& dir, bool want_directories) {
    std::vector<fs::path> out;
    std::error_code error;
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
      std::error_code status_error;
      bool ok = want_directories ? it->is_directory(status_error) : it->is_regular_file(status_error);
      if (ok && !status_error) out.push_back(it->path());
    }
    return out;
  };
  for (const fs::path& host : children(manifests, true)) {
    for (const fs::path& model_namespace : children(host, true)) {
      for (const fs::path& model : children(model_namespace, true)) {
        for (const fs::path& tag : children(model, false)) {
          OllamaName name{host.filename().string(), model_namespace.filename().string(), model.filename().string(),
                          tag.filename().string()};
          bool valid = validate_ollama_name_part(name.host, "host").ok() &&
                       validate_ollama_name_part(name.model_namespace, "namespace").ok() &&
                       validate_ollama_name_part(name.model, "model").ok() &&
                       validate_ollama_name_part(name.tag, "tag").ok();
          if (valid) names.push_back(name.display());
        }
      }
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace llm
