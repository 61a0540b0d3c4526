// `embedrt-scenario run|list|kinds`: the command line of the scenario runner.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ostream>

#include <dirent.h>

#include "tools/scenario/expectations.hpp"
#include "tools/scenario/scenario.hpp"

namespace embedrt::scenario {

namespace {

constexpr const char* usage_text = R"(usage:
  embedrt-scenario run FILE... [--time-scale=X]
  embedrt-scenario list [DIR]
  embedrt-scenario kinds

run    plays each scenario file against the runtime and the bundled mock upstream on
       127.0.0.1, prints a PASS/FAIL line per expectation (expected vs seen), the
       measured figures and a verdict. --time-scale (default
       $EMBEDRT_SCENARIO_TIME_SCALE, else 1) stretches duration bounds for slow
       builds. Exit 0: every scenario held; 1: some did not; 2: a file is unreadable
       or invalid.
list   checks and prints each scenario in DIR (default: scenarios) with what it
       proves; exit 2 if any is invalid.
kinds  prints every expectation kind a file may use: example, what must hold, and
       what its verdict reports.
)";

int64_t steady_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string seconds_text(int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(us) / 1e6);
  return buf;
}

/// Prints the verdicts, the figures and the verdict line; returns the failures.
size_t report(const scenario& sc, const observation& obs, double time_scale,
              int64_t took_us, std::ostream& out) {
  auto verdicts = check(sc, obs, time_scale);
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
  out << " in " << seconds_text(took_us);
  if (!sc.expected_to_fail.empty()) {
    if (failed > 0)
      out << "; expected to fail: " << sc.expected_to_fail;
    else
      out << "; NOTE: marked expected_to_fail (" << sc.expected_to_fail
          << ") but every expectation held: remove the mark";
  }
  out << "\n\n";
  out.flush();
  return failed;
}

/// Plays one file; returns its exit code (0, 1 or 2).
int run_file(const std::string& path, const run_options& opts, std::ostream& out,
             std::ostream& err, bool& abandoned) {
  scenario sc;
  std::string error;
  bool unreadable = false;
  if (!load_scenario_file(path, sc, error, unreadable)) {
    err << "embedrt-scenario: " << path << ": " << error << "\n";
    return 2;
  }
  out << "== scenario " << sc.name << ": " << sc.summary << "\n";
  out << "   file " << path << ", time scale " << opts.time_scale << "\n";
  if (!sc.expected_to_fail.empty())
    out << "   expected to fail: " << sc.expected_to_fail << "\n";
  out.flush();
  auto t0 = steady_us();
  observation obs;
  if (!run(sc, opts, obs, abandoned, error)) {
    err << "embedrt-scenario: " << path << ": " << error << "\n";
    return 2;
  }
  return report(sc, obs, opts.time_scale, steady_us() - t0, out) > 0 ? 1 : 0;
}

int run_command(const std::vector<std::string>& args, std::ostream& out,
                std::ostream& err, bool& abandoned) {
  run_options opts;
  if (auto env = std::getenv("EMBEDRT_SCENARIO_TIME_SCALE"); env && *env)
    opts.time_scale = std::atof(env);
  std::vector<std::string> files;
  for (size_t i = 1; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a.rfind("--time-scale=", 0) == 0) {
      opts.time_scale = std::atof(a.c_str() + 13);
    } else if (a.rfind("--", 0) == 0) {
      err << "embedrt-scenario: unknown option: " << a << "\n" << usage_text;
      return 2;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    err << "embedrt-scenario: run needs at least one FILE\n" << usage_text;
    return 2;
  }
  if (!(opts.time_scale >= 1.0 && opts.time_scale <= 100.0)) {
    err << "embedrt-scenario: the time scale must be in [1, 100]\n";
    return 2;
  }
  int rc = 0;
  for (auto& path : files) {
    auto file_rc = run_file(path, opts, out, err, abandoned);
    // 2 (a bad file) wins over 1 (an expectation did not hold).
    rc = std::max(rc, file_rc);
    if (abandoned)
      break; // a runtime is still running: do not start another
  }
  return rc;
}

int list_command(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err) {
  std::string dir = args.size() >= 2 ? args[1] : "scenarios";
  auto d = ::opendir(dir.c_str());
  if (d == nullptr) {
    err << "embedrt-scenario: cannot read the directory " << dir << "\n";
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
  auto sub = args.empty() ? std::string{} : args[0];
  if (sub == "run")
    return run_command(args, out, err, abandoned);
  if (sub == "list")
    return list_command(args, out, err);
  if (sub == "kinds") {
    out << describe_kinds_markdown();
    return 0;
  }
  if (sub == "--help" || sub == "-h" || sub == "help") {
    out << usage_text;
    return 0;
  }
  err << usage_text;
  return 2;
}

} // namespace embedrt::scenario
