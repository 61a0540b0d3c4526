// Playing a scenario: the mock on a free loopback port, the runtime in-process over
// libcurl, the load from one driver thread (plus one thread per bulk_session group),
// every answer recorded per request through the callback form of the host API.
//
// The runner never hangs: the load is bounded by the hard timeout, runtime::stop by a
// watchdog, and a runtime that cannot be stopped is abandoned (reported, and the
// process exits without destructors).
#include "src/cli/scenario_runner.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <future>
#include <mutex>
#include <ostream>
#include <queue>
#include <thread>

#include <dirent.h>

#include <caf/event_based_actor.hpp>
#include <caf/logger.hpp>
#include <caf/send.hpp>

#include "config/config_loader.hpp"
#include "src/mock/mock_embeddings.hpp"
#include <embedrt/runtime.hpp>

namespace embedrt::cli::scenario {

namespace {

using std::chrono::milliseconds;

constexpr const char* api_key_env = "EMBEDRT_SCENARIO_API_KEY";
constexpr const char* api_key = "sk-embedrt-scenario";

int64_t steady_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

/// What the driver and the callbacks share.
struct shared_state {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<request_record> records;
  std::vector<observed_event> events;
  /// Requests answered since the driver last looked (closed-loop callers go on).
  std::vector<size_t> completed;
  uint64_t answered = 0;
  int64_t last_answer_us = 0;
  /// The mock's zero on the steady clock.
  int64_t t0 = 0;
  uint32_t dimension = 0;

  int64_t now() const { return steady_us() - t0; }
};

/// The vectors must be the mock's deterministic vectors of these very texts, in
/// order: that catches wrong counts, dimensions and values, and vectors placed at the
/// wrong index or handed to the wrong caller (batching, dedup, bisection).
bool check_vectors(const embed_outcome& o, const std::vector<std::string>& texts,
                   uint32_t dim, std::string& why) {
  auto& vs = o.value().embeddings;
  if (vs.size() != texts.size()) {
    why = std::to_string(vs.size()) + " vectors for " + std::to_string(texts.size())
          + " texts";
    return false;
  }
  std::vector<float> want;
  for (size_t i = 0; i < vs.size(); ++i) {
    if (vs[i].size() != dim) {
      why = "vector " + std::to_string(i) + " has dimension "
            + std::to_string(vs[i].size());
      return false;
    }
    mock::mock_vector(texts[i], dim, want);
    for (size_t k = 0; k < dim; ++k) {
      if (!std::isfinite(vs[i][k])) {
        why = "vector " + std::to_string(i) + " holds a non-finite value";
        return false;
      }
      if (std::fabs(vs[i][k] - want[k]) > 1e-6f) {
        why = "vector " + std::to_string(i) + " is not the vector of its text \""
              + texts[i].substr(0, 40) + "\"";
        return false;
      }
    }
  }
  return true;
}

std::function<void(embed_outcome)> answer_handler(std::shared_ptr<shared_state> st,
                                                  size_t idx,
                                                  std::vector<std::string> texts) {
  return [st, idx, texts = std::move(texts)](embed_outcome o) {
    auto t = st->now();
    std::string why;
    bool ok = o.ok();
    bool formed = !ok || check_vectors(o, texts, st->dimension, why);
    std::lock_guard<std::mutex> guard{st->mu};
    auto& r = st->records[idx];
    if (++r.answers == 1) {
      r.answered_us = t;
      r.code = o.error().code;
      r.message = ok ? why : o.error().message;
      r.well_formed = formed;
      ++st->answered;
      st->last_answer_us = std::max(st->last_answer_us, t);
      st->completed.push_back(idx);
    }
    st->cv.notify_all();
  };
}

std::string make_text(const load_group& g, uint32_t caller, uint32_t seq, uint32_t i,
                      uint64_t k) {
  if (g.distinct_texts > 0)
    k %= g.distinct_texts;
  std::string out;
  const auto& t = g.text;
  for (size_t pos = 0; pos < t.size();) {
    auto open = t.find('{', pos);
    if (open == std::string::npos) {
      out.append(t, pos, std::string::npos);
      break;
    }
    out.append(t, pos, open - pos);
    auto close = t.find('}', open);
    if (close == std::string::npos) {
      out.append(t, open, std::string::npos);
      break;
    }
    auto name = t.substr(open + 1, close - open - 1);
    if (name == "group")
      out += g.name;
    else if (name == "caller")
      out += std::to_string(caller);
    else if (name == "seq")
      out += std::to_string(seq);
    else if (name == "i")
      out += std::to_string(i);
    else if (name == "k")
      out += std::to_string(k);
    else
      out.append(t, open, close - open + 1);
    pos = close + 1;
  }
  return out;
}

/// Stops `rt` within `limit`; on a hang, abandons it (released, never destroyed).
bool stop_with_watchdog(std::unique_ptr<runtime>& rt, milliseconds grace,
                        milliseconds limit, shutdown_report& report, int64_t& took_ms) {
  auto done = std::make_shared<std::promise<shutdown_report>>();
  auto f = done->get_future();
  auto raw = rt.get();
  auto t0 = steady_us();
  std::thread t{[raw, grace, done] { done->set_value(raw->stop(grace)); }};
  if (f.wait_for(limit) != std::future_status::ready) {
    t.detach();
    static_cast<void>(rt.release());
    return false;
  }
  t.join();
  report = f.get();
  took_ms = (steady_us() - t0) / 1000;
  return true;
}

struct due_call {
  int64_t at;
  uint32_t group;
  uint32_t caller;
  bool operator>(const due_call& y) const { return at > y.at; }
};

} // namespace

bool run(const scenario& sc, const run_options& opts, observation& out, bool& abandoned,
         std::string& error) {
  abandoned = false;
  out = observation{};
  auto scale = std::max(1.0, opts.time_scale);
  auto scaled = [scale](uint32_t ms) {
    return static_cast<int64_t>(static_cast<double>(ms) * scale);
  };
  // -- the mock ---------------------------------------------------------------------
  auto mopts = sc.upstream;
  mopts.host = "127.0.0.1";
  mopts.port = 0;
  mopts.api_key = api_key;
  mock::mock_server mock{mopts};
  try {
    mock.start();
  } catch (const std::exception& e) {
    error = std::string{"the mock could not start: "} + e.what();
    return false;
  }
  // -- the runtime ------------------------------------------------------------------
  ::setenv(api_key_env, api_key, 1);
  std::vector<std::string> args{"--embedrt.endpoint.base_url=" + mock.base_url(),
                                std::string{"--embedrt.endpoint.api_key_env="}
                                  + api_key_env};
  if (sc.load.crash_every_ms > 0)
    args.emplace_back("--embedrt.supervision.test_hooks=true");
  embedrt_config cfg;
  auto errors = load_config_text(cfg, sc.config_ini, args);
  if (!errors.empty()) {
    error = "config: ";
    for (auto& e : errors)
      error += "\n  " + e.to_string();
    return false;
  }
  auto st = std::make_shared<shared_state>();
  st->t0 = steady_us() - mock.now_us();
  st->dimension = cfg.values.endpoint.dimensions != 0 ? cfg.values.endpoint.dimensions
                                                      : sc.upstream.dimension;
  std::vector<config_error> start_errors;
  runtime_options host;
  // Through the host API, not an actor of ours: the runner is a host like any other.
  host.on_event = [st](const runtime_event& ev) {
    using namespace std::chrono;
    auto t = duration_cast<microseconds>(ev.at.time_since_epoch()).count() - st->t0;
    std::lock_guard<std::mutex> guard{st->mu};
    st->events.push_back(observed_event{ev.kind, ev.source, ev.detail, t});
  };
  auto rt = runtime::start(cfg.values, start_errors, std::move(host));
  if (!rt) {
    error = "the runtime did not start:";
    for (auto& e : start_errors)
      error += "\n  " + e.to_string();
    return false;
  }
  // -- the load ---------------------------------------------------------------------
  const auto& groups = sc.load.groups;
  for (auto& g : groups)
    out.groups.push_back(g.name);
  // Phase 0 starts at (a few microseconds after) the start of the load.
  const int64_t start = mock.now_us();
  mock.set_script(sc.script);
  out.load_start_us = start;
  const int64_t hard_deadline = start + scaled(sc.load.hard_timeout_ms) * 1000;
  // Scheduling lag probe: how late a thread of this process wakes from a 5 ms sleep,
  // at worst, during the load. On a loaded machine the runtime's threads are as late
  // as this one, so answered_exactly_once adds it to the slack (and says so).
  std::atomic<bool> probe_stop{false};
  std::atomic<int64_t> probe_lag_us{0};
  std::thread probe{[&] {
    while (!probe_stop.load()) {
      auto before = steady_us();
      std::this_thread::sleep_for(milliseconds{5});
      auto lag = steady_us() - before - 5000;
      if (lag > probe_lag_us.load())
        probe_lag_us = lag;
    }
  }};
  auto timeout_of = [&](const load_group& g) {
    return int64_t{g.deadline_ms != 0 ? g.deadline_ms : cfg.values.request.timeout_ms};
  };
  auto options_of = [](const load_group& g) {
    embed_options o;
    o.priority = g.priority;
    o.on_open_circuit = g.on_open_circuit;
    o.timeout = std::chrono::milliseconds{g.deadline_ms};
    return o;
  };
  std::vector<uint64_t> text_counter(groups.size(), 0);
  auto texts_for = [&](uint32_t gi, uint32_t caller, uint32_t seq) {
    auto& g = groups[gi];
    std::vector<std::string> texts;
    for (uint32_t i = 0; i < g.texts_per_request; ++i)
      texts.push_back(make_text(g, caller, seq, i, text_counter[gi]++));
    return texts;
  };
  // Records a request and returns its index.
  auto record = [&](uint32_t gi, uint32_t caller, uint32_t seq, uint32_t texts) {
    auto t = st->now();
    std::lock_guard<std::mutex> guard{st->mu};
    request_record r;
    r.group = gi;
    r.caller = caller;
    r.seq = seq;
    r.texts = texts;
    r.issued_us = t;
    r.deadline_us = t + timeout_of(groups[gi]) * 1000;
    st->records.push_back(std::move(r));
    return st->records.size() - 1;
  };
  auto issue = [&](uint32_t gi, uint32_t caller, uint32_t seq) {
    auto texts = texts_for(gi, caller, seq);
    auto n = static_cast<uint32_t>(texts.size());
    auto idx = record(gi, caller, seq, n);
    auto handler = answer_handler(st, idx, texts);
    rt->embed(std::move(texts), options_of(groups[gi]), std::move(handler));
  };
  // Closed-loop callers wait in a heap; open-loop groups count what they issued.
  std::priority_queue<due_call, std::vector<due_call>, std::greater<>> due;
  std::vector<std::vector<uint32_t>> next_seq(groups.size());
  std::vector<uint64_t> issued(groups.size(), 0);
  uint64_t planned = 0;
  for (uint32_t gi = 0; gi < groups.size(); ++gi) {
    auto& g = groups[gi];
    if (g.api != caller_api::callback)
      continue;
    planned += g.planned();
    next_seq[gi].assign(g.callers, 0);
    for (uint32_t c = 0; c < g.callers; ++c)
      due.push({start + int64_t{g.start_ms} * 1000, gi, c});
  }
  auto open_loop_due = [&](uint32_t gi) -> int64_t {
    auto& g = groups[gi];
    if (g.api != caller_api::callback || g.callers > 0 || issued[gi] >= g.total)
      return INT64_MAX;
    return start + int64_t{g.start_ms} * 1000
           + static_cast<int64_t>(static_cast<double>(issued[gi]) * 1e6 / g.rate_per_s);
  };
  // Host threads: "threads" callers and bulk_session producers.
  std::atomic<bool> abort_threads{false};
  std::atomic<uint32_t> threads_running{0};
  std::vector<std::thread> host_threads;
  // "threads" groups: one host thread per caller, blocking on each answer (as a host
  // that waits on runtime::embed's future would).
  const auto slack_us = scaled(sc.load.answer_slack_ms) * 1000;
  for (uint32_t gi = 0; gi < groups.size(); ++gi) {
    if (groups[gi].api != caller_api::threads)
      continue;
    for (uint32_t c = 0; c < groups[gi].callers; ++c) {
      ++threads_running;
      host_threads.emplace_back([&, gi, c] {
        auto& grp = groups[gi];
        auto pause_until = [&](int64_t at) {
          while (st->now() < at && !abort_threads.load())
            std::this_thread::sleep_for(
              std::chrono::microseconds{std::min<int64_t>(at - st->now(), 20000)});
        };
        pause_until(start + int64_t{grp.start_ms} * 1000);
        for (uint32_t seq = 0; seq < grp.requests_per_caller && !abort_threads.load();
             ++seq) {
          std::vector<std::string> texts;
          for (uint32_t i = 0; i < grp.texts_per_request; ++i)
            texts.push_back(make_text(grp, c, seq, i,
                                      (uint64_t{c} * grp.requests_per_caller + seq)
                                          * grp.texts_per_request
                                        + i));
          auto n = static_cast<uint32_t>(texts.size());
          auto idx = record(gi, c, seq, n);
          auto done = std::make_shared<std::promise<void>>();
          auto fired = std::make_shared<std::atomic<bool>>(false);
          auto answered = done->get_future();
          auto inner = answer_handler(st, idx, texts);
          rt->embed(std::move(texts), options_of(grp),
                    [inner, done, fired](embed_outcome o) {
                      inner(std::move(o));
                      if (!fired->exchange(true))
                        done->set_value();
                    });
          auto give_up = st->now() + timeout_of(grp) * 1000 + slack_us;
          bool ok = false;
          while (!abort_threads.load() && st->now() < give_up)
            if (answered.wait_for(milliseconds{50}) == std::future_status::ready) {
              ok = true;
              break;
            }
          if (!ok)
            break; // never answered: this caller is stuck, as a real one would be
          pause_until(st->now() + int64_t{grp.think_ms} * 1000);
        }
        --threads_running;
        st->cv.notify_all();
      });
    }
  }
  // bulk_session groups: one producer thread each (submit blocks for credit).
  for (uint32_t gi = 0; gi < groups.size(); ++gi) {
    auto& g = groups[gi];
    if (g.api != caller_api::bulk_session)
      continue;
    ++threads_running;
    host_threads.emplace_back([&, gi] {
      auto& grp = groups[gi];
      bulk_session session{*rt};
      for (uint32_t i = 0; i < grp.total && !abort_threads.load(); ++i) {
        auto at = start + int64_t{grp.start_ms} * 1000
                  + (grp.rate_per_s > 0 ? static_cast<int64_t>(static_cast<double>(i)
                                                               * 1e6 / grp.rate_per_s)
                                        : 0);
        while (st->now() < at && !abort_threads.load())
          std::this_thread::sleep_for(
            std::chrono::microseconds{std::min<int64_t>(at - st->now(), 20000)});
        std::vector<std::string> texts;
        for (uint32_t k = 0; k < grp.texts_per_request; ++k)
          texts.push_back(
            make_text(grp, 0, i, k, uint64_t{i} * grp.texts_per_request + k));
        auto n = static_cast<uint32_t>(texts.size());
        auto idx = record(gi, 0, i, n);
        auto handler = answer_handler(st, idx, texts);
        auto accepted = session.submit(std::move(texts), options_of(grp),
                                       std::move(handler));
        std::lock_guard<std::mutex> guard{st->mu};
        auto& r = st->records[idx];
        // The deadline counts from admission, after the wait for credit.
        r.deadline_us = st->now() + timeout_of(grp) * 1000;
        if (!accepted && r.answers == 0) {
          r.answers = 1;
          r.answered_us = st->now();
          r.code = embed_errc::shutting_down;
          r.message = "bulk_session::submit refused the request";
          ++st->answered;
          st->last_answer_us = std::max(st->last_answer_us, r.answered_us);
        }
      }
      --threads_running;
      st->cv.notify_all();
    });
  }
  // Worker crashes and the shutdown.
  int64_t next_crash = sc.load.crash_every_ms > 0
                         ? start + int64_t{sc.load.crash_from_ms} * 1000
                         : INT64_MAX;
  const int64_t crash_end = start + int64_t{sc.load.crash_until_ms} * 1000;
  uint32_t crashes = 0;
  const int64_t shutdown_at = sc.load.shutdown_after_ms
                                ? start + int64_t{*sc.load.shutdown_after_ms} * 1000
                                : INT64_MAX;
  bool shut_down = false;
  uint64_t issued_total = 0;
  for (;;) {
    std::vector<size_t> done;
    {
      std::lock_guard<std::mutex> guard{st->mu};
      done.swap(st->completed);
    }
    auto now = st->now();
    // Closed-loop callers go on after their answer.
    for (auto idx : done) {
      uint32_t gi = 0;
      uint32_t caller = 0;
      {
        std::lock_guard<std::mutex> guard{st->mu};
        gi = st->records[idx].group;
        caller = st->records[idx].caller;
      }
      auto& g = groups[gi];
      if (g.api == caller_api::callback && g.callers > 0
          && next_seq[gi][caller] < g.requests_per_caller)
        due.push({now + int64_t{g.think_ms} * 1000, gi, caller});
    }
    if (now >= shutdown_at) {
      // Nothing more is issued; stop under load.
      out.not_issued = planned - issued_total;
      out.counters = rt->counters();
      shutdown_report report;
      int64_t took = 0;
      auto limit
        = milliseconds{scaled(sc.load.shutdown_grace_ms + sc.load.stop_timeout_ms)};
      if (!stop_with_watchdog(rt, milliseconds{sc.load.shutdown_grace_ms}, limit,
                              report, took)) {
        out.stop_hung = true;
        abandoned = true;
        out.notes.push_back("runtime::stop did not return within "
                            + std::to_string(limit.count()) + " ms; runtime abandoned");
      } else {
        out.stop_ms = took;
        out.report = report;
      }
      shut_down = true;
      break;
    }
    while (!due.empty() && due.top().at <= now) {
      auto d = due.top();
      due.pop();
      auto seq = next_seq[d.group][d.caller]++;
      issue(d.group, d.caller, seq);
      ++issued[d.group];
      ++issued_total;
    }
    for (uint32_t gi = 0; gi < groups.size(); ++gi)
      while (open_loop_due(gi) <= now) {
        issue(gi, static_cast<uint32_t>(issued[gi]), 0);
        ++issued[gi];
        ++issued_total;
      }
    while (next_crash <= now && next_crash < crash_end) {
      auto workers = std::max(1u, cfg.values.http_pool.workers);
      auto index = sc.load.crash_worker >= 0
                     ? static_cast<uint32_t>(sc.load.crash_worker)
                     : crashes % workers;
      rt->crash_worker_for_test(index);
      ++crashes;
      next_crash += int64_t{sc.load.crash_every_ms} * 1000;
    }
    // Done when everything planned went out and came back.
    {
      std::unique_lock<std::mutex> lock{st->mu};
      bool all_out = issued_total == planned && threads_running.load() == 0;
      if (all_out && st->answered == st->records.size() && st->completed.empty()
          && !sc.load.shutdown_after_ms)
        break;
      if (now >= hard_deadline) {
        out.timed_out = true;
        break;
      }
      auto wake = std::min({hard_deadline, shutdown_at,
                            next_crash < crash_end ? next_crash : INT64_MAX,
                            due.empty() ? INT64_MAX : due.top().at});
      for (uint32_t gi = 0; gi < groups.size(); ++gi)
        wake = std::min(wake, open_loop_due(gi));
      if (threads_running.load() > 0)
        wake = std::min(wake, now + 20000);
      if (st->completed.empty() && wake > now)
        st->cv.wait_for(lock, std::chrono::microseconds{wake - now});
    }
  }
  // -- the end ----------------------------------------------------------------------
  probe_stop = true;
  probe.join();
  out.scheduling_lag_us = probe_lag_us.load();
  abort_threads = true;
  auto join_deadline = steady_us() + 5'000'000;
  while (threads_running.load() > 0 && steady_us() < join_deadline)
    std::this_thread::sleep_for(milliseconds{5});
  if (threads_running.load() > 0) {
    // A producer is stuck in submit(): the runtime must not be stopped under it.
    for (auto& t : host_threads)
      t.detach();
    out.notes.push_back("a bulk_session producer did not return from submit(); runtime "
                        "abandoned");
    static_cast<void>(rt.release());
    abandoned = true;
  } else {
    for (auto& t : host_threads)
      t.join();
  }
  auto snapshot = [&] {
    std::lock_guard<std::mutex> guard{st->mu};
    out.requests.assign(st->records.begin(), st->records.end());
    out.events = st->events;
    out.load_end_us = out.timed_out ? st->now() : std::max(st->last_answer_us, start);
  };
  if (out.timed_out) {
    uint64_t open = 0;
    {
      std::lock_guard<std::mutex> guard{st->mu};
      open = st->records.size() - st->answered;
    }
    out.notes.push_back(
      "hard timeout (" + std::to_string(scaled(sc.load.hard_timeout_ms))
      + " ms) passed with " + std::to_string(open) + " requests unanswered");
  }
  if (shut_down) {
    snapshot();
  } else {
    if (rt)
      out.counters = rt->counters();
    // Before the final stop: its answers are not part of the scenario.
    snapshot();
    if (rt) {
      shutdown_report report;
      int64_t took = 0;
      auto limit = milliseconds{scaled(sc.load.stop_timeout_ms)};
      if (!stop_with_watchdog(rt, milliseconds{0}, limit, report, took)) {
        out.stop_hung = true;
        abandoned = true;
        out.notes.push_back("runtime::stop did not return within "
                            + std::to_string(limit.count()) + " ms; runtime abandoned");
      }
    }
  }
  rt.reset();
  out.mock = mock.stats(true);
  mock.stop();
  if (crashes > 0)
    out.notes.push_back(std::to_string(crashes) + " worker crashes injected");
  return true;
}

// -- the command ------------------------------------------------------------------

namespace {

constexpr const char* usage_text = R"(usage:
  embedrt scenario run FILE... [--time-scale=X]
  embedrt scenario list [DIR]

run   plays each scenario file against the runtime and the bundled mock upstream on
      127.0.0.1, prints a PASS/FAIL line per expectation (expected vs seen), the
      measured figures and a verdict. --time-scale (default
      $EMBEDRT_SCENARIO_TIME_SCALE, else 1) stretches duration bounds for slow
      builds. Exit 0: every scenario held; 1: some did not; 2: a file is unreadable
      or invalid.
list  prints each scenario in DIR (default: scenarios) with what it proves.
)";

std::string seconds_text(int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(us) / 1e6);
  return buf;
}

int run_command(const std::vector<std::string>& args, std::ostream& out,
                std::ostream& err, bool& abandoned) {
  run_options opts;
  if (auto env = std::getenv("EMBEDRT_SCENARIO_TIME_SCALE"); env && *env)
    opts.time_scale = std::atof(env);
  std::vector<std::string> files;
  for (size_t i = 2; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a.rfind("--time-scale=", 0) == 0)
      opts.time_scale = std::atof(a.c_str() + 13);
    else if (a.rfind("--", 0) == 0) {
      err << "embedrt: unknown option: " << a << "\n" << usage_text;
      return 2;
    } else
      files.push_back(a);
  }
  if (files.empty()) {
    err << "embedrt: scenario run needs at least one FILE\n" << usage_text;
    return 2;
  }
  if (!(opts.time_scale >= 1.0 && opts.time_scale <= 100.0)) {
    err << "embedrt: the time scale must be in [1, 100]\n";
    return 2;
  }
  int rc = 0;
  for (auto& path : files) {
    scenario sc;
    std::string error;
    bool unreadable = false;
    if (!load_scenario_file(path, sc, error, unreadable)) {
      err << "embedrt: " << path << ": " << error << "\n";
      rc = 2;
      continue;
    }
    out << "== scenario " << sc.name << ": " << sc.summary << "\n";
    out << "   file " << path << ", time scale " << opts.time_scale << "\n";
    if (!sc.expected_to_fail.empty())
      out << "   expected to fail: " << sc.expected_to_fail << "\n";
    out.flush();
    auto t0 = steady_us();
    observation obs;
    bool gave_up = false;
    if (!run(sc, opts, obs, gave_up, error)) {
      err << "embedrt: " << path << ": " << error << "\n";
      rc = 2;
      continue;
    }
    auto took = steady_us() - t0;
    auto verdicts = check(sc, obs, opts.time_scale);
    size_t failed = 0;
    for (auto& v : verdicts) {
      out << format_verdict(v) << "\n";
      failed += v.pass ? 0 : 1;
    }
    out << "figures:\n" << format_figures(sc, obs);
    out << "verdict " << sc.name << ": ";
    if (failed == 0)
      out << "PASS (" << verdicts.size() << " of " << verdicts.size()
          << " expectations held)";
    else
      out << "FAIL (" << failed << " of " << verdicts.size()
          << " expectations did not hold)";
    out << " in " << seconds_text(took);
    if (!sc.expected_to_fail.empty()) {
      if (failed > 0)
        out << "; expected to fail: " << sc.expected_to_fail;
      else
        out << "; NOTE: marked expected_to_fail (" << sc.expected_to_fail
            << ") but every expectation held: remove the mark";
    }
    out << "\n\n";
    out.flush();
    if (failed > 0 && rc == 0)
      rc = 1;
    if (gave_up) {
      abandoned = true;
      break; // a runtime is still running: do not start another
    }
  }
  return rc;
}

int list_command(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err) {
  std::string dir = args.size() >= 3 ? args[2] : "scenarios";
  auto d = ::opendir(dir.c_str());
  if (d == nullptr) {
    err << "embedrt: cannot read the directory " << dir << "\n";
    return 2;
  }
  std::vector<std::string> names;
  while (auto e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0)
      names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  int rc = 0;
  for (auto& name : names) {
    scenario sc;
    std::string error;
    bool unreadable = false;
    if (!load_scenario_file(dir + "/" + name, sc, error, unreadable)) {
      out << name << "  INVALID: " << error << "\n";
      rc = 2;
      continue;
    }
    out << sc.name << (sc.expected_to_fail.empty() ? "" : "  [expected to fail]")
        << "\n    " << sc.summary << "\n";
  }
  return rc;
}

} // namespace

int command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
            bool& abandoned) {
  abandoned = false;
  if (args.size() >= 2 && args[1] == "run")
    return run_command(args, out, err, abandoned);
  if (args.size() >= 2 && args[1] == "list")
    return list_command(args, out, err);
  err << usage_text;
  return 2;
}

} // namespace embedrt::cli::scenario
