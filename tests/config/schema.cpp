#define CAF_SUITE config.schema
#include <caf/test/unit_test.hpp>

#include <set>
#include <string>
#include <vector>

#include "config/schema.hpp"
#include "tests/support/config_errors.hpp"

using namespace embedrt;
using namespace embedrt::test;

namespace {} // namespace

// -- the table ------------------------------------------------------------------------

CAF_TEST(every key is unique and described) {
  std::set<std::string> names;
  std::string problems;
  for (auto& x : schema::keys()) {
    if (!names.insert(x.key()).second)
      problems += x.key() + ": twice\n";
    if (x.description.empty())
      problems += x.key() + ": no description\n";
    if (schema::range_text(x).empty())
      problems += x.key() + ": no range\n";
  }
  CAF_CHECK_EQUAL(problems, "");
}

CAF_TEST(the rows of a section are contiguous) {
  // dump_config writes one [section] per run of rows; a section split in two would
  // dump as a repeated section, which the loader refuses.
  std::set<std::string> closed;
  std::string current;
  std::string problems;
  for (auto& x : schema::keys()) {
    auto section = x.category();
    if (section == current)
      continue;
    if (closed.count(section) > 0)
      problems += x.key() + ": after another section\n";
    if (!current.empty())
      closed.insert(current);
    current = section;
  }
  CAF_CHECK_EQUAL(problems, "");
}

CAF_TEST(keys and sections are found by name) {
  auto seed = schema::find_key("embedrt.retry.seed");
  CAF_REQUIRE(seed != nullptr);
  CAF_CHECK_EQUAL(seed->key(), "embedrt.retry.seed");
  CAF_CHECK_EQUAL(seed->category(), "embedrt.retry");
  for (auto x : {"embedrt.retry", "embedrt.retry.seed.x", "retry.seed", "embedrt.seed",
                 "embedrt.retry.seedx", ""})
    CAF_CHECK_EQUAL(schema::find_key(x), nullptr);
  for (auto x : {"embedrt", "embedrt.retry", "embedrt.circuit_breaker", "embedrt.job"})
    CAF_CHECK(schema::is_section(x));
  for (auto x : {"embedrt.nothing", "embedrt.retry.seed", "retry", "embedrtx", ""})
    CAF_CHECK(!schema::is_section(x));
  for (auto x : {"embedrt", "embedrt.retry", "embedrt.nothing.x"})
    CAF_CHECK(schema::is_embedrt_path(x));
  for (auto x : {"embedrtx", "scheduler", "global", "embedrt_x.y", ""})
    CAF_CHECK(!schema::is_embedrt_path(x));
}

CAF_TEST(cross field rules name integer keys) {
  for (auto& r : schema::order_rules()) {
    for (auto key : {r.lhs, r.rhs}) {
      auto x = schema::find_key(key);
      CAF_REQUIRE(x != nullptr);
      CAF_CHECK(std::holds_alternative<schema::integer_rule>(x->rule));
    }
    CAF_CHECK(r.op == "<=" || r.op == ">=");
  }
}

// -- texts
// ------------------------------------------------------------------------------

CAF_TEST(rule range type and value texts) {
  runtime_config defaults;
  auto text_of = [&](const char* key) {
    auto x = schema::find_key(key);
    CAF_REQUIRE(x != nullptr);
    return schema::type_text(*x) + " | " + schema::range_text(*x) + " | "
           + schema::value_text(*x, defaults);
  };
  CAF_CHECK_EQUAL(text_of("embedrt.retry.max_attempts"), "integer | [1, 100] | 3");
  CAF_CHECK_EQUAL(text_of("embedrt.retry.multiplier"), "number | [1.0, 10.0] | 2.0");
  CAF_CHECK_EQUAL(text_of("embedrt.batching.dedup"), "bool | true or false | true");
  CAF_CHECK_EQUAL(text_of("embedrt.endpoint.encoding_format"),
                  R"(string | "base64" or "float" | "base64")");
  CAF_CHECK_EQUAL(text_of("embedrt.retry.max_delay_ms"),
                  "integer | [1, 3600000], >= embedrt.retry.base_delay_ms | 8000");
  auto attempts = schema::find_key("embedrt.retry.max_attempts");
  CAF_CHECK_EQUAL(schema::rule_text(std::get<schema::integer_rule>(attempts->rule)),
                  "must be an integer in [1, 100]");
}

CAF_TEST(a choice accepts its values only) {
  auto x = schema::find_key("embedrt.endpoint.encoding_format");
  CAF_REQUIRE(x != nullptr);
  auto& rule = std::get<schema::string_rule>(x->rule);
  auto problems = [&](const std::string& value) {
    std::vector<config_error> out;
    schema::check_string(rule, x->key(), value, out);
    return join(out);
  };
  CAF_CHECK_EQUAL(problems("base64"), "");
  CAF_CHECK_EQUAL(problems("float"), "");
  CAF_CHECK_EQUAL(problems("Float"), "embedrt.endpoint.encoding_format: must be "
                                     "\"base64\" or \"float\", got \"Float\"");
  CAF_CHECK_EQUAL(problems(""), "embedrt.endpoint.encoding_format: must be "
                                "\"base64\" or \"float\", got \"\"");
}

CAF_TEST(suggestions name close keys only) {
  CAF_CHECK_EQUAL(schema::suggestion_for("embedrt.retry.max_atempts"),
                  " (did you mean embedrt.retry.max_attempts?)");
  CAF_CHECK_EQUAL(schema::suggestion_for("embedrt.rate-limiter.max-queued"),
                  " (did you mean embedrt.rate_limiter.max_queued?)");
  CAF_CHECK_EQUAL(schema::suggestion_for("embedrt.retry.colour"), "");
  CAF_CHECK_EQUAL(schema::suggestion_for("scheduler.max-threads"), "");
}

// -- names
// ------------------------------------------------------------------------------

CAF_TEST(environment variable names) {
  for (auto x : {"OPENAI_API_KEY", "_x", "a1", "A"})
    CAF_CHECK(schema::is_env_var_name(x));
  for (auto x : {"", "1KEY", "OPENAI-API-KEY", "A B", "sk-test-123", "$HOME"})
    CAF_CHECK(!schema::is_env_var_name(x));
}

CAF_TEST(an invalid api_key_env is never echoed) {
  CAF_CHECK_EQUAL(schema::api_key_env_error("sk-secret-123").to_string(),
                  "embedrt.endpoint.api_key_env: must be an environment variable name "
                  "([A-Za-z_][A-Za-z0-9_]*), not the key itself, got a value of 13 "
                  "characters (not shown: it may be a key)");
  CAF_CHECK_EQUAL(schema::api_key_env_error("").value, "\"\"");
}
