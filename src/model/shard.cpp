#include "model/shard.h"

#include <cstring>

#include "util/str.h"

namespace llm {
namespace {

Range intersect(Range a, Range b) {
  Range r{std::max(a.begin, b.begin), std::min(a.end, b.end)};
  if (r.end < r.begin) r.end = r.begin;
  return r;
}

// Copies rows [rows) x columns [columns) of `part` (part coordinates) to `dst`, whose rows hold
// dst_row_bytes, starting at byte dst_column_offset of each row.
void copy_block(TensorView part, Range rows, Range columns, std::byte* dst, int64_t dst_row_bytes,
                int64_t dst_column_offset) {
  int64_t part_row_bytes = dtype_row_bytes(part.dtype, part.shape[1]);
  int64_t begin = dtype_row_bytes(part.dtype, columns.begin);
  int64_t length = dtype_row_bytes(part.dtype, columns.size());
  const auto* src = static_cast<const std::byte*>(part.data);
  for (int64_t r = rows.begin; r < rows.end; ++r) {
    std::memcpy(dst + (r - rows.begin) * dst_row_bytes + dst_column_offset, src + r * part_row_bytes + begin,
                static_cast<size_t>(length));
  }
}

}  // namespace

Result<TensorView> slice_weight(const WeightSource& source, Range rows, Range columns,
                                std::vector<std::vector<std::byte>>& owned) {
  LLM_CHECK(source.shape.rank() == 2 && rows.begin >= 0 && rows.end <= source.shape[0] && columns.begin >= 0 &&
                columns.end <= source.shape[1] && rows.size() > 0 && columns.size() > 0,
            source.name, ": slice rows ", rows, " columns ", columns, " of ", source.shape);
  int64_t block = dtype_info(source.dtype).block_size;
  if (columns.begin % block != 0 || columns.size() % block != 0) {
    return make_error(ErrorCode::kUnsupported,
                      str(source.name, ": columns ", columns, " cut through ", dtype_name(source.dtype), " blocks of ",
                          block, " (quantized weights split along dim 1 only on block boundaries)"));
  }
  const int dim = source.split_dim;
  // Where each part sits in the whole tensor along split_dim; parts past the end hold replicated
  // copies and are never read.
  std::vector<Range> extents;
  int64_t offset = 0;
  for (const TensorView& part : source.parts) {
    extents.push_back(Range{offset, offset + part.shape[dim]});
    offset += part.shape[dim];
  }
  const Range wanted = dim == 0 ? rows : columns;
  for (size_t p = 0; p < source.parts.size(); ++p) {
    const TensorView& part = source.parts[p];
    if (wanted.begin < extents[p].begin || wanted.end > extents[p].end) continue;
    // Inside one part: a view when every column of the part is wanted (whole rows are contiguous).
    Range part_rows = dim == 0 ? Range{rows.begin - extents[p].begin, rows.end - extents[p].begin} : rows;
    Range part_columns = dim == 1 ? Range{columns.begin - extents[p].begin, columns.end - extents[p].begin} : columns;
    if (part_columns.begin == 0 && part_columns.end == part.shape[1]) return part.rows(part_rows.begin, part_rows.end);
    break;
  }
  // Copy: the slice crosses parts, or takes some columns of each row.
  TensorView out{nullptr, source.dtype, Shape{rows.size(), columns.size()}};
  owned.emplace_back(static_cast<size_t>(out.bytes()));
  out.data = owned.back().data();
  int64_t out_row_bytes = dtype_row_bytes(source.dtype, columns.size());
  for (size_t p = 0; p < source.parts.size(); ++p) {
    Range whole_rows = dim == 0 ? intersect(rows, extents[p]) : rows;
    Range whole_columns = dim == 1 ? intersect(columns, extents[p]) : columns;
    if (whole_rows.size() == 0 || whole_columns.size() == 0) continue;
    int64_t shift = extents[p].begin;
    Range part_rows = dim == 0 ? Range{whole_rows.begin - shift, whole_rows.end - shift} : whole_rows;
    Range part_columns = dim == 1 ? Range{whole_columns.begin - shift, whole_columns.end - shift} : whole_columns;
    auto* dst = static_cast<std::byte*>(out.data) + (whole_rows.begin - rows.begin) * out_row_bytes;
    copy_block(source.parts[p], part_rows, part_columns, dst, out_row_bytes,
               dtype_row_bytes(source.dtype, whole_columns.begin - columns.begin));
  }
  return out;
}

Result<ShardWeights> build_shard_weights(const LlamaWeightSources& sources, const LlamaConfig& c,
                                         const RankShard& shard) {
  ShardWeights out;
  const int64_t hd = c.head_dim;
  const Range q_rows{shard.q_heads.begin * hd, shard.q_heads.end * hd};
  const Range kv_rows{shard.kv_heads.begin * hd, shard.kv_heads.end * hd};
  const Range all_dim{0, c.dim};
  // A synthetic weight's slice: no bytes, the block the device will make.
  auto made = [](const WeightSource& source, Shape shape, int64_t row0, int64_t col0,
                 std::optional<SyntheticFill>& fill) {
    fill = *source.synthetic;
    fill->row0 = row0;
    fill->col0 = col0;
    fill->columns = source.shape[source.shape.rank() - 1];
    return TensorView{nullptr, source.dtype, shape};
  };
  // Norms: replicated, one part.
  auto whole = [&](const WeightSource& source, std::optional<SyntheticFill>& fill) {
    return source.synthetic ? made(source, source.shape, 0, 0, fill) : source.parts[0];
  };
  Status status;
  auto take = [&](const WeightSource& source, Range rows, Range columns, TensorView& slot,
                  std::optional<SyntheticFill>& fill) {
    if (!status) return;
    if (source.synthetic) {
      slot = made(source, Shape{rows.size(), columns.size()}, rows.begin, columns.begin, fill);
      return;
    }
    Result<TensorView> view = slice_weight(source, rows, columns, out.owned);
    if (!view) {
      status = view.error();
      return;
    }
    slot = *view;
  };
  LlamaWeights& w = out.weights;
  LlamaTensors<std::optional<SyntheticFill>>& f = out.synthetic;
  if (shard.first_stage()) take(sources.token_embedding, shard.vocab, all_dim, w.token_embedding, f.token_embedding);
  for (int64_t layer = shard.layers.begin; layer < shard.layers.end; ++layer) {
    const LayerTensors<WeightSource>& s = sources.layers[static_cast<size_t>(layer)];
    LayerWeights l;
    LayerTensors<std::optional<SyntheticFill>> lf;
    l.attention_norm = whole(s.attention_norm, lf.attention_norm);
    l.ffn_norm = whole(s.ffn_norm, lf.ffn_norm);
    take(s.wq, q_rows, all_dim, l.wq, lf.wq);
    take(s.wk, kv_rows, all_dim, l.wk, lf.wk);
    take(s.wv, kv_rows, all_dim, l.wv, lf.wv);
    take(s.wo, all_dim, q_rows, l.wo, lf.wo);
    take(s.w1, shard.ffn, all_dim, l.w1, lf.w1);
    take(s.w3, shard.ffn, all_dim, l.w3, lf.w3);
    take(s.w2, all_dim, shard.ffn, l.w2, lf.w2);
    w.layers.push_back(l);
    f.layers.push_back(lf);
  }
  if (shard.last_stage()) {
    w.output_norm = whole(sources.output_norm, f.output_norm);
    if (c.tied_embeddings && shard.first_stage()) {
      w.output = w.token_embedding;  // the same rows: one copy at most
      f.output = f.token_embedding;
      out.tied_output = true;
    } else {
      take(sources.output, shard.vocab, all_dim, w.output, f.output);
    }
  }
  if (!status) return status.error();
  for (const auto& buffer : out.owned) out.copied_bytes += static_cast<int64_t>(buffer.size());
  return out;
}

}  // namespace llm
