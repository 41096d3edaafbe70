// Result<T> / Status: expected failures (bad file, bad request, unsupported model) travel as values.
// Broken invariants are LLM_CHECK (check.h) instead.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace llm {

enum class ErrorCode {
  kInvalidArgument,  // the caller (user, request, CLI flag) asked for something invalid
  kNotFound,         // a file, tensor, model or key that should exist does not
  kIo,               // the OS refused a read/open/mmap
  kInvalidFormat,    // a file's bytes do not follow its format (truncated, inconsistent, hostile)
  kUnsupported,      // valid input that we do not handle (yet)
  kOutOfMemory,      // an allocation or a memory plan did not fit
  kUnavailable,      // busy right now (queue full, shutting down): try again later
  kInternal,
};

const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // "invalid format: blk.3.attn_q.weight: ..."
  std::string to_string() const;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result<void>: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error make_error(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace llm
