// Playing a scenario: the mock on a free loopback port, the runtime in-process over
// libcurl, the load from one driver thread (plus one thread per "threads" caller and
// per bulk_session group), every answer recorded per request through the host API.
//
// The runner never hangs: the load is bounded by the hard timeout, runtime::stop by a
// watchdog, and a runtime that cannot be stopped is abandoned (reported, and the
// process exits without destructors).
//
// One run is a `scenario_run`, in steps: start (mock, runtime, probe, host threads),
// drive (the loop: closed-loop callers, open-loop arrivals, crashes, the shutdown),
// finish (host threads, the record, the final stop, the mock's statistics).
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>

#include "config/config_loader.hpp"
#include "tools/mock/mock_embeddings.hpp"
#include "tools/scenario/scenario.hpp"
#include <embedrt/runtime.hpp>

namespace embedrt::scenario {

namespace {

using std::chrono::milliseconds;

constexpr const char* api_key_env = "EMBEDRT_SCENARIO_API_KEY";
constexpr const char* api_key = "sk-embedrt-scenario";

int64_t steady_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

/// What the driver, the host threads and the callbacks share.
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

/// The group's text template with {group} {caller} {seq} {i} {k} filled in.
std::string make_text(const load_group& g, uint32_t caller, uint32_t seq, uint32_t i,
                      uint64_t k) {
  if (g.distinct_texts > 0)
    k %= g.distinct_texts;
  std::string out;
  const auto& t = g.text;
  for (size_t pos = 0; pos < t.size();) {
    auto open = t.find('{', pos);
    auto close = open == std::string::npos ? open : t.find('}', open);
    if (close == std::string::npos) {
      out.append(t, pos, std::string::npos);
      break;
    }
    out.append(t, pos, open - pos);
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

/// Sleeps until `at` on the shared clock, in steps, unless `abort` is set.
void pause_until(const shared_state& st, int64_t at, const std::atomic<bool>& abort) {
  while (st.now() < at && !abort.load())
    std::this_thread::sleep_for(
      std::chrono::microseconds{std::min<int64_t>(at - st.now(), 20000)});
}

struct due_call {
  int64_t at;
  uint32_t group;
  uint32_t caller;
  bool operator>(const due_call& y) const { return at > y.at; }
};

class scenario_run {
public:
  scenario_run(const scenario& sc, const run_options& opts, observation& out)
    : sc_(sc), groups_(sc.load.groups), out_(out),
      scale_(std::max(1.0, opts.time_scale)), mock_(mock_settings()) {
    out_ = observation{};
  }

  scenario_run(const scenario_run&) = delete;
  scenario_run& operator=(const scenario_run&) = delete;

  /// The mock, the runtime, and the load's clock, probe and host threads.
  bool start(std::string& error) {
    if (!start_mock(error) || !start_runtime(error))
      return false;
    for (auto& g : groups_)
      out_.groups.push_back(g.name);
    // Phase 0 starts at (a few microseconds after) the start of the load.
    start_ = mock_.now_us();
    mock_.set_script(sc_.script);
    out_.load_start_us = start_;
    hard_deadline_ = start_ + scaled(sc_.load.hard_timeout_ms) * 1000;
    next_crash_ = sc_.load.crash_every_ms > 0 ? at(sc_.load.crash_from_ms) : INT64_MAX;
    crash_end_ = at(sc_.load.crash_until_ms);
    shutdown_at_ = sc_.load.shutdown_after_ms ? at(*sc_.load.shutdown_after_ms)
                                              : INT64_MAX;
    start_probe();
    plan_callback_groups();
    start_thread_callers();
    start_bulk_producers();
    return true;
  }

  /// The driver loop, until everything is answered, the shutdown or the hard timeout.
  void drive() {
    for (;;) {
      auto now = st_->now();
      resume_closed_loop(now);
      if (now >= shutdown_at_) {
        shut_down();
        return;
      }
      issue_due(now);
      crash_due(now);
      if (!wait(now))
        return;
    }
  }

  /// Joins the host threads, records what was seen and stops the runtime. Returns
  /// whether the runtime had to be abandoned.
  bool finish() {
    probe_stop_ = true;
    probe_.join();
    out_.scheduling_lag_us = probe_lag_us_.load();
    join_host_threads();
    if (out_.timed_out)
      out_.notes.push_back(
        "hard timeout (" + std::to_string(scaled(sc_.load.hard_timeout_ms))
        + " ms) passed with " + std::to_string(unanswered()) + " requests unanswered");
    if (!shut_down_) {
      if (rt_)
        out_.counters = rt_->counters();
      // Before the final stop: its answers are not part of the scenario.
      snapshot();
      if (rt_)
        stop(milliseconds{0}, milliseconds{scaled(sc_.load.stop_timeout_ms)}, false);
    } else {
      snapshot();
    }
    rt_.reset();
    out_.mock = mock_.stats(true);
    mock_.stop();
    if (crashes_ > 0)
      out_.notes.push_back(std::to_string(crashes_) + " worker crashes injected");
    return abandoned_;
  }

private:
  int64_t scaled(uint32_t ms) const {
    return static_cast<int64_t>(static_cast<double>(ms) * scale_);
  }

  /// Scenario time `ms` on the mock's clock, µs.
  int64_t at(uint32_t ms) const { return start_ + int64_t{ms} * 1000; }

  mock::mock_options mock_settings() const {
    auto o = sc_.upstream;
    o.host = "127.0.0.1";
    o.port = 0;
    o.api_key = api_key;
    return o;
  }

  bool start_mock(std::string& error) {
    try {
      mock_.start();
      return true;
    } catch (const std::exception& e) {
      error = std::string{"the mock could not start: "} + e.what();
      return false;
    }
  }

  bool start_runtime(std::string& error) {
    ::setenv(api_key_env, api_key, 1);
    std::vector<std::string> args{"--embedrt.endpoint.base_url=" + mock_.base_url(),
                                  std::string{"--embedrt.endpoint.api_key_env="}
                                    + api_key_env};
    if (sc_.load.crash_every_ms > 0)
      args.emplace_back("--embedrt.supervision.test_hooks=true");
    auto errors = load_config_text(cfg_, sc_.config_ini, args);
    if (!errors.empty()) {
      error = "config: ";
      for (auto& e : errors)
        error += "\n  " + e.to_string();
      return false;
    }
    st_->t0 = steady_us() - mock_.now_us();
    st_->dimension = cfg_.values.endpoint.dimensions != 0
                       ? cfg_.values.endpoint.dimensions
                       : sc_.upstream.dimension;
    std::vector<config_error> start_errors;
    runtime_options host;
    // Through the host API, not an actor of ours: the runner is a host like any other.
    host.on_event = [st = st_](const runtime_event& ev) {
      using namespace std::chrono;
      auto t = duration_cast<microseconds>(ev.at.time_since_epoch()).count() - st->t0;
      std::lock_guard<std::mutex> guard{st->mu};
      st->events.push_back(observed_event{ev.kind, ev.source, ev.detail, t});
    };
    rt_ = runtime::start(cfg_.values, start_errors, std::move(host));
    if (!rt_) {
      error = "the runtime did not start:";
      for (auto& e : start_errors)
        error += "\n  " + e.to_string();
      return false;
    }
    return true;
  }

  /// How late a thread of this process wakes from a 5 ms sleep, at worst, during the
  /// load. On a loaded machine the runtime's threads are as late as this one, so
  /// answered_exactly_once adds it to the slack (and says so).
  void start_probe() {
    probe_ = std::thread{[this] {
      while (!probe_stop_.load()) {
        auto before = steady_us();
        std::this_thread::sleep_for(milliseconds{5});
        auto lag = steady_us() - before - 5000;
        if (lag > probe_lag_us_.load())
          probe_lag_us_ = lag;
      }
    }};
  }

  // -- requests -------------------------------------------------------------------

  int64_t timeout_of(const load_group& g) const {
    return int64_t{g.deadline_ms != 0 ? g.deadline_ms : cfg_.values.request.timeout_ms};
  }

  static embed_options options_of(const load_group& g) {
    embed_options o;
    o.priority = g.priority;
    o.on_open_circuit = g.on_open_circuit;
    o.timeout = std::chrono::milliseconds{g.deadline_ms};
    return o;
  }

  /// The texts of one request; `k0` numbers its first text ({k}).
  static std::vector<std::string> texts_of(const load_group& g, uint32_t caller,
                                           uint32_t seq, uint64_t k0) {
    std::vector<std::string> texts;
    for (uint32_t i = 0; i < g.texts_per_request; ++i)
      texts.push_back(make_text(g, caller, seq, i, k0 + i));
    return texts;
  }

  /// Records a request and returns its index.
  size_t record(uint32_t gi, uint32_t caller, uint32_t seq, uint32_t texts) {
    auto t = st_->now();
    std::lock_guard<std::mutex> guard{st_->mu};
    request_record r;
    r.group = gi;
    r.caller = caller;
    r.seq = seq;
    r.texts = texts;
    r.issued_us = t;
    r.deadline_us = t + timeout_of(groups_[gi]) * 1000;
    st_->records.push_back(std::move(r));
    return st_->records.size() - 1;
  }

  /// One request of a callback group, from the driver thread.
  void issue(uint32_t gi, uint32_t caller, uint32_t seq) {
    auto& g = groups_[gi];
    auto texts = texts_of(g, caller, seq, next_k_[gi]);
    next_k_[gi] += g.texts_per_request;
    auto idx = record(gi, caller, seq, g.texts_per_request);
    auto handler = answer_handler(st_, idx, texts);
    rt_->embed(std::move(texts), options_of(g), std::move(handler));
    ++issued_[gi];
    ++issued_total_;
  }

  // -- the load's callers ------------------------------------------------------------

  /// Closed-loop callers of callback groups wait in a heap; open-loop groups count
  /// what they issued.
  void plan_callback_groups() {
    next_seq_.resize(groups_.size());
    issued_.assign(groups_.size(), 0);
    next_k_.assign(groups_.size(), 0);
    for (uint32_t gi = 0; gi < groups_.size(); ++gi) {
      auto& g = groups_[gi];
      if (g.api != caller_api::callback)
        continue;
      planned_ += g.planned();
      next_seq_[gi].assign(g.callers, 0);
      for (uint32_t c = 0; c < g.callers; ++c)
        due_.push({at(g.start_ms), gi, c});
    }
  }

  /// When the next request of an open-loop callback group is due (INT64_MAX: never).
  int64_t open_loop_due(uint32_t gi) const {
    auto& g = groups_[gi];
    if (g.api != caller_api::callback || g.callers > 0 || issued_[gi] >= g.total)
      return INT64_MAX;
    return at(g.start_ms)
           + static_cast<int64_t>(static_cast<double>(issued_[gi]) * 1e6
                                  / g.rate_per_s);
  }

  /// "threads" groups: one host thread per caller, blocking on each answer (as a
  /// host that waits on runtime::embed's future would).
  void start_thread_callers() {
    for (uint32_t gi = 0; gi < groups_.size(); ++gi) {
      if (groups_[gi].api != caller_api::threads)
        continue;
      for (uint32_t c = 0; c < groups_[gi].callers; ++c) {
        ++threads_running_;
        host_threads_.emplace_back([this, gi, c] {
          thread_caller(gi, c);
          --threads_running_;
          st_->cv.notify_all();
        });
      }
    }
  }

  void thread_caller(uint32_t gi, uint32_t c) {
    auto& g = groups_[gi];
    const auto slack_us = scaled(sc_.load.answer_slack_ms) * 1000;
    pause_until(*st_, at(g.start_ms), abort_threads_);
    for (uint32_t seq = 0; seq < g.requests_per_caller && !abort_threads_.load();
         ++seq) {
      auto texts = texts_of(
        g, c, seq, (uint64_t{c} * g.requests_per_caller + seq) * g.texts_per_request);
      auto idx = record(gi, c, seq, g.texts_per_request);
      auto done = std::make_shared<std::promise<void>>();
      auto fired = std::make_shared<std::atomic<bool>>(false);
      auto answered = done->get_future();
      auto inner = answer_handler(st_, idx, texts);
      rt_->embed(std::move(texts), options_of(g),
                 [inner, done, fired](embed_outcome o) {
                   inner(std::move(o));
                   if (!fired->exchange(true))
                     done->set_value();
                 });
      auto give_up = st_->now() + timeout_of(g) * 1000 + slack_us;
      bool ok = false;
      while (!ok && !abort_threads_.load() && st_->now() < give_up)
        ok = answered.wait_for(milliseconds{50}) == std::future_status::ready;
      if (!ok)
        return; // never answered: this caller is stuck, as a real one would be
      pause_until(*st_, st_->now() + int64_t{g.think_ms} * 1000, abort_threads_);
    }
  }

  /// bulk_session groups: one producer thread each (submit blocks for credit).
  void start_bulk_producers() {
    for (uint32_t gi = 0; gi < groups_.size(); ++gi) {
      if (groups_[gi].api != caller_api::bulk_session)
        continue;
      ++threads_running_;
      host_threads_.emplace_back([this, gi] {
        bulk_producer(gi);
        --threads_running_;
        st_->cv.notify_all();
      });
    }
  }

  void bulk_producer(uint32_t gi) {
    auto& g = groups_[gi];
    bulk_session session{*rt_};
    for (uint32_t i = 0; i < g.total && !abort_threads_.load(); ++i) {
      auto when = at(g.start_ms)
                  + (g.rate_per_s > 0 ? static_cast<int64_t>(static_cast<double>(i)
                                                             * 1e6 / g.rate_per_s)
                                      : 0);
      pause_until(*st_, when, abort_threads_);
      auto texts = texts_of(g, 0, i, uint64_t{i} * g.texts_per_request);
      auto idx = record(gi, 0, i, g.texts_per_request);
      auto handler = answer_handler(st_, idx, texts);
      auto accepted = session.submit(std::move(texts), options_of(g),
                                     std::move(handler));
      std::lock_guard<std::mutex> guard{st_->mu};
      auto& r = st_->records[idx];
      // The deadline counts from admission, after the wait for credit.
      r.deadline_us = st_->now() + timeout_of(g) * 1000;
      if (!accepted && r.answers == 0) {
        r.answers = 1;
        r.answered_us = st_->now();
        r.code = embed_errc::shutting_down;
        r.message = "bulk_session::submit refused the request";
        ++st_->answered;
        st_->last_answer_us = std::max(st_->last_answer_us, r.answered_us);
      }
    }
  }

  // -- the driver's steps ----------------------------------------------------------

  /// Closed-loop callers go on after their answer, `think_ms` later.
  void resume_closed_loop(int64_t now) {
    std::vector<size_t> done;
    std::vector<std::pair<uint32_t, uint32_t>> callers; // group, caller
    {
      std::lock_guard<std::mutex> guard{st_->mu};
      done.swap(st_->completed);
      for (auto idx : done)
        callers.emplace_back(st_->records[idx].group, st_->records[idx].caller);
    }
    for (auto [gi, caller] : callers) {
      auto& g = groups_[gi];
      if (g.api == caller_api::callback && g.callers > 0
          && next_seq_[gi][caller] < g.requests_per_caller)
        due_.push({now + int64_t{g.think_ms} * 1000, gi, caller});
    }
  }

  void issue_due(int64_t now) {
    while (!due_.empty() && due_.top().at <= now) {
      auto d = due_.top();
      due_.pop();
      issue(d.group, d.caller, next_seq_[d.group][d.caller]++);
    }
    for (uint32_t gi = 0; gi < groups_.size(); ++gi)
      while (open_loop_due(gi) <= now)
        issue(gi, static_cast<uint32_t>(issued_[gi]), 0);
  }

  void crash_due(int64_t now) {
    while (next_crash_ <= now && next_crash_ < crash_end_) {
      auto workers = std::max(1u, cfg_.values.http_pool.workers);
      auto index = sc_.load.crash_worker >= 0
                     ? static_cast<uint32_t>(sc_.load.crash_worker)
                     : crashes_ % workers;
      rt_->crash_worker_for_test(index);
      ++crashes_;
      next_crash_ += int64_t{sc_.load.crash_every_ms} * 1000;
    }
  }

  /// Nothing more is issued; stop(grace) under load.
  void shut_down() {
    out_.not_issued = planned_ - issued_total_;
    out_.counters = rt_->counters();
    stop(milliseconds{sc_.load.shutdown_grace_ms},
         milliseconds{scaled(sc_.load.shutdown_grace_ms + sc_.load.stop_timeout_ms)},
         true);
    shut_down_ = true;
  }

  /// Waits for the next thing to do; false when the load is over (everything
  /// planned went out and came back) or the hard timeout passed.
  bool wait(int64_t now) {
    std::unique_lock<std::mutex> lock{st_->mu};
    bool all_out = issued_total_ == planned_ && threads_running_.load() == 0;
    if (all_out && st_->answered == st_->records.size() && st_->completed.empty()
        && !sc_.load.shutdown_after_ms)
      return false;
    if (now >= hard_deadline_) {
      out_.timed_out = true;
      return false;
    }
    auto wake = std::min({hard_deadline_, shutdown_at_,
                          next_crash_ < crash_end_ ? next_crash_ : INT64_MAX,
                          due_.empty() ? INT64_MAX : due_.top().at});
    for (uint32_t gi = 0; gi < groups_.size(); ++gi)
      wake = std::min(wake, open_loop_due(gi));
    if (threads_running_.load() > 0)
      wake = std::min(wake, now + 20000);
    if (st_->completed.empty() && wake > now)
      st_->cv.wait_for(lock, std::chrono::microseconds{wake - now});
    return true;
  }

  // -- the end ---------------------------------------------------------------------

  /// Stops the runtime under a watchdog; `measured`: stop's duration and report are
  /// part of the observation (load.shutdown), not the final stop after the load.
  void stop(milliseconds grace, milliseconds limit, bool measured) {
    shutdown_report report;
    int64_t took = 0;
    if (!stop_with_watchdog(rt_, grace, limit, report, took)) {
      out_.stop_hung = true;
      abandoned_ = true;
      out_.notes.push_back("runtime::stop did not return within "
                           + std::to_string(limit.count()) + " ms; runtime abandoned");
      return;
    }
    if (measured) {
      out_.stop_ms = took;
      out_.report = report;
    }
  }

  void join_host_threads() {
    abort_threads_ = true;
    auto join_deadline = steady_us() + 5'000'000;
    while (threads_running_.load() > 0 && steady_us() < join_deadline)
      std::this_thread::sleep_for(milliseconds{5});
    if (threads_running_.load() == 0) {
      for (auto& t : host_threads_)
        t.join();
      return;
    }
    // A producer is stuck in submit(): the runtime must not be stopped under it.
    for (auto& t : host_threads_)
      t.detach();
    out_.notes.push_back(
      "a bulk_session producer did not return from submit(); runtime "
      "abandoned");
    static_cast<void>(rt_.release());
    abandoned_ = true;
  }

  uint64_t unanswered() {
    std::lock_guard<std::mutex> guard{st_->mu};
    return st_->records.size() - st_->answered;
  }

  void snapshot() {
    std::lock_guard<std::mutex> guard{st_->mu};
    out_.requests.assign(st_->records.begin(), st_->records.end());
    out_.events = st_->events;
    out_.load_end_us = out_.timed_out ? st_->now()
                                      : std::max(st_->last_answer_us, start_);
  }

  const scenario& sc_;
  const std::vector<load_group>& groups_;
  observation& out_;
  const double scale_;
  mock::mock_server mock_;
  embedrt_config cfg_;
  std::shared_ptr<shared_state> st_ = std::make_shared<shared_state>();
  std::unique_ptr<runtime> rt_;
  // The load's clock (µs on the mock's clock).
  int64_t start_ = 0;
  int64_t hard_deadline_ = 0;
  int64_t next_crash_ = INT64_MAX;
  int64_t crash_end_ = 0;
  int64_t shutdown_at_ = INT64_MAX;
  // Callback groups.
  std::priority_queue<due_call, std::vector<due_call>, std::greater<>> due_;
  std::vector<std::vector<uint32_t>> next_seq_;
  std::vector<uint64_t> issued_;
  std::vector<uint64_t> next_k_;
  uint64_t planned_ = 0;
  uint64_t issued_total_ = 0;
  uint32_t crashes_ = 0;
  bool shut_down_ = false;
  bool abandoned_ = false;
  // Threads.
  std::thread probe_;
  std::atomic<bool> probe_stop_{false};
  std::atomic<int64_t> probe_lag_us_{0};
  std::atomic<bool> abort_threads_{false};
  std::atomic<uint32_t> threads_running_{0};
  std::vector<std::thread> host_threads_;
};

} // namespace

bool run(const scenario& sc, const run_options& opts, observation& out, bool& abandoned,
         std::string& error) {
  abandoned = false;
  // On the heap: an abandoned run is leaked, because threads that may still be
  // running (a stuck producer, the stop watchdog) reference it.
  auto r = std::make_unique<scenario_run>(sc, opts, out);
  if (!r->start(error))
    return false;
  r->drive();
  abandoned = r->finish();
  if (abandoned)
    static_cast<void>(r.release());
  return true;
}

} // namespace embedrt::scenario
