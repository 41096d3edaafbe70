// Logging to stderr (stdout belongs to the CLI). Levels are chosen by the caller's config, not globals.
#pragma once

#include <string>

#include "util/str.h"

namespace llm {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Writes "[level] message" to stderr if level >= the process threshold (LLAMA_LOG_LEVEL env var:
// debug|info|warning|error; default info). Thread-safe.
void log_message(LogLevel level, const std::string& message);

template <class... Args>
void log_info(const Args&... args) { log_message(LogLevel::kInfo, str(args...)); }
template <class... Args>
void log_warning(const Args&... args) { log_message(LogLevel::kWarning, str(args...)); }
template <class... Args>
void log_debug(const Args&... args) { log_message(LogLevel::kDebug, str(args...)); }

}  // namespace llm
