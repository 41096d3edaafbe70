// Finds a model in the user's Ollama store (layout: shared/reference/llama-stack.md 7.1-7.2):
// <root>/manifests/<host>/<namespace>/<model>/<tag> is a JSON manifest whose layers point at
// content-addressed blobs <root>/blobs/sha256-<hex>. The model layer is the GGUF file.
// Nothing here trusts the store: names, digests and sizes are validated before any path is built.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/ollama/ollama_name.h"
#include "util/json.h"
#include "util/result.h"

namespace llm {

// The store root is `root` if set, else `env_ollama_models`, else `env_home`/.ollama/models.
// The environment comes in as values so tests never touch process globals.
struct OllamaStoreOptions {
  std::string root;
  std::string env_ollama_models;  // $OLLAMA_MODELS
  std::string env_home;           // $HOME
};

// Options filled from the process environment (for the CLI).
OllamaStoreOptions ollama_store_options_from_environment();

// The store root the options select; kNotFound if none can be determined.
Result<std::string> ollama_store_root(const OllamaStoreOptions& options);

inline constexpr uint64_t kOllamaMaxManifestBytes = 1 << 20;
inline constexpr uint64_t kOllamaMaxSmallLayerBytes = 1 << 20;  // params, template, system

struct OllamaModel {
  OllamaName name;
  std::string manifest_path;
  std::string model_path;    // the GGUF blob
  std::string model_digest;  // "sha256:<hex>"
  uint64_t model_size = 0;
  std::optional<Json> params;                 // params layer: {"stop": [...], "num_ctx": ...}
  std::optional<std::string> template_text;   // Go text/template chat template
  std::optional<std::string> system_prompt;   // default system prompt
};

// Resolves a reference ("ollama://llama3.1:8b", "llama3.1", "ns/model:tag" ...) to its blobs.
// Errors: kInvalidArgument for a bad name, kNotFound for a missing manifest or blob,
// kInvalidFormat for a broken manifest (no or several model layers, bad digest, size mismatch).
Result<OllamaModel> resolve_ollama_model(std::string_view reference, const OllamaStoreOptions& options);

// Every model in the store with a readable manifest path, as display names ("llama3.1:8b"),
// sorted. Entries whose path parts are not valid names are skipped. An absent store is empty.
Result<std::vector<std::string>> list_ollama_models(const OllamaStoreOptions& options);

}  // namespace llm
