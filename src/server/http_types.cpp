#include "server/http_types.h"

#include <utility>

namespace llm::server {

void ResponseChannel::push(Item item, size_t bytes) {
  std::function<void()> waker, cancel_hook;
  {
    std::lock_guard lock(mutex_);
    if (finished_ || cancelled_) return;
    if (item.kind == Item::Kind::kFull || item.kind == Item::Kind::kEnd) finished_ = true;
    pending_bytes_ += bytes;
    items_.push_back(std::move(item));
    waker = waker_;
    if (pending_bytes_ > max_pending_bytes_) {  // the client reads slower than we produce
      cancelled_ = true;
      cancel_hook = std::move(cancel_hook_);
    }
  }
  if (cancel_hook) cancel_hook();
  if (waker) waker();
}

void ResponseChannel::respond(HttpResponse response) {
  size_t bytes = response.body.size();
  push(Item{.kind = Item::Kind::kFull, .response = std::move(response)}, bytes);
}

void ResponseChannel::begin_stream(int status, std::string content_type) {
  push(Item{.kind = Item::Kind::kHead, .response = HttpResponse{.status = status, .content_type = std::move(content_type)}}, 0);
}

void ResponseChannel::write(std::string chunk) {
  if (chunk.empty()) return;
  size_t bytes = chunk.size();
  push(Item{.kind = Item::Kind::kChunk, .data = std::move(chunk)}, bytes);
}

void ResponseChannel::end() { push(Item{.kind = Item::Kind::kEnd}, 0); }

void ResponseChannel::set_cancel_hook(std::function<void()> hook) {
  {
    std::lock_guard lock(mutex_);
    if (!cancelled_) {
      cancel_hook_ = std::move(hook);
      return;
    }
  }
  hook();
}

void ResponseChannel::set_waker(std::function<void()> waker) {
  bool pending;
  {
    std::lock_guard lock(mutex_);
    waker_ = waker;
    pending = !items_.empty();
  }
  if (pending && waker) waker();
}

std::deque<ResponseChannel::Item> ResponseChannel::take() {
  std::lock_guard lock(mutex_);
  pending_bytes_ = 0;
  return std::exchange(items_, {});
}

void ResponseChannel::cancel() {
  std::function<void()> hook;
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return;
    cancelled_ = true;
    hook = std::move(cancel_hook_);
  }
  if (hook) hook();
}

bool ResponseChannel::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

bool ResponseChannel::finished() const {
  std::lock_guard lock(mutex_);
  return finished_;
}

}  // namespace llm::server
