#define CAF_SUITE cli.embed_process
#include <caf/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tools/mock/mock_server.hpp"

// The main job as a user runs it: build/embedrt as a child process against the mock
// on 127.0.0.1 (in this process). Pipes, stdin, the same file, a full disk, kill -9
// and Ctrl-C followed by --resume, one hanging line. Each case is bounded (seconds).

using namespace embedrt;
using namespace std::chrono_literals;

namespace {

const std::string binary = EMBEDRT_BINARY_DIR "/embedrt";

struct child_result {
  int exit_code = -1; // when it exited
  int signal = 0;     // when a signal ended it
  long max_rss_kib = 0;
  std::string err;
};

std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

struct process_fixture {
  mock::mock_server server{options()};
  std::string dir;

  static mock::mock_options options() {
    mock::mock_options opts;
    opts.dimension = 256;
    return opts;
  }

  process_fixture() {
    server.start();
    char tmpl[] = "/tmp/embedrt-cli-proc-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }

  ~process_fixture() { std::system(("rm -rf " + dir).c_str()); }

  std::string path(const std::string& name) const { return dir + "/" + name; }

  std::string write_lines(const std::string& name, int n, int hang_at = -1) {
    std::string text;
    for (int i = 0; i < n; ++i)
      text += R"({"id":)" + std::to_string(i) + R"(,"text":")"
              + (i == hang_at ? "HANG-ME " : "text ") + std::to_string(i) + "\"}\n";
    std::ofstream{path(name), std::ios::binary} << text;
    return path(name);
  }

  std::vector<std::string> args(const std::string& in, const std::string& out,
                                std::vector<std::string> extra = {}) {
    std::vector<std::string> a{binary,
                               "embed",
                               "--input",
                               in,
                               "--output",
                               out,
                               "--base-url",
                               server.base_url(),
                               "--embedrt.endpoint.api_key_env=EMBEDRT_NO_KEY",
                               "--no-progress"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  /// Starts the CLI; `stdin_fd` becomes its stdin (or /dev/null).
  pid_t spawn(const std::vector<std::string>& a, int stdin_fd = -1) {
    // Everything the child needs is prepared before fork: this process has threads
    // (the mock), so the child calls only async-signal-safe functions.
    auto out_path = path("stdout.txt");
    auto err_path = path("stderr.txt");
    std::vector<char*> argv;
    for (auto& s : a)
      argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    auto pid = ::fork();
    if (pid == 0) {
      int in = stdin_fd >= 0 ? stdin_fd : ::open("/dev/null", O_RDONLY);
      ::dup2(in, STDIN_FILENO);
      int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    return pid;
  }

  child_result wait(pid_t pid) {
    child_result r;
    int status = 0;
    rusage usage{};
    ::wait4(pid, &status, 0, &usage);
    if (WIFEXITED(status))
      r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status))
      r.signal = WTERMSIG(status);
    r.max_rss_kib = usage.ru_maxrss;
    r.err = slurp(path("stderr.txt"));
    return r;
  }

  child_result run(const std::vector<std::string>& a, int stdin_fd = -1) {
    return wait(spawn(a, stdin_fd));
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(embed_process_tests, process_fixture)

CAF_TEST(a pipe and stdin are read once and give the same output as a file) {
  auto in = write_lines("in.jsonl", 500);
  auto clean = run(args(in, path("clean.jsonl")));
  CAF_REQUIRE_EQUAL(clean.exit_code, 0);
  auto expected = slurp(path("clean.jsonl"));
  CAF_REQUIRE_EQUAL(std::count(expected.begin(), expected.end(), '\n'), 500);
  // A named pipe (what `--input <(zcat ...)` passes): nothing may read it twice.
  auto fifo = path("fifo");
  CAF_REQUIRE_EQUAL(::mkfifo(fifo.c_str(), 0600), 0);
  auto pid = spawn(args(fifo, path("from_fifo.jsonl")));
  {
    std::ofstream feed{fifo, std::ios::binary};
    feed << slurp(in);
  }
  auto r = wait(pid);
  CAF_CHECK_EQUAL(r.exit_code, 0);
  CAF_CHECK(slurp(path("from_fifo.jsonl")) == expected);
  // stdin as an anonymous pipe, written while the job runs.
  int fds[2];
  CAF_REQUIRE_EQUAL(::pipe2(fds, O_CLOEXEC), 0);
  pid = spawn(args("-", path("from_pipe.jsonl")), fds[0]);
  ::close(fds[0]);
  auto data = slurp(in);
  for (size_t off = 0; off < data.size();) {
    auto n = ::write(fds[1], data.data() + off,
                     std::min<size_t>(4096, data.size() - off));
    CAF_REQUIRE(n > 0);
    off += static_cast<size_t>(n);
  }
  ::close(fds[1]);
  r = wait(pid);
  CAF_CHECK_EQUAL(r.exit_code, 0);
  CAF_CHECK(slurp(path("from_pipe.jsonl")) == expected);
  // stdin redirected from the file, and the output to stdout.
  int file_fd = ::open(in.c_str(), O_RDONLY);
  r = run(args("-", "-"), file_fd);
  ::close(file_fd);
  CAF_CHECK_EQUAL(r.exit_code, 0);
  CAF_CHECK(slurp(path("stdout.txt")) == expected);
}

CAF_TEST(an output that is the input is refused before anything is read) {
  auto in = write_lines("in.jsonl", 50);
  auto before = slurp(in);
  CAF_REQUIRE_EQUAL(::symlink(in.c_str(), path("link.jsonl").c_str()), 0);
  CAF_REQUIRE_EQUAL(::link(in.c_str(), path("hard.jsonl").c_str()), 0);
  for (auto out : {in, path("link.jsonl"), path("hard.jsonl"), dir + "/./in.jsonl"}) {
    auto r = run(args(in, out));
    CAF_CHECK_EQUAL(r.exit_code, 2);
    CAF_CHECK(r.err.find("is the input") != std::string::npos);
    CAF_CHECK(slurp(in) == before);
  }
  // stdin that is the output file.
  int fd = ::open(in.c_str(), O_RDONLY);
  auto r = run(args("-", in), fd);
  ::close(fd);
  CAF_CHECK_EQUAL(r.exit_code, 2);
  CAF_CHECK(slurp(in) == before);
  CAF_CHECK_EQUAL(server.stats(false).total.requests, 0u);
}

CAF_TEST(a full disk and an unreadable input end with exit 3 naming the file) {
  auto in = write_lines("in.jsonl", 200);
  auto r = run(args(in, "/dev/full"));
  CAF_CHECK_EQUAL(r.exit_code, 3);
  CAF_CHECK(r.err.find("writing /dev/full: No space left on device")
            != std::string::npos);
  // A directory opens but cannot be read: a read error, not an empty input.
  ::mkdir(path("adir").c_str(), 0755);
  r = run(args(path("adir"), path("out.jsonl")));
  CAF_CHECK_EQUAL(r.exit_code, 3);
  CAF_CHECK(r.err.find("reading " + path("adir") + ": Is a directory")
            != std::string::npos);
  CAF_CHECK(!exists(path("out.jsonl")));
}

CAF_TEST(kill - 9 at a random point then resume equals a clean run) {
  auto in = write_lines("in.jsonl", 12000);
  for (auto format : {"jsonl", "npy"}) {
    std::string ext = format == std::string{"npy"} ? ".npy" : ".jsonl";
    auto clean_path = path(std::string{"clean"} + ext);
    // How long a clean run takes to write its output (the process lives a little
    // longer: shutdown and summary).
    auto t0 = std::chrono::steady_clock::now();
    auto clean_pid = spawn(args(in, clean_path, {"--output-format", format}));
    while (!exists(clean_path) && std::chrono::steady_clock::now() - t0 < 60s)
      std::this_thread::sleep_for(2ms);
    auto clean_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
    auto r = wait(clean_pid);
    CAF_REQUIRE_EQUAL(r.exit_code, 0);
    std::random_device entropy;
    auto seed = entropy();
    std::mt19937 rng{seed};
    int killed_rounds = 0;
    for (int attempt = 0; attempt < 8 && killed_rounds < 2; ++attempt) {
      auto out = path(std::string{"killed"} + std::to_string(attempt) + ext);
      // A random point within what a clean run takes (startup included).
      auto delay = std::chrono::milliseconds{
        10
        + static_cast<int64_t>(rng() % static_cast<uint64_t>(clean_ms * 9 / 10 + 1))};
      CAF_MESSAGE(format << ": seed " << seed << ", clean run " << clean_ms
                         << " ms, kill -9 after " << delay.count() << " ms");
      auto pid = spawn(args(in, out, {"--output-format", format}));
      std::this_thread::sleep_for(delay); // a random point in a real process's run
      ::kill(pid, SIGKILL);
      r = wait(pid);
      if (r.signal != SIGKILL || exists(out)) {
        CAF_MESSAGE("the job had completed first");
        continue;
      }
      ++killed_rounds;
      r = run(args(in, out, {"--output-format", format, "--resume"}));
      CAF_CHECK_EQUAL(r.exit_code, 0);
      CAF_CHECK(slurp(out) == slurp(clean_path));
      if (ext == ".npy")
        CAF_CHECK(slurp(out + ".jsonl") == slurp(clean_path + ".jsonl"));
      CAF_CHECK(!exists(out + ".partial"));
      CAF_CHECK(!exists(out + ".resume.1"));
    }
    CAF_CHECK_EQUAL(killed_rounds, 2);
  }
}

CAF_TEST(sigint and sigterm keep a partial file that resume completes) {
  // Line 6000 hangs, so the job is surely still running when the signal comes,
  // however fast the machine; its request is cut at the end of the grace period.
  auto in = write_lines("in.jsonl", 12000, 6000);
  auto r = run(args(in, path("clean.jsonl")));
  CAF_REQUIRE_EQUAL(r.exit_code, 0);
  std::string error;
  for (auto [sig, code] : {std::pair<int, int>{SIGINT, 130}, {SIGTERM, 143}}) {
    CAF_REQUIRE(server.load_script_json(
      R"([{"faults":[{"kind":"hang","match":"HANG-ME"}]}])", error));
    auto out = path("sig" + std::to_string(sig) + ".jsonl");
    auto pid = spawn(args(in, out, {"--embedrt.shutdown.grace_ms=300"}));
    std::this_thread::sleep_for(std::chrono::milliseconds{300});
    ::kill(pid, sig);
    r = wait(pid);
    CAF_CHECK_EQUAL(r.exit_code, code);
    CAF_CHECK(r.err.find("partial output kept for --resume") != std::string::npos);
    CAF_CHECK(!exists(out));
    auto partial = slurp(out + ".partial");
    CAF_CHECK(!partial.empty() && partial.back() == '\n');
    // The upstream recovers; --resume redoes the lines cut by the signal.
    CAF_REQUIRE(server.load_script_json("[{}]", error));
    r = run(args(in, out, {"--resume"}));
    CAF_CHECK_EQUAL(r.exit_code, 0);
    CAF_CHECK(slurp(out) == slurp(path("clean.jsonl")));
  }
}

CAF_TEST(a second signal exits at once and leaves whole lines) {
  // Line 50 hangs, so the first SIGINT waits out shutdown.grace_ms (10 s here); the
  // second one must not.
  std::string error;
  CAF_REQUIRE(server.load_script_json(
    R"([{"faults":[{"kind":"hang","match":"HANG-ME"}]}])", error));
  auto in = write_lines("in.jsonl", 3000, 50);
  auto out = path("out.jsonl");
  auto pid = spawn(args(in, out, {"--embedrt.shutdown.grace_ms=10000"}));
  std::this_thread::sleep_for(std::chrono::milliseconds{400});
  ::kill(pid, SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  auto second = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  auto r = wait(pid);
  auto took = std::chrono::steady_clock::now() - second;
  CAF_CHECK_EQUAL(r.exit_code, 130);
  CAF_CHECK_LESS(took, std::chrono::seconds{3});
  auto partial = slurp(out + ".partial");
  CAF_CHECK(partial.empty() || partial.back() == '\n');
  // Without the hang, --resume completes it to what a clean run writes.
  CAF_REQUIRE(server.load_script_json("[{}]", error));
  r = run(args(in, out, {"--resume"}));
  CAF_CHECK_EQUAL(r.exit_code, 0);
  r = run(args(in, path("clean.jsonl")));
  CAF_REQUIRE_EQUAL(r.exit_code, 0);
  CAF_CHECK(slurp(out) == slurp(path("clean.jsonl")));
}

CAF_TEST(one hanging line keeps peak memory within the reorder window) {
  // 1536-d vectors; line 100 hangs until its 2 s attempt timeout. Unbounded, every
  // answer behind it waits in memory (measured with reorder_max_mib=4096: 30,000
  // lines -> 1.3 GB peak RSS, 20,000 -> ~900 MB); with the window, reading pauses.
  std::string error;
  CAF_REQUIRE(server.load_script_json(
    R"([{"faults":[{"kind":"hang","match":"HANG-ME"}]}])", error));
  auto in = write_lines("in.jsonl", 20000, 100);
  std::vector<std::string> extra{"--embedrt.endpoint.dimensions=1536",
                                 "--embedrt.endpoint.attempt_timeout_ms=2000",
                                 "--embedrt.retry.max_attempts=1",
                                 "--embedrt.job.reorder_max_mib=8"};
  auto r = run(args(in, path("out.jsonl"), extra));
  CAF_CHECK_EQUAL(r.exit_code, 1); // the hanging line (and its batch) failed
  auto out = slurp(path("out.jsonl"));
  CAF_CHECK_EQUAL(std::count(out.begin(), out.end(), '\n'), 20000);
  CAF_CHECK(out.find(R"({"id":100,"error":{"code":"upstream_unavailable")")
            != std::string::npos);
  CAF_MESSAGE("peak RSS " << r.max_rss_kib / 1024 << " MiB");
#ifdef __SANITIZE_ADDRESS__
  // ASan's shadow memory and quarantine make RSS meaningless; the release build
  // checks the bound.
  CAF_MESSAGE("RSS bound not checked under AddressSanitizer");
#else
  CAF_CHECK_LESS(r.max_rss_kib, 400 * 1024);
#endif
}

CAF_TEST_FIXTURE_SCOPE_END()
