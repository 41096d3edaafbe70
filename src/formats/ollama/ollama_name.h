// Ollama model references: "ollama://llama3.1:8b", "ollama:llama3.1", "namespace/model:tag",
// "host/namespace/model:tag". Defaults as in Ollama's types/model/name.go: host
// registry.ollama.ai, namespace library, tag latest. Every part becomes a path component in the
// user's store, so parts are validated strictly (no "..", no '/', only [A-Za-z0-9._-]).
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace llm {

inline constexpr std::string_view kOllamaDefaultHost = "registry.ollama.ai";
inline constexpr std::string_view kOllamaDefaultNamespace = "library";
inline constexpr std::string_view kOllamaDefaultTag = "latest";

struct OllamaName {
  std::string host;
  std::string model_namespace;
  std::string model;
  std::string tag;

  // Shortest form that names the same model: "llama3.1:8b", "me/mine:latest", "host/ns/m:t".
  std::string display() const;
  // Path of the manifest below <root>/manifests: "<host>/<namespace>/<model>/<tag>".
  std::string manifest_relative_path() const;
};

// Parses and validates a reference; an "ollama://" or "ollama:" prefix is optional.
Result<OllamaName> parse_ollama_name(std::string_view reference);

// Checks one part of a name; `what` names it in errors ("model", "tag" ...).
Status validate_ollama_name_part(std::string_view part, std::string_view what);

}  // namespace llm
