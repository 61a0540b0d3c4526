#include "src/cli/cli.hpp"

#include <cstdlib>
#include <ostream>

#include "config/config_loader.hpp"
#include "src/cli/embed_job.hpp"
#include "src/cli/signal_watch.hpp"
#include "src/observability/metrics_endpoint.hpp"
#include <embedrt/runtime.hpp>

namespace embedrt::cli {

namespace {

constexpr const char* usage_text = R"(usage:
  embedrt embed --input FILE|- --output FILE|- [--output-format jsonl|jsonl-base64|npy]
                [--resume [--retry-failed]] [--quiet] [--no-progress]
                [--config FILE] [--base-url URL] [--model NAME]
                [--metrics-listen HOST:PORT] [--metrics-out FILE]
                [--embedrt.<section>.<key>=VALUE ...]
  embedrt config dump [--config FILE] [--embedrt.<section>.<key>=VALUE ...]
  embedrt config keys
  embedrt --help

embed   reads JSONL lines {"id": ..., "text": "..."} (a file, a pipe, or - for stdin;
        read once) and writes one record per input line, in order:
        {"id": ..., "embedding": [...]} or {"id": ..., "error": {"code", "message"}}
        (jsonl-base64: the embedding as base64 float32; npy: FILE is a float32 matrix,
        row i = line i, and FILE.jsonl has id and status per row). The id is echoed
        exactly as written. Output goes to FILE.partial, renamed to FILE at the end;
        an interrupted job (Ctrl-C, kill, crash, I/O error) keeps FILE.partial and
        --resume continues it (--retry-failed: failed lines are embedded again too).
        Exit 0: every line embedded; 1: some lines failed; 2: usage or config error,
        or the output is the input (nothing sent); 3: read/write error (file and OS
        error named); 130/143: interrupted by SIGINT/SIGTERM (partial output kept).
        --metrics-listen serves /metrics (Prometheus text) and /healthz (JSON; 200
        ready or degraded, 503 unavailable) while the job runs (HOST: an IP address
        or localhost); --metrics-out writes the final metrics (Prometheus text) to FILE.
config  dump: the effective configuration (no secrets); keys: every key as a table.

Every key of config/caf-application.conf is also an option, e.g.
  --embedrt.http_pool.max_connections=64 --embedrt.batching.enabled=false
The API key is read from the environment variable named by
embedrt.endpoint.api_key_env (default OPENAI_API_KEY); it is never printed.
)";

/// Takes `--name VALUE` or `--name=VALUE` at `args[i]`; advances `i` past the value.
bool take_value(const std::vector<std::string>& args, size_t& i,
                const std::string& name, std::string& value) {
  const auto& a = args[i];
  if (a == name && i + 1 < args.size()) {
    value = args[++i];
    return true;
  }
  if (a.size() > name.size() + 1 && a.compare(0, name.size(), name) == 0
      && a[name.size()] == '=') {
    value = a.substr(name.size() + 1);
    return true;
  }
  return false;
}

struct parsed_args {
  embed_job_options job;
  std::vector<std::string> forwarded; // for load_config (CAF-style options)
  std::vector<std::string> unknown;
  std::string format_name = "jsonl";
  std::string metrics_listen;
  std::string metrics_out;
  bool quiet = false;
};

parsed_args parse(const std::vector<std::string>& args, size_t first) {
  parsed_args p;
  for (size_t i = first; i < args.size(); ++i) {
    std::string v;
    const auto& a = args[i];
    if (take_value(args, i, "--input", v))
      p.job.input_path = v;
    else if (take_value(args, i, "--output", v))
      p.job.output_path = v;
    else if (take_value(args, i, "--config", v))
      p.forwarded.push_back("--config-file=" + v);
    else if (take_value(args, i, "--base-url", v))
      p.forwarded.push_back("--embedrt.endpoint.base_url=" + v);
    else if (take_value(args, i, "--model", v))
      p.forwarded.push_back("--embedrt.endpoint.model=" + v);
    else if (take_value(args, i, "--output-format", v))
      p.format_name = v;
    else if (take_value(args, i, "--metrics-listen", v))
      p.metrics_listen = v;
    else if (take_value(args, i, "--metrics-out", v))
      p.metrics_out = v;
    else if (a == "--resume")
      p.job.resume = true;
    else if (a == "--retry-failed")
      p.job.retry_failed = true;
    else if (a == "--no-progress")
      p.job.progress = false;
    else if (a == "--quiet" || a == "-q")
      p.quiet = true;
    else if (a.rfind("--", 0) == 0)
      p.forwarded.push_back(a); // --embedrt.*, --config-file=, CAF's own options
    else
      p.unknown.push_back(a);
  }
  return p;
}

bool load(embedrt_config& cfg, const std::vector<std::string>& forwarded,
          std::ostream& err) {
  std::vector<std::string> argv_store{"embedrt"};
  argv_store.insert(argv_store.end(), forwarded.begin(), forwarded.end());
  std::vector<char*> argv;
  for (auto& s : argv_store)
    argv.push_back(s.data());
  auto errors = load_config(cfg, static_cast<int>(argv.size()), argv.data());
  for (auto& e : errors)
    err << "embedrt: config error: " << e.to_string() << "\n";
  return errors.empty();
}

int embed_command(const std::vector<std::string>& args, std::ostream& err) {
  auto p = parse(args, 1);
  if (!p.unknown.empty()) {
    err << "embedrt: unexpected argument: " << p.unknown.front() << "\n" << usage_text;
    return exit_usage;
  }
  if (p.job.input_path.empty() || p.job.output_path.empty()) {
    err << "embedrt: embed needs --input FILE and --output FILE\n" << usage_text;
    return exit_usage;
  }
  auto format = parse_output_format(p.format_name);
  if (!format) {
    err << "embedrt: --output-format must be jsonl, jsonl-base64 or npy, got "
        << p.format_name << "\n";
    return exit_usage;
  }
  p.job.format = *format;
  if (p.quiet)
    p.job.progress = false;
  // Before anything is read or sent: the output must not be the input.
  if (auto rc = check_embed_job(p.job, err); rc != 0)
    return rc;
  embedrt_config cfg;
  if (!load(cfg, p.forwarded, err))
    return exit_usage;
  if (cfg.cli_helptext_printed)
    return 0;
  // Blocks SIGINT/SIGTERM before the runtime's threads exist, so they inherit it.
  signal_watch signals;
  std::vector<config_error> errors;
  runtime_options opts;
  opts.system_settings = cfg.content; // CAF's own keys, e.g. scheduler.max-threads
  auto rt = runtime::start(cfg.values, errors, std::move(opts));
  if (!rt) {
    for (auto& e : errors)
      err << "embedrt: config error: " << e.to_string() << "\n";
    return exit_usage;
  }
  std::unique_ptr<observability::metrics_endpoint> endpoint;
  if (!p.metrics_listen.empty()) {
    try {
      endpoint = std::make_unique<observability::metrics_endpoint>(*rt,
                                                                   p.metrics_listen);
    } catch (const std::exception& e) {
      err << "embedrt: --metrics-listen: " << e.what() << "\n";
      return exit_usage;
    }
    if (!p.quiet)
      err << "embedrt: metrics on port " << endpoint->port() << "\n";
  }
  embed_job_summary summary;
  auto rc = run_embed_job(*rt, p.job, summary, err, &signals);
  endpoint.reset();
  rt->stop();
  std::string metrics_error;
  if (!p.metrics_out.empty()
      && !observability::write_metrics_file(*rt, p.metrics_out, metrics_error)) {
    err << "embedrt: --metrics-out: " << metrics_error << "\n";
    rc = rc == 0 ? exit_io_error : rc;
  }
  if (!p.quiet)
    err << format_summary(summary);
  return rc;
}

int config_command(const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err) {
  if (args.size() >= 2 && args[1] == "keys") {
    out << describe_keys_markdown();
    return 0;
  }
  if (args.size() >= 2 && args[1] == "dump") {
    auto p = parse(args, 2);
    embedrt_config cfg;
    if (!load(cfg, p.forwarded, err))
      return 2;
    out << dump_config(cfg.values);
    return 0;
  }
  err << usage_text;
  return 2;
}

} // namespace

int main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << usage_text;
    return 2;
  }
  const auto& cmd = args[0];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    out << usage_text;
    return 0;
  }
  if (cmd == "embed")
    return embed_command(args, err);
  if (cmd == "config")
    return config_command(args, out, err);
  err << "embedrt: unknown command: " << cmd << "\n" << usage_text;
  return 2;
}

} // namespace embedrt::cli
