#define CAF_SUITE config.caf_ini
#include <caf/test/unit_test.hpp>

#include <string>
#include <vector>

#include <caf/config_option_adder.hpp>
#include <caf/config_option_set.hpp>

#include "config/caf_ini.hpp"
#include "tests/support/config_errors.hpp"

using namespace embedrt;
using namespace embedrt::test;

namespace {

/// Every section and entry of `text` as "line: path = value" lines; a syntax error as
/// "line:column: code".
std::string outline(const std::string& text) {
  caf_ini::document doc;
  caf_ini::syntax_error error;
  std::string result;
  bool ok = caf_ini::parse(caf_ini::normalize(text), doc, error);
  size_t next = 0;
  for (size_t block = 0; block < doc.sections.size(); ++block) {
    auto& s = doc.sections[block];
    result += std::to_string(s.line) + ": [" + s.path + "]";
    if (s.earlier_line != 0)
      result += " again (" + std::to_string(s.earlier_line) + ")";
    result += "\n";
    for (; next < doc.entries.size() && doc.entries[next].block == block; ++next) {
      auto& x = doc.entries[next];
      result += std::to_string(x.line) + ": " + doc.path_of(x) + " = "
                + caf_ini::written(x.value);
      if (x.earlier_line != 0)
        result += " again (" + std::to_string(x.earlier_line) + ")";
      result += "\n";
    }
  }
  if (!ok)
    result += std::to_string(error.line) + ":" + std::to_string(error.column) + ": "
              + caf::to_string(error.code) + "\n";
  return result;
}

bool everything(std::string_view) {
  return true;
}

} // namespace

// -- reading once -------------------------------------------------------------------

CAF_TEST(one parse yields every section and entry with its line) {
  CAF_CHECK_EQUAL(outline("; comment\n"
                          "verbose = true\n"
                          "[embedrt.retry]\n"
                          "max_attempts = 5 ; note\n"
                          "\n"
                          "multiplier = 2.5\n"
                          "[scheduler]\n"
                          "max-threads = 2\n"
                          "policy = 'sharing'\n"
                          "[embedrt]\n"
                          "batching { dedup = false, max_inputs = 7 }\n"
                          "list = [1,\n"
                          "  2]\n"
                          "[embedrt.nothing]\n"
                          "[a.b.c]\n"
                          "x = \"y\"\n"),
                  "2: [global]\n"
                  "2: verbose = true\n"
                  "3: [embedrt.retry]\n"
                  "4: embedrt.retry.max_attempts = 5\n"
                  "6: embedrt.retry.multiplier = 2.5\n"
                  "7: [scheduler]\n"
                  "8: scheduler.max-threads = 2\n"
                  "9: scheduler.policy = 'sharing'\n"
                  "10: [embedrt]\n"
                  "11: embedrt.batching = {\"dedup\" = false, \"max_inputs\" = 7}\n"
                  "12: embedrt.list = [1, 2]\n"
                  "14: [embedrt.nothing]\n"
                  "15: [a.b.c]\n"
                  "16: a.b.c.x = \"y\"\n");
}

CAF_TEST(repeated sections and keys keep both lines) {
  CAF_CHECK_EQUAL(outline("[embedrt.retry]\nseed = 1\nseed = 2\n[embedrt.batching]\n"
                          "[embedrt.retry]\nseed = 3\n"),
                  "1: [embedrt.retry]\n"
                  "2: embedrt.retry.seed = 1\n"
                  "3: embedrt.retry.seed = 2 again (2)\n"
                  "4: [embedrt.batching]\n"
                  "5: [embedrt.retry] again (1)\n"
                  "6: embedrt.retry.seed = 3\n");
  caf_ini::document doc;
  caf_ini::syntax_error error;
  CAF_REQUIRE(caf_ini::parse("[embedrt.retry]\nseed = 1\nseed = 2\n[embedrt.batching]\n"
                             "[embedrt.retry]\nx = 3\n[other]\ny = 1\ny = 2\n[other]\n",
                             doc, error));
  std::vector<config_error> errors;
  caf_ini::find_repeats(doc, everything, errors);
  CAF_CHECK_EQUAL(join(errors),
                  "embedrt.retry: section appears more than once (lines 1 and 5); CAF "
                  "0.17 keeps only the last one, merge them\n"
                  "other: section appears more than once (lines 7 and 10); CAF 0.17 "
                  "keeps only the last one, merge them\n"
                  "embedrt.retry.seed: is set more than once in its section (lines 2 "
                  "and 3); keep one\n"
                  "other.y: is set more than once in its section (lines 8 and 9); keep "
                  "one");
  errors.clear();
  caf_ini::find_repeats(
    doc, [](std::string_view path) { return path.substr(0, 7) == "embedrt"; }, errors);
  CAF_CHECK_EQUAL(errors.size(), 2u);
}

CAF_TEST(syntax errors stop where caf stops and keep what came before) {
  // Positions as CAF 0.17 counts them: a '\n' is column 1 of the next line.
  CAF_CHECK_EQUAL(outline("# a comment\n"), "1:1: unexpected_character\n");
  CAF_CHECK_EQUAL(outline("[embedrt.retry]\nseed = 1\nmodel = base64\n"),
                  "1: [embedrt.retry]\n"
                  "2: embedrt.retry.seed = 1\n"
                  "3:10: unexpected_character\n");
  CAF_CHECK_EQUAL(outline("[embedrt.retry]\nseed =\n"),
                  "1: [embedrt.retry]\n3:1: unexpected_newline\n");
  CAF_CHECK_EQUAL(outline("[embedrt.retry]\nbase_delay_ms = 1.5s\n"),
                  "1: [embedrt.retry]\n2:21: fractional_timespan\n");
}

CAF_TEST(a text that ends inside a value is an error unlike in caf) {
  // CAF 0.17 reports nothing here and drops the section in progress.
  CAF_CHECK_EQUAL(outline("[embedrt.retry]\nseed = 1\nmodel = \"abc"),
                  "1: [embedrt.retry]\n2: embedrt.retry.seed = 1\n"
                  "3:14: unexpected_eof\n");
  CAF_CHECK_EQUAL(outline("[embedrt.retry]\nlist = [1, 2"),
                  "1: [embedrt.retry]\n2:14: unexpected_eof\n");
  CAF_CHECK_EQUAL(outline("[embedrt.re"), "1:12: unexpected_eof\n");
  // A NUL byte stops CAF's parser like the end of the text.
  CAF_CHECK_EQUAL(outline(std::string{"seed = 1\n\0x = 2\n", 16}),
                  "1: [global]\n1: seed = 1\n2:2: unexpected_character\n");
}

CAF_TEST(nesting is bounded before the recursive parser of caf runs out of stack) {
  auto lists = [](int n) {
    return "x = " + std::string(static_cast<size_t>(n), '[')
           + std::string(static_cast<size_t>(n), ']') + "\n";
  };
  auto sections = [](int n) {
    std::string result = "[a";
    for (int i = 1; i < n; ++i)
      result += ".a";
    return result + "]\nx = 1\n";
  };
  caf_ini::document doc;
  caf_ini::syntax_error error;
  // The global block is one level, each list one more.
  CAF_CHECK(caf_ini::parse(lists(caf_ini::max_nesting - 1), doc, error));
  CAF_CHECK(caf_ini::parse(sections(caf_ini::max_nesting), doc, error));
  for (auto text : {lists(caf_ini::max_nesting), sections(caf_ini::max_nesting + 1),
                    lists(200000), sections(100000)}) {
    CAF_CHECK(!caf_ini::parse(text, doc, error));
    CAF_CHECK(error.too_deep);
    CAF_CHECK_EQUAL(caf_ini::syntax_rule(error),
                    "nested deeper than 64 section name parts, lists or maps");
  }
  CAF_CHECK(!caf_ini::parse("x = [1, [2, [3", doc, error));
  CAF_CHECK(!error.too_deep);
}

CAF_TEST(normalize drops a byte order mark and carriage returns) {
  CAF_CHECK_EQUAL(caf_ini::normalize("\xEF\xBB\xBFx = 1\r\ny = 2\r\n"),
                  "x = 1\ny = 2\n");
  CAF_CHECK_EQUAL(caf_ini::normalize("x = \"\xEF\xBB\xBF\""), "x = \"\xEF\xBB\xBF\"");
}

// -- CAF's own keys -----------------------------------------------------------------

namespace {

struct caf_options {
  caf::config_option_set set;
  size_t threads = 0;
  bool verbose = false;

  caf_options() {
    caf::config_option_adder{set, "scheduler"}.add(threads, "max-threads", "threads");
    caf::config_option_adder{set, "global"}.add(verbose, "verbose", "chatty");
  }
};

/// Stores every entry of `text`; returns the errors and "unknown: key" lines.
std::string store_all(const std::string& text, caf_options& opts,
                      caf::settings& content) {
  caf_ini::document doc;
  caf_ini::syntax_error error;
  CAF_REQUIRE(caf_ini::parse(text, doc, error));
  std::vector<config_error> errors;
  for (auto& x : doc.entries)
    if (!caf_ini::store(doc, x, opts.set, content, errors))
      errors.push_back({x.key, "unknown", ""});
  return join(errors);
}

} // namespace

CAF_TEST(caf keys are stored as caf stores them but a wrong type is reported) {
  caf_options opts;
  caf::settings content;
  CAF_CHECK_EQUAL(store_all("verbose = true\nmystery = 1\n[scheduler]\n"
                            "max-threads = 3\nmax-threads = 4\nother = 'x'\n",
                            opts, content),
                  "mystery: unknown");
  CAF_CHECK_EQUAL(opts.threads, 3u); // the first of a block wins, as in CAF
  CAF_CHECK_EQUAL(opts.verbose, true);
  CAF_CHECK_EQUAL(caf::get_or(content, "scheduler.max-threads", size_t{0}), 3u);
  CAF_CHECK_EQUAL(caf::get_or(content, "scheduler.other", caf::atom("")),
                  caf::atom("x"));
  CAF_CHECK_EQUAL(caf::get_or(content, "mystery", int64_t{0}), 1);
  caf_options bad;
  caf::settings bad_content;
  CAF_CHECK_EQUAL(store_all("verbose = 1\n[scheduler]\nmax-threads = \"two\"\n", bad,
                            bad_content),
                  "verbose: must be true or false, got 1\n"
                  "scheduler.max-threads: must be a non-negative integer, got \"two\"");
  CAF_CHECK_EQUAL(bad.threads, 0u);
  CAF_CHECK(caf::get_if(&bad_content, "scheduler.max-threads") == nullptr);
  // A section written as a map before any header.
  caf_options map;
  caf::settings map_content;
  CAF_CHECK_EQUAL(store_all("scheduler { max-threads = 5 }\n", map, map_content), "");
  CAF_CHECK_EQUAL(map.threads, 5u);
}

CAF_TEST(type rules name what caf expects) {
  CAF_CHECK_EQUAL(caf_ini::type_rule("uint32"), "must be a non-negative integer");
  CAF_CHECK_EQUAL(caf_ini::type_rule("int64"), "must be an integer");
  CAF_CHECK_EQUAL(caf_ini::type_rule("timespan"), "must be a duration such as 250ms");
  CAF_CHECK_EQUAL(caf_ini::type_rule("atom"),
                  "must be an atom in single quotes ('name')");
  CAF_CHECK_EQUAL(caf_ini::type_rule("uri"), "must be a uri");
}

// -- writing ------------------------------------------------------------------------

CAF_TEST(reals are written short and caf reads them back exactly) {
  CAF_CHECK_EQUAL(caf_ini::format_real(2.0), "2.0");
  CAF_CHECK_EQUAL(caf_ini::format_real(0.99), "0.99");
  CAF_CHECK_EQUAL(caf_ini::format_real(1e20), "1e+20");
  CAF_CHECK_EQUAL(caf_ini::format_real(-0.5), "-0.5");
  // CAF 0.17 reads "1.007" as 1.0070000000000001.
  for (double x : {1.007, 2.007, 0.1, 3.14159, 1e-5, 123456.789, 9.99, 100.0}) {
    auto text = caf_ini::format_real_for_caf(x);
    auto parsed = caf::config_value::parse(text);
    CAF_REQUIRE(parsed);
    auto d = caf::get_if<double>(&*parsed);
    CAF_REQUIRE(d != nullptr);
    CAF_CHECK_EQUAL(*d, x);
  }
}

CAF_TEST(strings are quoted as caf literals and read back) {
  CAF_CHECK_EQUAL(caf_ini::quote("a\"b\\c\nd\re\tf"), R"("a\"b\\c\nd\re\tf")");
  for (std::string x : {"", "plain", "quote \" back\\slash", "tab\tnewline\n;[x]"}) {
    auto parsed = caf::config_value::parse(caf_ini::quote(x));
    CAF_REQUIRE(parsed);
    CAF_CHECK_EQUAL(caf::get<std::string>(*parsed), x);
  }
  CAF_CHECK_EQUAL(caf_ini::written(caf::config_value{1.5}), "1.5");
  CAF_CHECK_EQUAL(caf_ini::written(caf::config_value{std::string{"x"}}), "\"x\"");
}
