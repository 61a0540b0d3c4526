// Parsing and checking scenario files (format: scenario.hpp). Strict like the
// mock's script parser: unknown keys, wrong types and out-of-range values are errors
// that name the offending key; the first error stops the parse.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tools/scenario/expectations.hpp"
#include "tools/scenario/parse_support.hpp"

namespace embedrt::scenario {

std::vector<std::string> counter_names() {
  std::vector<std::string> out;
  runtime_counters{}.for_each(
    [&](const char* name, uint64_t) { out.emplace_back(name); });
  return out;
}

bool known_event(const std::string& name) {
  for (int i = 0; i <= static_cast<int>(event_kind::runtime_available); ++i)
    if (name == to_string(static_cast<event_kind>(i)))
      return true;
  return false;
}

bool known_outcome(const std::string& name) {
  embed_errc code;
  return name == "ok" || name == "hung" || name == "any"
         || (from_string(name, code) && name != "none");
}

bool known_transition(const std::string& x) {
  static const char* const all[] = {"closed->open", "open->half_open",
                                    "half_open->open", "half_open->closed"};
  return std::find(std::begin(all), std::end(all), x) != std::end(all);
}

namespace {

/// "line 3, column 7" for a byte offset.
std::string position(std::string_view text, size_t byte) {
  size_t line = 1;
  size_t col = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

/// The first paragraph of the leading comment (its lines up to the first blank one,
/// joined), or empty when the text does not start with a comment.
std::string leading_comment(std::string_view text) {
  auto start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos)
    return {};
  text.remove_prefix(start);
  bool block = text.substr(0, 2) == "/*";
  if (!block && text.substr(0, 2) != "//")
    return {};
  text.remove_prefix(2);
  std::string out;
  for (;;) {
    auto end = text.find('\n');
    auto line = std::string{text.substr(0, end)};
    bool closed = false;
    if (auto close = line.find("*/"); block && close != std::string::npos) {
      line.erase(close);
      closed = true;
    }
    auto first = line.find_first_not_of(" \t*");
    auto last = line.find_last_not_of(" \t\r");
    if (first == std::string::npos)
      break; // a blank comment line ends the paragraph
    if (!out.empty())
      out += ' ';
    out += line.substr(first, last - first + 1);
    if (closed || end == std::string_view::npos)
      break;
    text.remove_prefix(end + 1);
    auto next = text.find_first_not_of(" \t");
    if (next == std::string_view::npos)
      break;
    text.remove_prefix(next);
    if (!block) {
      if (text.substr(0, 2) != "//")
        break;
      text.remove_prefix(2);
    }
  }
  return out;
}

// -- sections ---------------------------------------------------------------------

/// Renders a config value as CAF INI text.
bool ini_value(const json& v, std::string& out) {
  if (v.is_boolean()) {
    out = v.get<bool>() ? "true" : "false";
  } else if (v.is_number_integer()) {
    out = v.dump();
  } else if (v.is_number_float()) {
    out = v.dump();
    if (out.find_first_of(".eE") == std::string::npos)
      out += ".0";
  } else if (v.is_string()) {
    out = "\"";
    for (char c : v.get<std::string>()) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    out += "\"";
  } else {
    return false;
  }
  return true;
}

bool parse_config(const json& j, scenario& out, std::string& error) {
  if (!j.is_object()) {
    error = "config: must be an object of \"section.key\": value, got " + show(j);
    return false;
  }
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> sections;
  for (auto& [full, value] : j.items()) {
    auto key = full;
    if (key.rfind("embedrt.", 0) == 0)
      key.erase(0, 8);
    auto dot = key.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == key.size()
        || key.find('.', dot + 1) != std::string::npos) {
      error = "config." + full
              + ": keys are written \"section.key\", e.g. "
                "\"retry.max_attempts\"";
      return false;
    }
    if (key == "endpoint.base_url" || key == "endpoint.api_key_env") {
      error = "config." + full
              + ": set by the runner (it points the runtime at the "
                "mock), cannot be overridden";
      return false;
    }
    std::string text;
    if (!ini_value(value, text)) {
      error = "config." + full + ": must be a number, a string or true/false, got "
              + show(value);
      return false;
    }
    sections[key.substr(0, dot)].emplace_back(key.substr(dot + 1), text);
    out.config.emplace_back(key, text);
  }
  for (auto& [section, entries] : sections) {
    out.config_ini += "[embedrt." + section + "]\n";
    for (auto& [key, text] : entries)
      out.config_ini += key + " = " + text + "\n";
  }
  return true;
}

bool parse_upstream(const json& j, scenario& out, std::string& error) {
  reader r{j, "upstream", error};
  auto& o = out.upstream;
  r.integer("dimension", o.dimension, 1, 65536);
  r.integer("threads", o.threads, 0, 16);
  r.string("model", o.model);
  r.integer("max_connections", o.max_connections, 1, 100000);
  r.integer("seed", o.seed, 0, INT64_MAX);
  if (auto s = r.get("script")) {
    std::string why;
    if (!mock::parse_mock_script(s->dump(), out.script, why))
      return r.fail("script", why);
  } else if (r.ok()) {
    out.script.phases.emplace_back().name = "default";
  }
  return r.finish();
}

bool parse_group(const json& j, const std::string& path, load_group& g,
                 std::string& error) {
  reader r{j, path, error};
  r.string("name", g.name, true);
  r.integer("callers", g.callers, 1, 100000);
  r.integer("requests_per_caller", g.requests_per_caller, 1, 1000000);
  r.integer("think_ms", g.think_ms, 0, max_ms);
  r.integer("total", g.total, 1, 10000000);
  r.number("rate_per_s", g.rate_per_s, 0.001, 100000);
  std::string text;
  if (r.string("api", text) && !text.empty()) {
    if (text == "callback")
      g.api = caller_api::callback;
    else if (text == "threads")
      g.api = caller_api::threads;
    else if (text == "bulk_session")
      g.api = caller_api::bulk_session;
    else
      r.fail("api", "must be \"callback\", \"threads\" or \"bulk_session\", got \""
                      + text + "\"");
  }
  text.clear();
  if (r.string("lane", text) && !text.empty()) {
    if (text == "interactive")
      g.priority = lane::interactive;
    else if (text == "bulk")
      g.priority = lane::bulk;
    else
      r.fail("lane", "must be \"interactive\" or \"bulk\", got \"" + text + "\"");
  }
  text.clear();
  if (r.string("on_open_circuit", text) && !text.empty()) {
    if (text == "default")
      g.on_open_circuit = open_circuit_policy::lane_default;
    else if (text == "fail_fast")
      g.on_open_circuit = open_circuit_policy::fail_fast;
    else if (text == "wait")
      g.on_open_circuit = open_circuit_policy::wait;
    else
      r.fail("on_open_circuit",
             "must be \"default\", \"fail_fast\" or \"wait\", got \"" + text + "\"");
  }
  r.integer("deadline_ms", g.deadline_ms, 0, 86'400'000);
  r.integer("texts_per_request", g.texts_per_request, 1, 2048);
  r.integer("start_ms", g.start_ms, 0, max_ms);
  r.string("text", g.text);
  r.integer("distinct_texts", g.distinct_texts, 0, 100000000);
  if (!r.finish())
    return false;
  if (g.name.empty())
    return r.fail("name", "must not be empty");
  if (g.api == caller_api::bulk_session) {
    if (g.callers > 0 || g.total == 0)
      return r.fail_at(path, "a bulk_session group sends \"total\" requests (at "
                             "\"rate_per_s\", or as fast as credit allows), not "
                             "\"callers\"");
    g.priority = lane::bulk;
  } else if (g.api == caller_api::threads && (g.callers == 0 || g.callers > 2000)) {
    return r.fail_at(path, "a \"threads\" group needs \"callers\" (at most 2000 "
                           "threads)");
  } else if ((g.callers > 0) == (g.total > 0)) {
    return r.fail_at(path, "give either \"callers\" (closed loop) or \"total\" with "
                           "\"rate_per_s\" (open loop)");
  } else if (g.total > 0 && g.rate_per_s <= 0) {
    return r.fail_at(path, "an open-loop group (\"total\") needs \"rate_per_s\"");
  }
  if (g.callers == 0 && (j.contains("requests_per_caller") || j.contains("think_ms")))
    return r.fail_at(path, "\"requests_per_caller\" and \"think_ms\" belong to "
                           "\"callers\" groups");
  return true;
}

bool parse_load(const json& j, scenario& out, std::string& error) {
  reader r{j, "load", error};
  auto& l = out.load;
  auto groups = r.get("groups");
  if (r.ok() && (groups == nullptr || !groups->is_array() || groups->empty()))
    return r.fail("groups", "must be a non-empty list of groups");
  if (!r.ok())
    return false;
  std::set<std::string> names;
  for (size_t i = 0; i < groups->size(); ++i) {
    load_group g;
    auto path = "load.groups[" + std::to_string(i) + "]";
    if (!parse_group((*groups)[i], path, g, error))
      return false;
    if (!names.insert(g.name).second) {
      error = path + ".name: \"" + g.name + "\" is used twice";
      return false;
    }
    l.groups.push_back(std::move(g));
  }
  if (auto c = r.get("crash_workers")) {
    reader cr{*c, "load.crash_workers", error};
    cr.integer("every_ms", l.crash_every_ms, 1, max_ms, true);
    cr.integer("from_ms", l.crash_from_ms, 0, max_ms);
    l.crash_until_ms = static_cast<uint32_t>(max_ms);
    cr.integer("until_ms", l.crash_until_ms, 0, max_ms);
    if (auto w = cr.get("worker")) {
      if (w->is_string() && w->get<std::string>() == "round_robin")
        l.crash_worker = -1;
      else if (w->is_number_unsigned() && w->get<uint64_t>() < 64)
        l.crash_worker = static_cast<int32_t>(w->get<uint64_t>());
      else
        cr.fail("worker", "must be a worker index or \"round_robin\", got " + show(*w));
    }
    if (!cr.finish())
      return false;
  }
  if (auto s = r.get("shutdown")) {
    reader sr{*s, "load.shutdown", error};
    uint32_t after = 0;
    sr.integer("after_ms", after, 0, max_ms, true);
    sr.integer("grace_ms", l.shutdown_grace_ms, 0, 600000, true);
    if (!sr.finish())
      return false;
    l.shutdown_after_ms = after;
    for (auto& g : l.groups)
      if (g.api != caller_api::callback)
        return sr.fail_at(
          "load.shutdown",
          "cannot be combined with bulk_session or threads groups (group "
          "\""
            + g.name
            + "\"): calls from other threads must not race "
              "runtime::stop");
  }
  r.integer("hard_timeout_ms", l.hard_timeout_ms, 100, max_ms);
  r.integer("answer_slack_ms", l.answer_slack_ms, 0, max_ms);
  r.integer("stop_timeout_ms", l.stop_timeout_ms, 100, max_ms);
  return r.finish();
}

} // namespace

bool parse_anchor(const json& j, const std::string& path, anchor& a, const scenario& sc,
                  std::string& error) {
  if (j.is_number_integer()) {
    // Bounded like {"ms": N}: scenario time is added to µs clocks.
    if (j.is_number_unsigned() ? j.get<uint64_t>() > uint64_t{max_ms}
                               : j.get<int64_t>() < 0 || j.get<int64_t>() > max_ms) {
      error = path + ": must be an integer in [0, " + std::to_string(max_ms)
              + "] (ms) or an anchor object, got " + show(j);
      return false;
    }
    a.what = anchor::kind::at;
    a.ms = j.get<int64_t>();
    return true;
  }
  reader r{j, path, error};
  r.integer("offset_ms", a.offset_ms, -max_ms, max_ms);
  r.integer("nth", a.nth, 1, 1000000);
  int kinds = 0;
  if (r.has("ms")) {
    ++kinds;
    a.what = anchor::kind::at;
    r.integer("ms", a.ms, 0, max_ms);
  }
  if (r.has("event")) {
    ++kinds;
    a.what = anchor::kind::event;
    r.string("event", a.event);
    r.string("detail", a.detail);
    if (r.ok() && !known_event(a.event))
      r.fail("event", "unknown event kind \"" + a.event + "\"");
    if (r.ok() && a.event == "breaker_transitioned" && !a.detail.empty()
        && !known_transition(a.detail))
      r.fail("detail", "unknown breaker transition \"" + a.detail + "\"");
  }
  if (r.has("phase")) {
    ++kinds;
    a.what = anchor::kind::phase;
    r.string("phase", a.phase);
    std::string edge = "start";
    r.string("edge", edge);
    if (edge == "start")
      a.edge = anchor::phase_edge::start;
    else if (edge == "end")
      a.edge = anchor::phase_edge::end;
    else if (edge == "first_request")
      a.edge = anchor::phase_edge::first_request;
    else
      r.fail("edge",
             "must be \"start\", \"end\" or \"first_request\", got \"" + edge + "\"");
    bool found = false;
    for (auto& p : sc.script.phases)
      found = found || p.name == a.phase;
    if (r.ok() && !found)
      r.fail("phase", "no phase named \"" + a.phase + "\" in upstream.script");
  }
  if (r.has("status")) {
    ++kinds;
    a.what = anchor::kind::status;
    r.integer("status", a.status, 100, 599);
  }
  if (!r.finish())
    return false;
  if (kinds != 1)
    return r.fail_at(path, "an anchor is a number (ms) or an object with exactly one "
                           "of \"ms\", \"event\", \"phase\", \"status\"");
  return true;
}

std::string anchor::describe() const {
  std::string out;
  auto ordinal = [](uint32_t n) {
    auto s = std::to_string(n);
    auto tens = n % 100;
    if (tens >= 11 && tens <= 13)
      return s + "th";
    switch (n % 10) {
      case 1: return s + "st";
      case 2: return s + "nd";
      case 3: return s + "rd";
      default: return s + "th";
    }
  };
  switch (what) {
    case kind::at: out = "t=" + std::to_string(ms) + " ms"; break;
    case kind::event:
      out = "the " + ordinal(nth) + " " + event;
      if (!detail.empty())
        out += " " + detail;
      out += " event";
      break;
    case kind::phase:
      out = std::string{"the "}
            + (edge == phase_edge::end             ? "end"
               : edge == phase_edge::first_request ? "first request"
                                                   : "start")
            + " of phase \"" + phase + "\"";
      break;
    case kind::status:
      out = "the " + ordinal(nth) + " upstream " + std::to_string(status);
      break;
  }
  if (offset_ms > 0)
    out += " + " + std::to_string(offset_ms) + " ms";
  else if (offset_ms < 0)
    out += " - " + std::to_string(-offset_ms) + " ms";
  return out;
}

bool parse_scenario(std::string_view text, const std::string& name, scenario& out,
                    std::string& error) {
  out = scenario{};
  out.name = name;
  out.summary = leading_comment(text);
  if (out.summary.empty()) {
    error = "the file must start with a comment (// or /* */) saying what the scenario "
            "proves";
    return false;
  }
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), nullptr, true, true);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 3, column 7: ..."
    if (auto colon = what.find(": "); colon != std::string::npos)
      what = what.substr(colon + 2);
    error = position(text, e.byte > 0 ? e.byte - 1 : 0) + ": " + what;
    return false;
  } catch (const json::exception& e) {
    // Not a syntax error, e.g. out_of_range.406 for a number beyond a double
    // (1e601): the file is refused the same way (found by the scenario_file fuzz
    // target; it used to end the process).
    std::string what = e.what();
    if (auto end = what.find("] "); end != std::string::npos)
      what = what.substr(end + 2);
    error = what;
    return false;
  }
  reader r{doc, "", error};
  if (!r.ok())
    return false;
  r.string("expected_to_fail", out.expected_to_fail);
  if (r.ok() && r.has("expected_to_fail") && out.expected_to_fail.empty())
    return r.fail("expected_to_fail", "must give the reason");
  if (auto c = r.get("config"); c && !parse_config(*c, out, error))
    return false;
  auto up = r.get("upstream");
  if (r.ok() && !parse_upstream(up ? *up : json::object(), out, error))
    return false;
  // The runner counts attempts per text and holds the log of the whole run.
  out.upstream.track_texts = true;
  out.upstream.log_capacity = 1000000;
  auto load = r.get("load");
  if (r.ok() && load == nullptr)
    return r.fail("load", "is required");
  if (r.ok() && !parse_load(*load, out, error))
    return false;
  auto expect = r.get("expect");
  if (r.ok() && (expect == nullptr || !expect->is_array() || expect->empty()))
    return r.fail("expect", "must be a non-empty list of expectations");
  if (!r.finish())
    return false;
  for (size_t i = 0; i < expect->size(); ++i) {
    expectation e;
    if (!parse_expectation((*expect)[i], "expect[" + std::to_string(i) + "]", e, out,
                           error))
      return false;
    out.expect.push_back(std::move(e));
  }
  return true;
}

bool load_scenario_file(const std::string& path, scenario& out, std::string& error,
                        bool& unreadable) {
  unreadable = false;
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    unreadable = true;
    error = "cannot read the file";
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  auto slash = path.find_last_of('/');
  auto stem = slash == std::string::npos ? path : path.substr(slash + 1);
  if (auto dot = stem.rfind('.'); dot != std::string::npos && dot > 0)
    stem.erase(dot);
  if (!parse_scenario(buf.str(), stem, out, error))
    return false;
  out.path = path;
  return true;
}

} // namespace embedrt::scenario
