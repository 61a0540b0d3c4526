// The per-text bookkeeping of one `runtime::embed_many` call, without actors: which
// texts go out together (chunks of at most `chunk_size`, in input order), what each
// text's answer is, and when a refused chunk is split so that only its bad text fails.
//
// A chunk refused for a reason that may be one text's fault (`invalid_input`, or
// `upstream_rejected` with 400/413/422, the statuses the dispatcher bisects on) is
// split in halves, which go out before fresh chunks; a single text refused so keeps
// the error. Any other failure (shutting down, deadline, upstream unavailable, ...)
// is every text's of the chunk: splitting would only multiply the load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include <embedrt/embedding.hpp>
#include <embedrt/errors.hpp>
#include <embedrt/outcome.hpp>

namespace embedrt::host {

class bulk_plan {
public:
  /// Texts sent as one request: their input indices, ascending.
  using chunk = std::vector<size_t>;

  /// `chunk_size` 0 counts as 1.
  bulk_plan(size_t texts, uint32_t chunk_size);

  /// Chunks that can be sent now (split halves and the rest of the input).
  size_t chunks_waiting() const noexcept;

  /// Takes the next chunk to send: split halves first, then the next texts in order.
  /// Precondition: `chunks_waiting() > 0`.
  chunk next();

  /// `c` came back with one vector per text, in its order.
  void succeeded(const chunk& c, embed_result&& r);

  /// `c` was refused with `f`: split when `f` may be one text's fault and `c` holds
  /// more than one text, else each of its texts fails with `f` (for a single text,
  /// the message names its index in the whole call).
  void failed(const chunk& c, const embed_failure& f);

  /// Every text that is neither answered nor in flight fails with `f` (the runtime
  /// stops); nothing is waiting afterwards.
  void fail_waiting(const embed_failure& f);

  /// True once every text has its answer.
  bool finished() const noexcept { return answered_ == outcome_.texts.size(); }

  /// Texts answered so far.
  size_t answered() const noexcept { return answered_; }

  /// The outcome; call once, when `finished()`.
  embed_many_outcome take();

  /// Whether a refusal with `f` may be the fault of a single text of the request.
  static bool is_one_texts_fault(const embed_failure& f) noexcept;

private:
  void fail_one(size_t index, embed_failure f);

  size_t chunk_size_;
  /// First text not yet in any chunk.
  size_t next_index_ = 0;
  /// Halves of refused chunks, sent before fresh chunks (oldest input first).
  std::deque<chunk> split_;
  size_t answered_ = 0;
  embed_many_outcome outcome_;
};

} // namespace embedrt::host
