// Communicator: the collectives of one tensor-parallel group, seen from one rank. The forward
// pass calls them visibly (`comm.all_reduce_sum(h)` after a row-parallel linear); nothing is
// hidden in hooks. Every rank of the group calls the same collectives in the same order with
// the same sizes (all_gather: each rank its own size).
//
// Failures are loud and bounded: a collective that a peer never joins fails after the group's
// timeout, a failed or aborted group fails every later collective on every rank at once, and
// the error names the collective, the ranks that never arrived, and the cause. A failed group
// stays failed (the engine stops; the CLI exits non-zero).
//
// Tensors live in the rank's backend memory (TensorView on that Backend).
#pragma once

#include <string>

#include "core/tensor.h"
#include "util/result.h"

namespace llm {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string name() const = 0;  // "local", "threads (host-staged)", "nccl"

  // x (f32, any shape, same on every rank) <- the elementwise sum over ranks. Every rank gets
  // bitwise the same result (a fixed reduction order), so replicated state never drifts.
  virtual Status all_reduce_sum(TensorView x) = 0;

  // out <- every rank's `in` concatenated in rank order (flat bytes; ranks may contribute
  // different sizes, e.g. uneven vocab slices). in and out share a dtype; out.bytes() must be
  // the sum of the ranks' in.bytes(). With world 1, out may be in itself.
  virtual Status all_gather(TensorView in, TensorView out) = 0;

  // x <- root's x on every rank.
  virtual Status broadcast(TensorView x, int root) = 0;

  virtual Status barrier() = 0;

  // Fails the whole group now (every blocked and later collective returns an error naming
  // `reason`): used when this rank cannot go on, so its peers do not wait for the timeout.
  virtual void abort(const std::string& reason) = 0;
};

}  // namespace llm
