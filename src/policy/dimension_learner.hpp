// Learning a model's vector length when the runtime does not send `dimensions`.
//
// The first response alone must not fix the dimension: if that response is the corrupt
// one (a truncated vector), every later correct vector would be refused and the wrong
// one delivered. A length is *confirmed* only by agreement, and no vector of an
// unconfirmed length reaches a caller (the dispatcher holds or re-sends it).
//
// Rule: every vector of a response is a vote for its length. Length L is confirmed
// when the votes come from at least 2 responses, or from at least 3 vectors of a
// single response (the majority of a batch), and L has at least 3 votes and at least
// three times the votes of all other lengths together. So a lone first vector needs
// two agreeing responses, and a corrupt first vector three. An upstream truncating a
// share p of its vectors to one same wrong length (the worst case: corruption that
// agrees with itself) gets it confirmed from single-vector responses with probability
// about 4 p^3 (3 of the first 4 votes wrong): measured 2.5% at p = 20% and 0 of 2000
// runs at 5% (policy.dimension_learner); a first batch of many vectors is safer still.
// The documented default of a well-known model (text-embedding-3-small and
// text-embedding-ada-002: 1536, text-embedding-3-large: 3072) counts as two votes from
// one earlier response for that length (never as votes against another): a first
// response of that length confirms it at once; a first response of another length needs
// agreement like any unknown model (a compatible server may serve another model under
// the same name). Once confirmed, a length never changes: a vector of another length is
// that item's fault.
//
// Assumptions: a bounded number of distinct lengths is tracked (hostile upstreams
// cannot grow the tally); the least-voted one is forgotten when it is full.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace embedrt::policy {

/// The documented default dimension of a well-known OpenAI model; 0 when unknown.
uint32_t documented_dimension(std::string_view model) noexcept;

class dimension_learner {
public:
  /// `configured > 0`: the length is fixed from the start (sent as `dimensions`).
  /// Otherwise `model`'s documented default, if any, is a prior vote.
  dimension_learner(uint32_t configured, std::string_view model);

  /// The confirmed length; 0 while not confirmed.
  uint32_t confirmed() const noexcept { return confirmed_; }

  /// Counts the lengths of one response's vectors (0 entries, refused items, are
  /// skipped) and returns the confirmed length afterwards (0: not yet).
  uint32_t observe(const std::vector<uint32_t>& lengths);

  /// The most distinct lengths remembered.
  static constexpr size_t max_candidates = 8;

private:
  struct candidate {
    uint32_t length = 0;
    uint64_t votes = 0;
    uint32_t responses = 0;
  };
  candidate& tally(uint32_t length);
  uint32_t confirmed_ = 0;
  uint32_t prior_length_ = 0;
  uint64_t prior_votes_ = 0;
  std::vector<candidate> candidates_;
};

} // namespace embedrt::policy
