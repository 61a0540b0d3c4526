#include "src/policy/dimension_learner.hpp"

#include <algorithm>
#include <utility>

namespace embedrt::policy {

uint32_t documented_dimension(std::string_view model) noexcept {
  if (model == "text-embedding-3-small" || model == "text-embedding-ada-002")
    return 1536;
  if (model == "text-embedding-3-large")
    return 3072;
  return 0;
}

dimension_learner::dimension_learner(uint32_t configured, std::string_view model)
  : confirmed_(configured) {
  if (configured == 0)
    if (auto d = documented_dimension(model); d != 0) {
      prior_length_ = d;
      prior_votes_ = 2;
      candidates_.push_back(candidate{d, prior_votes_, 1});
    }
}

dimension_learner::candidate& dimension_learner::tally(uint32_t length) {
  for (auto& c : candidates_)
    if (c.length == length)
      return c;
  if (candidates_.size() >= max_candidates) {
    auto weakest = std::min_element(candidates_.begin(), candidates_.end(),
                                    [](const candidate& x, const candidate& y) {
                                      return x.votes < y.votes;
                                    });
    candidates_.erase(weakest);
  }
  candidates_.push_back(candidate{length, 0, 0});
  return candidates_.back();
}

uint32_t dimension_learner::observe(const std::vector<uint32_t>& lengths) {
  if (confirmed_ != 0)
    return confirmed_;
  // This response's votes per length (few distinct lengths: a linear list).
  std::vector<std::pair<uint32_t, uint64_t>> local;
  for (auto n : lengths) {
    if (n == 0)
      continue;
    auto i = std::find_if(local.begin(), local.end(),
                          [n](const auto& x) { return x.first == n; });
    if (i != local.end())
      ++i->second;
    else if (local.size() < max_candidates)
      local.emplace_back(n, 1);
  }
  uint64_t best_local = 0;
  uint32_t best_local_length = 0;
  for (auto& [n, votes] : local) {
    auto& c = tally(n);
    c.votes += votes;
    ++c.responses;
    if (votes > best_local) {
      best_local = votes;
      best_local_length = n;
    }
  }
  // The documented default is a vote for its length, never evidence against another
  // one (a compatible server may serve another model under the same name).
  uint64_t total = 0;
  for (auto& c : candidates_)
    total += c.votes;
  for (auto& c : candidates_) {
    auto others = total - c.votes - (c.length != prior_length_ ? prior_votes_ : 0);
    // Three votes, and three times the votes of every other length together.
    bool enough = c.votes >= 3 && c.votes >= 3 * others;
    bool independent = c.responses >= 2
                       || (best_local_length == c.length && best_local >= 3);
    if (enough && independent) {
      confirmed_ = c.length;
      break;
    }
  }
  return confirmed_;
}

} // namespace embedrt::policy
