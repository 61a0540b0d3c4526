#include "src/host/bulk_plan.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace embedrt::host {

bulk_plan::bulk_plan(size_t texts, uint32_t chunk_size)
  : chunk_size_(std::max<size_t>(chunk_size, 1)) {
  outcome_.texts.resize(texts);
}

size_t bulk_plan::chunks_waiting() const noexcept {
  auto rest = outcome_.texts.size() - next_index_;
  return split_.size() + (rest + chunk_size_ - 1) / chunk_size_;
}

bulk_plan::chunk bulk_plan::next() {
  if (!split_.empty()) {
    auto c = std::move(split_.front());
    split_.pop_front();
    return c;
  }
  auto last = std::min(outcome_.texts.size(), next_index_ + chunk_size_);
  chunk c;
  c.reserve(last - next_index_);
  for (; next_index_ < last; ++next_index_)
    c.push_back(next_index_);
  return c;
}

void bulk_plan::succeeded(const chunk& c, embed_result&& r) {
  if (r.embeddings.size() != c.size()) {
    // The dispatcher answers one vector per text; anything else is its bug, but it
    // must not cost a text its answer.
    failed(c,
           embed_failure{embed_errc::bad_response,
                         "the runtime answered " + std::to_string(r.embeddings.size())
                           + " vectors for " + std::to_string(c.size()) + " texts",
                         0});
    return;
  }
  for (size_t i = 0; i < c.size(); ++i) {
    auto& t = outcome_.texts[c[i]];
    t.embedding = std::move(r.embeddings[i]);
    t.failure = {};
    ++answered_;
  }
  outcome_.usage.prompt_tokens += r.usage.prompt_tokens;
  outcome_.usage.total_tokens += r.usage.total_tokens;
  if (!r.model.empty())
    outcome_.model = std::move(r.model);
}

void bulk_plan::failed(const chunk& c, const embed_failure& f) {
  if (c.size() > 1 && is_one_texts_fault(f)) {
    auto mid = c.begin() + static_cast<std::ptrdiff_t>(c.size() / 2);
    // Ahead of the halves of later refusals: the oldest input goes first.
    split_.emplace_front(mid, c.end());
    split_.emplace_front(c.begin(), mid);
    return;
  }
  if (c.size() == 1) {
    // The dispatcher names the text by its place in the request ("input 0 is
    // empty"); the caller knows it by its place in the whole call.
    auto x = f;
    const std::string prefix = "input 0 ";
    if (x.message.compare(0, prefix.size(), prefix) == 0)
      x.message.replace(0, prefix.size(), "input " + std::to_string(c[0]) + " ");
    fail_one(c[0], std::move(x));
    return;
  }
  for (auto i : c)
    fail_one(i, f);
}

void bulk_plan::fail_waiting(const embed_failure& f) {
  while (chunks_waiting() > 0)
    for (auto i : next())
      fail_one(i, f);
}

embed_many_outcome bulk_plan::take() {
  return std::move(outcome_);
}

bool bulk_plan::is_one_texts_fault(const embed_failure& f) noexcept {
  switch (f.code) {
    case embed_errc::invalid_input: return true;
    case embed_errc::upstream_rejected:
      return f.upstream_status == 400 || f.upstream_status == 413
             || f.upstream_status == 422;
    default: return false;
  }
}

void bulk_plan::fail_one(size_t index, embed_failure f) {
  auto& t = outcome_.texts[index];
  t.embedding.clear();
  t.failure = std::move(f);
  ++answered_;
  ++outcome_.failures;
}

} // namespace embedrt::host
