// A host embedding through an installed embedrt, with only the public headers: the
// future API, per-text embed_many, and a CAF actor talking to `embedder()`.
// Usage: consumer MOCK_BINARY (starts the mock upstream on a free loopback port,
// embeds, checks, stops it).
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/scoped_actor.hpp>

#include <embedrt/embedder.hpp>
#include <embedrt/runtime.hpp>

namespace {

bool check(bool ok, const std::string& what) {
  std::cout << "consumer: " << (ok ? "ok: " : "FAILED: ") << what << "\n";
  return ok;
}

bool use(embedrt::runtime& rt) {
  bool ok = true;
  auto outcome = rt.embed({"what does a consumer see?"}).get();
  ok &= check(outcome && outcome.value().embeddings.at(0).size() == 8,
              outcome
                ? "embed: a vector of 8 values"
                : std::string{"embed: "} + embedrt::to_string(outcome.error().code)
                    + ": " + outcome.error().message);
  auto many = rt.embed_many({"one", " ", "three"}, {}, 2).get();
  ok &= check(many.texts.size() == 3 && many.failures == 1 && many.texts[0].ok()
                && !many.texts[1].ok()
                && many.texts[1].failure.code == embedrt::embed_errc::invalid_input
                && many.texts[2].embedding.size() == 8,
              "embed_many: texts 0 and 2 have vectors, text 1 is invalid_input");
  // A host that is a CAF actor: the typed public handle, host messages only.
  caf::scoped_actor self{rt.system()};
  embedrt::embedder_actor embedder = rt.embedder();
  bool got = false;
  self
    ->request(embedder, std::chrono::seconds{30},
              embedrt::embed_request{{"from an actor"}, {}})
    .receive([&](embedrt::embed_result& r) { got = r.embeddings.at(0).size() == 8; },
             [&](caf::error& e) { std::cout << caf::to_string(e) << "\n"; });
  ok &= check(got, "embedder_actor: embed_request answered with a vector");
  return ok;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer MOCK_BINARY\n";
    return 2;
  }
  int out[2];
  if (pipe(out) != 0)
    return 2;
  auto pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    execl(argv[1], argv[1], "--port", "0", "--dimension", "8", "--max-seconds", "30",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string line;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n')
    line += c;
  auto url = line.substr(line.rfind(' ') + 1);

  embedrt::runtime_config cfg;
  cfg.endpoint.base_url = url;
  std::vector<embedrt::config_error> errors;
  auto rt = embedrt::runtime::start(cfg, errors);
  int rc = 1;
  if (rt) {
    rc = use(*rt) ? 0 : 1;
    rt->stop();
  } else {
    for (auto& e : errors)
      std::cout << "consumer: " << e.to_string() << "\n";
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  return rc;
}
