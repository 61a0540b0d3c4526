// Fuzz target: loading configuration text (load_config_text: CAF 0.17's INI parser,
// then embedrt's schema checks, then `--embedrt.*` arguments, then validate).
//
// Input: the INI text up to the first NUL byte; after it, up to four arguments
// separated by NUL bytes, each given as `--embedrt.<argument>` (other arguments go to
// CAF's own command-line handling, which may print help or read files: not what this
// target is about). Properties:
// - no exception escapes, and every error names a key or the source and a rule;
// - a configuration that loads without errors round-trips: its dump loads without
//   errors and dumps to the same text.
#include <string>
#include <vector>

#include "config/config_loader.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace embedrt;

namespace {

std::string join(const std::vector<config_error>& xs) {
  std::string result;
  for (auto& x : xs) {
    result += x.to_string();
    result += '\n';
  }
  return result;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  embedrt::fuzz::input_reader in{data, size};
  std::string ini{in.until('\0')};
  std::vector<std::string> args;
  for (int i = 0; i < 4; ++i) {
    auto arg = in.until('\0');
    if (arg.empty())
      break;
    args.push_back("--embedrt." + std::string{arg});
  }

  embedrt_config cfg;
  auto errors = load_config_text(cfg, ini, args);
  for (auto& e : errors) {
    EMBEDRT_FUZZ_CHECK(!e.key.empty());
    EMBEDRT_FUZZ_CHECK(!e.rule.empty());
  }
  if (!errors.empty())
    return 0;

  auto dump = dump_config(cfg.values);
  embedrt_config again;
  auto reload_errors = load_config_text(again, dump);
  if (!reload_errors.empty()) {
    std::fprintf(stderr, "dump:\n%s\nerrors:\n%s", dump.c_str(),
                 join(reload_errors).c_str());
    EMBEDRT_FUZZ_CHECK(reload_errors.empty());
  }
  EMBEDRT_FUZZ_CHECK(dump_config(again.values) == dump);
  return 0;
}
