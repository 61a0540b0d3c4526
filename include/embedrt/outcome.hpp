// What a host that is not an actor gets back: the outcome of `runtime::embed`, the
// per-text outcome of `runtime::embed_many`, and the report of `runtime::stop`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>

#include <embedrt/embedding.hpp>
#include <embedrt/errors.hpp>

namespace embedrt {

/// What a host that is not an actor receives: the vectors, or why not.
class embed_outcome {
public:
  embed_outcome() = default;
  embed_outcome(embed_result x) : result_(std::move(x)) {}
  embed_outcome(embed_failure x) : failure_(std::move(x)) {}

  bool ok() const noexcept { return failure_.code == embed_errc::none; }
  explicit operator bool() const noexcept { return ok(); }

  /// The vectors; meaningful only when `ok()`.
  const embed_result& value() const& noexcept { return result_; }
  embed_result&& value() && noexcept { return std::move(result_); }

  /// Why the request failed; `code == none` when `ok()`.
  const embed_failure& error() const noexcept { return failure_; }

private:
  embed_result result_;
  embed_failure failure_;
};

/// The answer for one text of `embed_many`: its vector, or why not.
struct text_outcome {
  /// The vector; empty when the text failed.
  std::vector<float> embedding;
  /// Why the text failed; `code == none` when it has its vector.
  embed_failure failure;

  bool ok() const noexcept { return failure.code == embed_errc::none; }
};

/// What `embed_many` answers: one outcome per input text, in input order (a text that
/// fails costs only itself, like a line of the CLI).
struct embed_many_outcome {
  /// `texts[i]` answers input `i`; there are exactly as many as inputs.
  std::vector<text_outcome> texts;
  /// Tokens used, summed over the requests that succeeded.
  embedding_usage usage;
  /// The model that produced the vectors (empty when none did).
  std::string model;
  /// How many entries of `texts` failed.
  size_t failures = 0;

  /// True when every text has its vector.
  bool all_ok() const noexcept { return failures == 0; }
};

struct shutdown_report {
  /// Requests that finished (either way) during the grace period.
  uint64_t finished_in_grace = 0;
  /// Requests answered `shutting_down` when the grace period ended.
  uint64_t answered_shutting_down = 0;
};

inline bool operator==(const shutdown_report& x, const shutdown_report& y) {
  return x.finished_in_grace == y.finished_in_grace
         && x.answered_shutting_down == y.answered_shutting_down;
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, shutdown_report& x) {
  return f(caf::meta::type_name("shutdown_report"), x.finished_in_grace,
           x.answered_shutting_down);
}

} // namespace embedrt
