// The world of one rank: every collective is the identity. A single-device model uses it, so
// the TP=1 forward pass is the same code as every other TP size.
#pragma once

#include <cstring>

#include "dist/communicator.h"
#include "util/str.h"

namespace llm {

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string name() const override { return "local"; }
  Status all_reduce_sum(TensorView) override { return status(); }
  Status all_gather(TensorView in, TensorView out) override {
    LLM_CHECK(in.data == out.data && in.bytes() == out.bytes(),
              "local all_gather: out must be in itself (a world of one has nothing to gather)");
    return status();
  }
  Status broadcast(TensorView, int root) override {
    LLM_CHECK(root == 0, "local broadcast from rank ", root);
    return status();
  }
  Status barrier() override { return status(); }
  void abort(const std::string& reason) override { aborted_ = reason; }

 private:
  Status status() const {
    if (aborted_.empty()) return {};
    return make_error(ErrorCode::kInternal, str("communicator aborted: ", aborted_));
  }
  std::string aborted_;
};

}  // namespace llm
