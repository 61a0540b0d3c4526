// Loading embedrt's configuration through CAF 0.17's config machinery.
//
//   embedrt::embedrt_config cfg;
//   auto errors = embedrt::load_config(cfg, argc, argv); // caf-application.conf + CLI
//   if (cfg.cli_helptext_printed)                         // --help, --long-help
//     return 0;
//   if (!errors.empty()) {
//     for (auto& e : errors)
//       std::cerr << e.to_string() << '\n';
//     return 1;                                           // fail fast, all messages
//   }
//   caf::actor_system sys{cfg};                           // cfg.values: the settings
//
// Why not just `cfg.parse(argc, argv, "caf-application.conf")`? CAF 0.17.6 does not
// bind options of nested sections: `[embedrt.retry]` in a file is stored in
// `cfg.content` but never reaches the bound option, is never type-checked, and typos
// are kept silently; a value of the wrong type for one of CAF's own options is dropped
// silently too. The loader therefore reads the text once with CAF's own parser into a
// document that keeps line numbers (config/caf_ini.hpp), applies the `embedrt.*`
// entries itself, checking each against the schema table (config/schema.hpp), stores
// CAF's own entries as CAF would (type-checked), lets CAF handle its own command-line
// options, applies `--embedrt.*` options, and finally runs `validate`.
//
// Call one load function once on a fresh embedrt_config.
#pragma once

#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>

#include <embedrt/runtime_config.hpp>

namespace embedrt {

/// The config file `load_config` reads when no `--config-file=PATH` is given (CAF 0.17
/// itself would read caf-application.ini).
inline constexpr const char* default_config_file = "caf-application.conf";

/// CAF's actor_system_config with every embedrt key declared as an option of category
/// `embedrt.<section>` (so `--long-help` lists them) and embedrt's message types
/// registered (no need to call `add_embedrt_types`).
class embedrt_config : public caf::actor_system_config {
public:
  embedrt_config();

  // CAF's options hold pointers into `values`: neither copyable nor movable.
  embedrt_config(const embedrt_config&) = delete;
  embedrt_config& operator=(const embedrt_config&) = delete;

  /// The effective settings after a load function; defaults before.
  runtime_config values;

  /// Every option CAF knows, embedrt's and CAF's own.
  const caf::config_option_set& declared_options() const noexcept {
    return custom_options_;
  }
};

/// Reads `default_file` (missing: fine) or the file of `--config-file=PATH` (missing:
/// an error), then the command line `argv[1..argc)`. Options
/// `--embedrt.section.field=value` override the file; bools also take `=true` /
/// `=false` (CAF 0.17 alone only knows the bare flag, which sets true). Arguments after
/// the first positional one end up in `cfg.remainder`, as with CAF. Returns every
/// broken rule; empty: `cfg.values` is valid.
std::vector<config_error>
load_config(embedrt_config& cfg, int argc, char** argv,
            const std::string& default_file = default_config_file);

/// Reads the config file `path` (missing: an error), for hosts that only have a path.
std::vector<config_error> load_config_file(embedrt_config& cfg,
                                           const std::string& path);

/// Reads settings from `ini` (CAF 0.17 INI text) and then command-line style `args`
/// (`--embedrt.retry.max_attempts=5`), for tests and hosts that build settings in code.
/// Errors name the source "config text".
std::vector<config_error> load_config_text(embedrt_config& cfg, const std::string& ini,
                                           const std::vector<std::string>& args = {});

/// `cfg` as CAF 0.17 INI text (one [embedrt.<section>] per section, a comment per key)
/// that loads back to the same values. Holds no secrets: the schema has none, and
/// credentials in a URL (user:password@) are replaced by ***.
std::string dump_config(const runtime_config& cfg);

/// One key of the configuration reference.
struct key_info {
  std::string key;           // embedrt.retry.max_attempts
  std::string type;          // integer, number, bool or string
  std::string default_value; // as written in the file: 3, 2.0, true, "base64"
  std::string range;         // [1, 100], true or false, "base64" or "float", ...
  std::string description;   // one line
};

/// Every key in schema order, for the README's configuration reference.
std::vector<key_info> describe_keys();

/// `describe_keys()` as a Markdown table.
std::string describe_keys_markdown();

} // namespace embedrt
