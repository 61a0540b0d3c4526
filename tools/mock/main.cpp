// embedrt-mock: the bundled OpenAI-compatible upstream. Prints one line
// "embedrt-mock listening on http://127.0.0.1:PORT/v1" (scripts parse it), serves until
// SIGINT/SIGTERM or --max-seconds, then writes the JSON report.
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#include <pthread.h>

#include "tools/mock/mock_server.hpp"

namespace {

constexpr const char* usage_text = R"(usage: embedrt-mock [options]

An OpenAI-compatible /v1/embeddings upstream with deterministic vectors and
scripted faults (format: tools/mock/mock_script.hpp).

options:
  --port N            port on 127.0.0.1 (default 0: a free port)
  --host ADDR         IPv4 address to bind (default 127.0.0.1)
  --dimension D       vector length when a request has no "dimensions" (default 1536)
  --model NAME        only accept this model (default: any, echoed back)
  --api-key-env VAR   require "Authorization: Bearer $VAR"
  --script FILE.json  misbehave according to this script
  --report FILE.json  write the final report here (default: stdout)
  --max-seconds S     stop after S seconds (default: run until SIGINT/SIGTERM)
  --threads N         event-loop threads (default: min(cores, 4))
  --seed N            seed for random-mode faults, jitter and shuffles
  --help              this text

Prints "embedrt-mock listening on <base url>" once ready.
)";

int usage_error(const std::string& what) {
  std::cerr << "embedrt-mock: " << what << "\n(see embedrt-mock --help)\n";
  return 2;
}

template<class T>
bool parse_number(std::string_view text, T& out) {
  auto res = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && res.ec == std::errc{} && res.ptr == text.data() + text.size();
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return false;
  std::ostringstream buf;
  buf << in.rdbuf();
  out = buf.str();
  return true;
}

} // namespace

int main(int argc, char** argv) {
  embedrt::mock::mock_options options;
  std::string script_path;
  std::string report_path;
  double max_seconds = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage_text;
      return 0;
    }
    // Accept both "--key value" and "--key=value".
    std::string_view key = arg;
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('=');
        arg.substr(0, 2) == "--" && eq != std::string_view::npos) {
      key = arg.substr(0, eq);
      value = std::string{arg.substr(eq + 1)};
      has_value = true;
    }
    auto next = [&]() -> bool {
      if (has_value)
        return true;
      if (i + 1 >= argc)
        return false;
      value = argv[++i];
      return true;
    };
    if (key == "--port") {
      if (!next() || !parse_number(value, options.port))
        return usage_error("--port needs a number in [0, 65535]");
    } else if (key == "--host") {
      if (!next() || value.empty())
        return usage_error("--host needs an IPv4 address");
      options.host = value;
    } else if (key == "--dimension") {
      if (!next() || !parse_number(value, options.dimension) || options.dimension == 0
          || options.dimension > embedrt::mock::max_dimension)
        return usage_error("--dimension needs a number in [1, 65536]");
    } else if (key == "--model") {
      if (!next() || value.empty())
        return usage_error("--model needs a name");
      options.model = value;
    } else if (key == "--api-key-env") {
      if (!next() || value.empty())
        return usage_error("--api-key-env needs a variable name");
      auto key_value = std::getenv(value.c_str());
      if (key_value == nullptr || *key_value == '\0')
        return usage_error("environment variable " + value + " is not set");
      options.api_key = key_value;
    } else if (key == "--script") {
      if (!next() || value.empty())
        return usage_error("--script needs a file");
      script_path = value;
    } else if (key == "--report") {
      if (!next() || value.empty())
        return usage_error("--report needs a file");
      report_path = value;
    } else if (key == "--max-seconds") {
      if (!next() || !parse_number(value, max_seconds) || max_seconds < 0)
        return usage_error("--max-seconds needs a non-negative number");
    } else if (key == "--threads") {
      if (!next() || !parse_number(value, options.threads) || options.threads == 0
          || options.threads > 256)
        return usage_error("--threads needs a number in [1, 256]");
    } else if (key == "--seed") {
      if (!next() || !parse_number(value, options.seed))
        return usage_error("--seed needs a non-negative integer");
    } else {
      return usage_error("unknown argument " + std::string{arg});
    }
  }
  embedrt::mock::mock_server server{options};
  if (!script_path.empty()) {
    std::string text;
    std::string error;
    if (!read_file(script_path, text))
      return usage_error("cannot read " + script_path);
    if (!server.load_script_json(text, error))
      return usage_error(script_path + ": " + error);
  }
  // Block the signals before any thread starts so that every thread inherits the mask
  // and only sigtimedwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    server.start();
  } catch (const std::exception& e) {
    std::cerr << "embedrt-mock: " << e.what() << "\n";
    return 1;
  }
  std::cout << "embedrt-mock listening on " << server.base_url() << std::endl;
  auto deadline_us = max_seconds > 0 ? static_cast<int64_t>(max_seconds * 1e6) : -1;
  for (;;) {
    timespec wait{0, 200'000'000};
    if (deadline_us >= 0) {
      auto left = deadline_us - server.now_us();
      if (left <= 0)
        break;
      if (left < 200'000)
        wait.tv_nsec = static_cast<long>(left) * 1000;
    }
    int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGINT || sig == SIGTERM)
      break;
  }
  server.stop();
  auto report = server.report_json();
  if (report_path.empty()) {
    std::cout << report << std::endl;
  } else {
    std::ofstream out{report_path, std::ios::binary | std::ios::trunc};
    out << report << '\n';
    if (!out) {
      std::cerr << "embedrt-mock: cannot write " << report_path << "\n";
      return 1;
    }
  }
  return 0;
}
