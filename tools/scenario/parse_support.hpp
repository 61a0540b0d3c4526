// What the scenario file parser and the expectation kinds' parsers share: a strict
// reader of one JSON object, anchors, and the names a file may use (outcomes, events,
// counters, breaker transitions).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/scenario/scenario.hpp"

namespace embedrt::scenario {

using json = nlohmann::json;

/// The largest duration a file may write, in ms (an hour).
inline constexpr int64_t max_ms = 3'600'000;

/// A value for an error message, cut at 60 characters.
inline std::string show(const json& x) {
  auto text = x.dump();
  if (text.size() > 60)
    text = text.substr(0, 57) + "...";
  return text;
}

/// Reads one JSON object: typed getters that remember which keys were read, and a
/// final check that nothing else was there.
class reader {
public:
  reader(const json& obj, std::string path, std::string& error)
    : obj_(obj), path_(std::move(path)), error_(error) {
    if (!obj_.is_object())
      fail_at(path_, "must be an object, got " + show(obj_));
  }

  bool ok() const noexcept { return ok_; }

  bool has(const char* key) const { return obj_.is_object() && obj_.contains(key); }

  std::string at(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }

  bool fail(const std::string& key, const std::string& what) {
    return fail_at(at(key), what);
  }

  bool fail_at(const std::string& where, const std::string& what) {
    // The first error wins, also across readers sharing `error`.
    if (ok_ && error_.empty())
      error_ = where.empty() ? what : where + ": " + what;
    ok_ = false;
    return false;
  }

  /// The value of `key`, or nullptr; marks it read.
  const json* get(const std::string& key) {
    if (!ok_ || !obj_.is_object())
      return nullptr;
    auto i = obj_.find(key);
    if (i == obj_.end())
      return nullptr;
    used_.insert(key);
    return &*i;
  }

  template<class T>
  bool integer(const std::string& key, T& out, int64_t lo, int64_t hi,
               bool required = false) {
    auto v = get(key);
    if (v == nullptr)
      return required ? fail(key, "is required") : ok_;
    bool whole = v->is_number_integer()
                 || (v->is_number_float()
                     && std::floor(v->get<double>()) == v->get<double>());
    if (!whole)
      return fail(key, "must be an integer in [" + std::to_string(lo) + ", "
                         + std::to_string(hi) + "], got " + show(*v));
    // Range-checked before any conversion: a float beyond int64 (-3.6e81) or an
    // unsigned beyond INT64_MAX must be refused, not converted (UB; found by the
    // scenario_file fuzz target).
    int64_t x = 0;
    bool in_range = false;
    if (v->is_number_float()) {
      auto d = v->get<double>();
      in_range = d > -9.2e18 && d < 9.2e18;
      x = in_range ? static_cast<int64_t>(d) : 0;
    } else if (v->is_number_unsigned()) {
      auto u = v->get<uint64_t>();
      in_range = u <= static_cast<uint64_t>(INT64_MAX);
      x = in_range ? static_cast<int64_t>(u) : 0;
    } else {
      x = v->get<int64_t>();
      in_range = true;
    }
    if (!in_range || x < lo || x > hi)
      return fail(key, "must be an integer in [" + std::to_string(lo) + ", "
                         + std::to_string(hi) + "], got " + show(*v));
    out = static_cast<T>(x);
    return true;
  }

  bool optional_integer(const std::string& key, std::optional<int64_t>& out, int64_t lo,
                        int64_t hi) {
    if (!has(key.c_str()))
      return ok_;
    int64_t x = 0;
    if (!integer(key, x, lo, hi))
      return false;
    out = x;
    return true;
  }

  bool number(const std::string& key, double& out, double lo, double hi) {
    auto v = get(key);
    if (v == nullptr)
      return ok_;
    if (!v->is_number() || v->get<double>() < lo || v->get<double>() > hi) {
      std::ostringstream range;
      range << "[" << lo << ", " << hi << "]";
      return fail(key, "must be a number in " + range.str() + ", got " + show(*v));
    }
    out = v->get<double>();
    return true;
  }

  bool string(const std::string& key, std::string& out, bool required = false) {
    auto v = get(key);
    if (v == nullptr)
      return required ? fail(key, "is required") : ok_;
    if (!v->is_string())
      return fail(key, "must be a string, got " + show(*v));
    out = v->get<std::string>();
    return true;
  }

  bool boolean(const std::string& key, bool& out) {
    auto v = get(key);
    if (v == nullptr)
      return ok_;
    if (!v->is_boolean())
      return fail(key, "must be true or false, got " + show(*v));
    out = v->get<bool>();
    return true;
  }

  bool strings(const std::string& key, std::vector<std::string>& out) {
    auto v = get(key);
    if (v == nullptr)
      return fail(key, "is required");
    if (!v->is_array() || v->empty())
      return fail(key, "must be a non-empty list of strings, got " + show(*v));
    for (auto& x : *v) {
      if (!x.is_string())
        return fail(key, "must be a non-empty list of strings, got " + show(*v));
      out.push_back(x.get<std::string>());
    }
    return true;
  }

  /// Fails on the first key that was not read.
  bool finish() {
    if (!ok_ || !obj_.is_object())
      return ok_;
    for (auto& item : obj_.items())
      if (used_.count(item.key()) == 0)
        return fail(item.key(), "unknown key");
    return true;
  }

  const std::string& path() const noexcept { return path_; }

private:
  const json& obj_;
  std::string path_;
  std::string& error_;
  std::set<std::string> used_;
  bool ok_ = true;
};

// -- names ------------------------------------------------------------------------

/// Every runtime counter's name (runtime_counters::for_each).
std::vector<std::string> counter_names();

/// An event_kind name.
bool known_event(const std::string& name);

/// "ok", "hung", "any" or an embed_errc name.
bool known_outcome(const std::string& name);

/// "closed->open", "open->half_open", "half_open->open" or "half_open->closed".
bool known_transition(const std::string& x);

/// Parses an anchor (a number of ms, or an object; see `anchor`) at `path`; phases
/// are looked up in `sc.script`. False with `error` set.
bool parse_anchor(const json& j, const std::string& path, anchor& a, const scenario& sc,
                  std::string& error);

} // namespace embedrt::scenario
