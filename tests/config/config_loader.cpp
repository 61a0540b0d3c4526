#define CAF_SUITE config.config_loader
#include <caf/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/config_option.hpp>
#include <caf/config_option_set.hpp>

#include "config/config_loader.hpp"
#include "config/endpoint.hpp"
#include "config/schema.hpp"
#include "tests/support/config_errors.hpp"
#include "tests/support/scoped_env.hpp"

using namespace embedrt;
using namespace embedrt::test;

namespace {

constexpr const char* fake_key = "sk-test-7c4e1b9d2a6f0835e1d7";

/// Loads `ini` and `args` into a fresh config; returns the joined errors.
std::string errors_of(const std::string& ini,
                      const std::vector<std::string>& args = {}) {
  embedrt_config cfg;
  return join(load_config_text(cfg, ini, args));
}

/// Whether every field of `a` equals the one of `b` (exactly, reals included); names
/// the first difference in `diff`.
bool same(const runtime_config& a, const runtime_config& b, std::string& diff) {
  auto& x = const_cast<runtime_config&>(a);
  auto& y = const_cast<runtime_config&>(b);
  for (auto& key : schema::keys()) {
    bool equal = std::visit(
      [&](const auto& rule) {
        using rule_type = std::decay_t<decltype(rule)>;
        if constexpr (std::is_same_v<rule_type, schema::integer_rule>)
          return std::visit([&](auto ref) { return ref(x) == ref(y); }, rule.ref);
        else
          return rule.ref(x) == rule.ref(y);
      },
      key.rule);
    if (!equal) {
      diff = key.key() + ": " + schema::value_text(key, a)
             + " != " + schema::value_text(key, b);
      return false;
    }
  }
  return true;
}

std::string diff_of(const runtime_config& a, const runtime_config& b) {
  std::string diff;
  same(a, b, diff);
  return diff;
}

/// A file in the temp directory, removed at scope exit.
class temp_file {
public:
  explicit temp_file(const std::string& content) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path()
             / ("embedrt-config-test-" + std::to_string(getpid()) + "-"
                + std::to_string(++counter) + ".conf"))
              .string();
    std::ofstream out{path_};
    out << content;
  }
  ~temp_file() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

/// argv for load_config.
class argv_builder {
public:
  explicit argv_builder(std::vector<std::string> args) : args_(std::move(args)) {
    args_.insert(args_.begin(), "embedrt-test");
    for (auto& x : args_)
      ptrs_.push_back(x.data());
    ptrs_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(args_.size()); }
  char** argv() { return ptrs_.data(); }

private:
  std::vector<std::string> args_;
  std::vector<char*> ptrs_;
};

using embedrt::test::scoped_env;

struct row {
  std::string ini;
  std::string expected;
};

// One row per rule the loader adds on top of validate(); exact text.
const std::vector<row> file_rows = {
  // unknown keys: a typo must not silently become a default
  {"[embedrt.rate_limiter]\nrequests_per_minte = 5\n",
   "embedrt.rate_limiter.requests_per_minte: unknown key (did you mean "
   "embedrt.rate_limiter.requests_per_minute?)"},
  {"[embedrt.rate_limiter]\nrequests-per-minute = 5\n",
   "embedrt.rate_limiter.requests-per-minute: unknown key (did you mean "
   "embedrt.rate_limiter.requests_per_minute?)"},
  {"[embedrt.retyr]\nseed = 5\n",
   "embedrt.retyr.seed: unknown key (did you mean embedrt.retry.seed?)"},
  {"[embedrt.endpoint]\napi_key = \"sk-do-not-echo\"\n",
   "embedrt.endpoint.api_key: unknown key"},
  {"[embedrt]\nseed = 5\n", "embedrt.seed: unknown key"},
  {"[embedrt.nothing]\n", "embedrt.nothing: unknown section"},
  {"[embedrt.retry]\n[embedrt.batching]\n", ""},
  {"max_attempts = 5\n[embedrt.retry]\nseed = 1\n",
   "max_attempts: unknown key outside any section (did you mean "
   "embedrt.retry.max_attempts? put it under [embedrt.retry])"},
  {"colour = 5\n", "colour: unknown key outside any section"},
  {"[embedrt.retry.seed]\n", "embedrt.retry.seed: is a key, not a section"},
  {"[embedrt.retry.seed]\nx = 1\n",
   "embedrt.retry.seed.x: unknown key (did you mean embedrt.retry.seed?)"},
  // wrong types: CAF 0.17 would keep the default without a word
  {"[embedrt.rate_limiter]\nrequests_per_minute = -5\n",
   "embedrt.rate_limiter.requests_per_minute: must be an integer in [0, 100000000], "
   "got "
   "-5"},
  {"[embedrt.rate_limiter]\nrequests_per_minute = \"abc\"\n",
   "embedrt.rate_limiter.requests_per_minute: must be an integer in [0, 100000000], "
   "got "
   "\"abc\""},
  {"[embedrt.rate_limiter]\nrequests_per_minute = 1.5\n",
   "embedrt.rate_limiter.requests_per_minute: must be an integer in [0, 100000000], "
   "got "
   "1.5"},
  {"[embedrt.rate_limiter]\nrequests_per_minute = 5000000000\n",
   "embedrt.rate_limiter.requests_per_minute: must be an integer in [0, 100000000], "
   "got "
   "5000000000"},
  {"[embedrt.request]\ntimeout_ms = 500ms\n",
   "embedrt.request.timeout_ms: must be an integer in [1, 86400000], got 500ms"},
  {"[embedrt.request]\ntimeout_ms = true\n",
   "embedrt.request.timeout_ms: must be an integer in [1, 86400000], got true"},
  {"[embedrt.retry]\nmultiplier = \"fast\"\n",
   "embedrt.retry.multiplier: must be a number in [1.0, 10.0], got \"fast\""},
  {"[embedrt.batching]\ndedup = 1\n",
   "embedrt.batching.dedup: must be true or false, got 1"},
  {"[embedrt.batching]\ndedup = \"false\"\n",
   "embedrt.batching.dedup: must be true or false, got \"false\""},
  {"[embedrt.endpoint]\nmodel = 5\n",
   "embedrt.endpoint.model: must be a quoted string, got 5"},
  {"[embedrt.endpoint]\nencoding_format = 'float'\n",
   "embedrt.endpoint.encoding_format: must be a quoted string, got 'float'"},
  {"[embedrt.endpoint]\nmodel = [\"a\", \"b\"]\n",
   "embedrt.endpoint.model: must be a quoted string, got [\"a\", \"b\"]"},
  // ranges and cross-field rules, from validate()
  {"[embedrt.retry]\nmax_attempts = 0\n",
   "embedrt.retry.max_attempts: must be an integer in [1, 100], got 0"},
  {"[embedrt.retry]\nmultiplier = 11\n",
   "embedrt.retry.multiplier: must be a number in [1.0, 10.0], got 11.0"},
  {"[embedrt.circuit_breaker]\nminimum_calls = 1030\n",
   "embedrt.circuit_breaker.minimum_calls: must be <= "
   "embedrt.circuit_breaker.window_calls (1000), got 1030"},
  // syntax errors: file, line and column, never a raw CAF error
  {"# a comment\n",
   "config text:1:1: syntax error: unexpected character (comments start "
   "with ';', strings are quoted)"},
  {"[embedrt.endpoint]\nencoding_format = base64\n",
   "config text:2:20: syntax error: unexpected character (comments start with ';', "
   "strings are quoted)"},
  {"[embedrt.retry\nseed = 1\n",
   "config text:2:1: syntax error: unexpected end of line "
   "(missing value, quote or ']')"},
  {"[embedrt.retry]\nseed =\n", "config text:3:1: syntax error: unexpected end of line "
                                "(missing value, quote or ']')"},
  {"[embedrt.retry]\nseed = 18446744073709551615\n",
   "config text:2:28: integer out of range (config integers are signed 64-bit)"},
  {"[embedrt.retry]\nbase_delay_ms = 1.5s\n",
   "config text:2:21: fractional duration (write 1500ms, not 1.5s)"},
  // CAF 0.17 reports nothing when the text ends inside a value (and drops the section)
  {"[embedrt.retry]\nmax_attempts = 5\nmodel = \"abc",
   "config text:3:14: syntax error: unexpected end of file"},
  {"[embedrt.endpoint]\nmodel = " + std::string(100, '[') + "\n",
   "config text:2:73: nested deeper than 64 section name parts, lists or maps"},
  {"[embedrt.endpoint]\nmodel = \"a\\qb\"\n",
   "config text:2:13: invalid escape sequence (use \\n, \\r, \\t, \\\\ or \\\")"},
  // what CAF 0.17 drops silently even when the syntax is fine
  {"[embedrt.retry]\nseed = 1\n[embedrt.batching]\ndedup = false\n[embedrt.retry]\n"
   "max_attempts = 5\n",
   "embedrt.retry: section appears more than once (lines 1 and 5); CAF 0.17 keeps only "
   "the last one, merge them"},
  {"[embedrt.retry]\nseed = 1\nseed = 2\n",
   "embedrt.retry.seed: is set more than once in its section (lines 2 and 3); keep "
   "one"},
  // CAF's own keys: type-checked by CAF, but dropped silently
  {"[scheduler]\nmax-threads = \"two\"\n",
   "scheduler.max-threads: must be a non-negative integer, got \"two\""},
  {"[scheduler]\npolicy = \"sharing\"\n",
   "scheduler.policy: must be an atom in single quotes ('name'), got \"sharing\""},
  {"[scheduler]\nmax-threads = 2\npolicy = 'sharing'\n[logger]\nverbosity = 'quiet'\n",
   ""},
};

} // namespace

CAF_TEST(every file rule has its exact message) {
  for (auto& x : file_rows)
    CAF_CHECK_EQUAL(errors_of(x.ini), x.expected);
}

CAF_TEST(an empty text yields the defaults) {
  embedrt_config cfg;
  CAF_CHECK_EQUAL(join(load_config_text(cfg, "")), "");
  CAF_CHECK_EQUAL(diff_of(cfg.values, runtime_config{}), "");
}

CAF_TEST(values reach the struct) {
  embedrt_config cfg;
  auto errors = load_config_text(cfg, R"([embedrt.endpoint]
base_url = "https://proxy.example.com/v1" ; a comment after a value
model = "text-embedding-3-large"

[embedrt.retry]
max_attempts = 5
multiplier = 3        ; an integer is fine for a number
seed = 0x10

[embedrt.batching]
dedup = false
)");
  CAF_CHECK_EQUAL(join(errors), "");
  CAF_CHECK_EQUAL(cfg.values.endpoint.base_url, "https://proxy.example.com/v1");
  CAF_CHECK_EQUAL(cfg.values.endpoint.model, "text-embedding-3-large");
  CAF_CHECK_EQUAL(cfg.values.retry.max_attempts, 5u);
  CAF_CHECK_EQUAL(cfg.values.retry.multiplier, 3.0);
  CAF_CHECK_EQUAL(cfg.values.retry.seed, 16u);
  CAF_CHECK_EQUAL(cfg.values.batching.dedup, false);
}

CAF_TEST(windows line endings a byte order mark and the map form are accepted) {
  embedrt_config crlf;
  CAF_CHECK_EQUAL(
    join(load_config_text(crlf, "[embedrt.retry]\r\nmax_attempts = 4\r\n")), "");
  CAF_CHECK_EQUAL(crlf.values.retry.max_attempts, 4u);
  embedrt_config bom;
  CAF_CHECK_EQUAL(
    join(load_config_text(bom, "\xEF\xBB\xBF[embedrt.retry]\nmax_attempts = 6\n")), "");
  CAF_CHECK_EQUAL(bom.values.retry.max_attempts, 6u);
  embedrt_config map;
  CAF_CHECK_EQUAL(
    join(load_config_text(map, "[embedrt]\nretry { max_attempts = 7 }\n")), "");
  CAF_CHECK_EQUAL(map.values.retry.max_attempts, 7u);
}

// File errors in file order, then the command line, then validate().
CAF_TEST(several errors are all reported at once) {
  auto ini = R"([embedrt.rate_limiter]
requests_per_minute = -5
burst_secnds = 2

[embedrt.retry]
max_attempts = 0
multiplier = "x"

[embedrt.circuit_breaker]
minimum_calls = 1030
)";
  CAF_CHECK_EQUAL(
    errors_of(ini,
              {"--embedrt.batching.dedup=maybe", "--embedrt.retry.max_delay_ms=abc"}),
    "embedrt.rate_limiter.requests_per_minute: must be an integer in [0, 100000000], "
    "got "
    "-5\n"
    "embedrt.rate_limiter.burst_secnds: unknown key (did you mean "
    "embedrt.rate_limiter.burst_seconds?)\n"
    "embedrt.retry.multiplier: must be a number in [1.0, 10.0], got \"x\"\n"
    "embedrt.batching.dedup: must be true or false, got maybe\n"
    "embedrt.retry.max_delay_ms: must be an integer in [1, 3600000], got abc\n"
    "embedrt.retry.max_attempts: must be an integer in [1, 100], got 0\n"
    "embedrt.circuit_breaker.minimum_calls: must be <= "
    "embedrt.circuit_breaker.window_calls (1000), got 1030");
}

// -- the command line --------------------------------------------------------------

CAF_TEST(command line options override the file) {
  embedrt_config cfg;
  auto errors = load_config_text(
    cfg,
    "[embedrt.rate_limiter]\nrequests_per_minute = 100\n"
    "[embedrt.batching]\ndedup = true\n",
    {"--embedrt.rate_limiter.requests_per_minute=200", "--embedrt.batching.dedup=false",
     "--embedrt.supervision.test_hooks",
     "--embedrt.rate_limiter.follow_upstream_headers=true",
     "--embedrt.retry.multiplier=2.5",
     "--embedrt.circuit_breaker.open_duration_multiplier=3",
     "--embedrt.endpoint.model=text-embedding-3-large",
     "--embedrt.endpoint.ca_bundle=\"/etc/my ca.pem\"",
     "--embedrt.endpoint.base_url="});
  CAF_CHECK_EQUAL(join(errors), "");
  CAF_CHECK_EQUAL(cfg.values.rate_limiter.requests_per_minute, 200u);
  CAF_CHECK_EQUAL(cfg.values.batching.dedup, false);
  CAF_CHECK_EQUAL(cfg.values.supervision.test_hooks, true);
  CAF_CHECK_EQUAL(cfg.values.rate_limiter.follow_upstream_headers, true);
  CAF_CHECK_EQUAL(cfg.values.retry.multiplier, 2.5);
  CAF_CHECK_EQUAL(cfg.values.circuit_breaker.open_duration_multiplier, 3.0);
  CAF_CHECK_EQUAL(cfg.values.endpoint.model, "text-embedding-3-large");
  CAF_CHECK_EQUAL(cfg.values.endpoint.ca_bundle, "/etc/my ca.pem");
  CAF_CHECK_EQUAL(cfg.values.endpoint.base_url, "");
}

CAF_TEST(every command line rule has its exact message) {
  std::vector<std::pair<std::string, std::string>> rows = {
    {"--embedrt.rate_limiter.requests_per_minute=abc",
     "embedrt.rate_limiter.requests_per_minute: must be an integer in [0, 100000000], "
     "got abc"},
    {"--embedrt.rate_limiter.requests_per_minute=-5",
     "embedrt.rate_limiter.requests_per_minute: must be an integer in [0, 100000000], "
     "got -5"},
    {"--embedrt.rate_limiter.requests_per_minute=100000001",
     "embedrt.rate_limiter.requests_per_minute: must be an integer in [0, 100000000], "
     "got 100000001"},
    {"--embedrt.retry.seed=18446744073709551615",
     "embedrt.retry.seed: must be an integer in [0, 9223372036854775807], got "
     "18446744073709551615"},
    {"--embedrt.retry.multiplier=fast",
     "embedrt.retry.multiplier: must be a number in [1.0, 10.0], got fast"},
    {"--embedrt.batching.dedup=no",
     "embedrt.batching.dedup: must be true or false, got no"},
    {"--embedrt.retry.max_attempts",
     "embedrt.retry.max_attempts: needs a value: --embedrt.retry.max_attempts=VALUE"},
    {"--embedrt.retry.max_atempts=5", "embedrt.retry.max_atempts: unknown key (did you "
                                      "mean embedrt.retry.max_attempts?)"},
    {"--embedrt.endpoint.encoding_format=json",
     "embedrt.endpoint.encoding_format: must be \"base64\" or \"float\", got \"json\""},
    // CAF's own options: CAF reports the first bad one, converted
    {"--scheduler.max-threads=abc",
     "scheduler.max-threads: must be a non-negative integer, got abc"},
    {"--scheduler.enable-profiling=true",
     "scheduler.enable-profiling: is a flag on the command line: write "
     "--scheduler.enable-profiling without a value, got true"},
    {"--bogus=1", "--bogus: unknown command-line option, got 1"},
  };
  for (auto& x : rows)
    CAF_CHECK_EQUAL(errors_of("", {x.first}), x.second);
}

CAF_TEST(arguments after the first positional one are left to the host) {
  embedrt_config cfg;
  auto errors = load_config_text(cfg, "", {"run", "--embedrt.retry.max_attempts=5"});
  CAF_CHECK_EQUAL(join(errors), "");
  CAF_CHECK_EQUAL(cfg.values.retry.max_attempts, 3u);
  CAF_CHECK_EQUAL(cfg.remainder.size(), 2u);
}

CAF_TEST(every key is a caf option) {
  embedrt_config cfg;
  std::string missing;
  for (auto& x : schema::keys())
    if (cfg.declared_options().cli_long_name_lookup(x.key()) == nullptr)
      missing += x.key() + " ";
  CAF_CHECK_EQUAL(missing, "");
  auto help = cfg.declared_options().help_text(false);
  CAF_CHECK_NOT_EQUAL(help.find("--embedrt.retry.max_attempts=<uint32>"),
                      std::string::npos);
}

CAF_TEST(an actor system starts from a loaded config) {
  embedrt_config cfg;
  CAF_REQUIRE_EQUAL(join(load_config_text(cfg, "[scheduler]\nmax-threads = 1\n"
                                               "[embedrt.retry]\nmax_attempts = 4\n")),
                    "");
  caf::actor_system sys{cfg};
  CAF_CHECK_EQUAL(caf::get_or(sys.config(), "scheduler.max-threads", size_t{0}), 1u);
  CAF_CHECK_EQUAL(cfg.values.retry.max_attempts, 4u);
}

// -- CAF 0.17.6 itself: the behaviour the loader works around --------------------

CAF_TEST(caf alone does not apply nested sections of a file) {
  embedrt_config cfg;
  std::istringstream in{"[embedrt.retry]\nmax_attempts = 7\n"};
  CAF_CHECK(!cfg.parse(caf::actor_system_config::string_list{}, in));
  CAF_CHECK_EQUAL(cfg.values.retry.max_attempts, 3u); // not 7: stored in content only
}

CAF_TEST(caf alone takes a bool option only as a bare flag) {
  embedrt_config flag;
  std::istringstream empty_a{""};
  CAF_CHECK(!flag.parse({"--embedrt.supervision.test_hooks"}, empty_a));
  CAF_CHECK_EQUAL(flag.values.supervision.test_hooks, true);
  embedrt_config with_value;
  std::istringstream empty_b{""};
  auto err = with_value.parse({"--embedrt.batching.dedup=false"}, empty_b);
  CAF_CHECK_NOT_EQUAL(caf::to_string(err).find("illegal_argument"), std::string::npos);
}

// -- files
// -----------------------------------------------------------------------------

CAF_TEST(load_config reads the default file and honours config file) {
  temp_file file{"[embedrt.retry]\nmax_attempts = 7\n"};
  {
    embedrt_config cfg;
    argv_builder args{
      {"--config-file=" + file.path(), "--embedrt.retry.base_delay_ms=250"}};
    CAF_CHECK_EQUAL(join(load_config(cfg, args.argc(), args.argv())), "");
    CAF_CHECK_EQUAL(cfg.values.retry.max_attempts, 7u);
    CAF_CHECK_EQUAL(cfg.values.retry.base_delay_ms, 250u);
  }
  {
    embedrt_config cfg;
    argv_builder args{{}};
    CAF_CHECK_EQUAL(join(load_config(cfg, args.argc(), args.argv(), file.path())), "");
    CAF_CHECK_EQUAL(cfg.values.retry.max_attempts, 7u);
  }
}

CAF_TEST(a missing default file is fine and a missing explicit one is not ) {
  {
    embedrt_config cfg;
    argv_builder args{{}};
    CAF_CHECK_EQUAL(join(load_config(cfg, args.argc(), args.argv(),
                                     "/nonexistent/caf-application.conf")),
                    "");
    CAF_CHECK_EQUAL(diff_of(cfg.values, runtime_config{}), "");
  }
  {
    embedrt_config cfg;
    argv_builder args{{"--config-file=/nonexistent/embedrt.conf"}};
    CAF_CHECK_EQUAL(join(load_config(cfg, args.argc(), args.argv())),
                    "/nonexistent/embedrt.conf: no such file");
  }
  {
    embedrt_config cfg;
    CAF_CHECK_EQUAL(join(load_config_file(cfg, "/nonexistent/embedrt.conf")),
                    "/nonexistent/embedrt.conf: no such file");
  }
  {
    embedrt_config cfg;
    auto dir = std::filesystem::temp_directory_path().string();
    CAF_CHECK_EQUAL(join(load_config_file(cfg, dir)),
                    dir + ": is a directory, not a config file");
  }
}

CAF_TEST(syntax errors name the file) {
  temp_file file{"[embedrt.retry]\nmax_attempts = 5\n# not a comment\n"};
  embedrt_config cfg;
  CAF_CHECK_EQUAL(join(load_config_file(cfg, file.path())),
                  file.path()
                    + ":3:2: syntax error: unexpected character (comments start with "
                      "';', strings are quoted)");
}

// -- the shipped reference file
// --------------------------------------------------------

namespace {

const std::string shipped_conf = EMBEDRT_SOURCE_DIR "/config/caf-application.conf";

} // namespace

CAF_TEST(the shipped conf parses without errors and yields the defaults) {
  embedrt_config cfg;
  CAF_CHECK_EQUAL(join(load_config_file(cfg, shipped_conf)), "");
  CAF_CHECK_EQUAL(diff_of(cfg.values, runtime_config{}), "");
}

CAF_TEST(the shipped conf documents every key with its default) {
  std::ifstream in{shipped_conf};
  CAF_REQUIRE(in.good());
  // key -> (value as written, preceded by a comment line)
  std::map<std::string, std::pair<std::string, bool>> found;
  std::string section;
  std::string line;
  bool previous_is_comment = false;
  while (std::getline(in, line)) {
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos) {
      previous_is_comment = false;
      continue;
    }
    if (line[first] == ';') {
      previous_is_comment = true;
      continue;
    }
    if (line[first] == '[') {
      section = line.substr(first + 1, line.find(']') - first - 1);
    } else if (auto eq = line.find(" = "); eq != std::string::npos) {
      auto value = line.substr(eq + 3);
      value = value.substr(0, value.find(" ;"));
      found[section + "." + line.substr(first, eq - first)] = {value,
                                                               previous_is_comment};
    }
    previous_is_comment = false;
  }
  std::string problems;
  for (auto& x : describe_keys()) {
    auto i = found.find(x.key);
    if (i == found.end())
      problems += x.key + ": missing\n";
    else if (i->second.first != x.default_value)
      problems += x.key + ": " + i->second.first + " is not the default "
                  + x.default_value + "\n";
    else if (!i->second.second)
      problems += x.key + ": no comment line above it\n";
  }
  CAF_CHECK_EQUAL(problems, "");
}

// -- dump and describe
// -----------------------------------------------------------------

namespace {

/// A valid config where every field differs from the default.
runtime_config everything_changed() {
  runtime_config result;
  for (auto& x : schema::keys()) {
    std::visit(
      [&](const auto& rule) {
        using rule_type = std::decay_t<decltype(rule)>;
        if constexpr (std::is_same_v<rule_type, schema::integer_rule>) {
          std::visit(
            [&](auto ref) {
              auto& field = ref(result);
              field = field < rule.max ? field + 1 : field - 1;
            },
            rule.ref);
        } else if constexpr (std::is_same_v<rule_type, schema::real_rule>) {
          rule.ref(result) += 0.007; // 2.007: CAF 0.17 reads "2.007" one ulp off
        } else if constexpr (std::is_same_v<rule_type, schema::bool_rule>) {
          rule.ref(result) = !rule.ref(result);
        }
      },
      x.rule);
  }
  result.endpoint.base_url = "https://proxy.example.com:8443/openai/v1";
  result.endpoint.api_key_env = "EMBEDRT_ALT_KEY";
  result.endpoint.model = "model \"quoted\" back\\slash\ttab\nnewline";
  result.endpoint.encoding_format = "float";
  result.endpoint.ca_bundle = "/etc/ssl/my ca;bundle.pem";
  result.endpoint.proxy = "http://proxy.example.com:3128";
  result.rate_limiter.shared_store = "redis://127.0.0.7:6380/2";
  result.rate_limiter.shared_name = "team-a/embeddings";
  result.rate_limiter.shared_password_env = "EMBEDRT_ALT_REDIS_PASSWORD";
  result.log.level = "debug";
  result.log.file = "/var/log/embedrt events.jsonl";
  return result;
}

} // namespace

CAF_TEST(dump reloads to the same values) {
  for (auto& original : {runtime_config{}, everything_changed()}) {
    CAF_REQUIRE_EQUAL(join(validate(original)), "");
    auto text = dump_config(original);
    embedrt_config cfg;
    CAF_CHECK_EQUAL(join(load_config_text(cfg, text)), "");
    CAF_CHECK_EQUAL(diff_of(cfg.values, original), "");
    CAF_CHECK_EQUAL(dump_config(cfg.values), text);
  }
  // every field took part
  runtime_config defaults;
  auto changed = everything_changed();
  for (auto& x : describe_keys()) {
    auto key = schema::find_key(x.key);
    CAF_CHECK_NOT_EQUAL(schema::value_text(*key, changed),
                        schema::value_text(*key, defaults));
  }
}

CAF_TEST(the api key never appears in an error or a dump) {
  scoped_env key{"EMBEDRT_TEST_KEY", std::string{fake_key}};
  embedrt_config cfg;
  auto errors = load_config_text(cfg, R"([embedrt.endpoint]
base_url = "http://embeddings.example.com/v1"
api_key_env = "EMBEDRT_TEST_KEY"
)");
  CAF_CHECK_EQUAL(join(errors), "");
  resolved_endpoint out;
  auto refused = resolve_endpoint(cfg.values.endpoint, out);
  CAF_CHECK_EQUAL(refused.size(), 1u);
  CAF_CHECK_EQUAL(join(refused).find(fake_key), std::string::npos);
  CAF_CHECK_EQUAL(dump_config(cfg.values).find(fake_key), std::string::npos);
  // The likeliest slip: the key pasted where its variable's name belongs.
  auto pasted = std::string{"[embedrt.endpoint]\napi_key_env = \""} + fake_key + "\"\n";
  CAF_CHECK_EQUAL(errors_of(pasted).find(fake_key), std::string::npos);
  CAF_CHECK_EQUAL(errors_of(pasted),
                  "embedrt.endpoint.api_key_env: must be an environment variable name "
                  "([A-Za-z_][A-Za-z0-9_]*), not the key itself, got a value of 28 "
                  "characters (not shown: it may be a key)");
  CAF_CHECK_EQUAL(errors_of("",
                            {std::string{"--embedrt.endpoint.api_key_env="} + fake_key})
                    .find(fake_key),
                  std::string::npos);
  CAF_CHECK_EQUAL(
    errors_of(std::string{"[embedrt.endpoint]\napi_key = \""} + fake_key + "\"\n")
      .find(fake_key),
    std::string::npos);
  CAF_CHECK_EQUAL(
    errors_of(std::string{"[embedrt.endpoint]\napi_key = "} + fake_key + "\n")
      .find(fake_key),
    std::string::npos);
}

CAF_TEST(dump redacts credentials in a url) {
  runtime_config cfg;
  cfg.endpoint.base_url = "https://user:sk-test-secret@proxy.example.com/v1";
  auto text = dump_config(cfg);
  CAF_CHECK_EQUAL(text.find("sk-test-secret"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(text.find("base_url = \"https://***@proxy.example.com/v1\""),
                      std::string::npos);
}

CAF_TEST(describe_keys lists every key once with its default) {
  auto keys = describe_keys();
  CAF_CHECK_EQUAL(keys.size(), schema::keys().size());
  std::set<std::string> names;
  for (auto& x : keys)
    names.insert(x.key);
  CAF_CHECK_EQUAL(names.size(), keys.size());
  auto find = [&keys](const std::string& key) {
    return *std::find_if(keys.begin(), keys.end(),
                         [&key](const key_info& x) { return x.key == key; });
  };
  auto attempts = find("embedrt.retry.max_attempts");
  CAF_CHECK_EQUAL(attempts.type, "integer");
  CAF_CHECK_EQUAL(attempts.default_value, "3");
  CAF_CHECK_EQUAL(attempts.range, "[1, 100]");
  auto minimum = find("embedrt.circuit_breaker.minimum_calls");
  CAF_CHECK_EQUAL(minimum.range,
                  "[1, 100000], <= embedrt.circuit_breaker.window_calls");
  CAF_CHECK_EQUAL(find("embedrt.retry.multiplier").default_value, "2.0");
  CAF_CHECK_EQUAL(find("embedrt.batching.dedup").default_value, "true");
  CAF_CHECK_EQUAL(find("embedrt.endpoint.encoding_format").default_value, "\"base64\"");
  auto markdown = describe_keys_markdown();
  for (auto& x : keys)
    CAF_CHECK_NOT_EQUAL(markdown.find("| `" + x.key + "` |"), std::string::npos);
}
