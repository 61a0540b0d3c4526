#include "tests/support/redis_server.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <hiredis/hiredis.h>

extern char** environ;

namespace embedrt::test {

namespace {

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0
      && ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

bool ping(uint16_t port) {
  timeval tv{0, 200000};
  auto* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c == nullptr)
    return false;
  bool ok = false;
  if (c->err == 0) {
    redisSetTimeout(c, tv);
    if (auto* r = static_cast<redisReply*>(redisCommand(c, "PING"))) {
      ok = r->type == REDIS_REPLY_STATUS;
      freeReplyObject(r);
    }
  }
  redisFree(c);
  return ok;
}

} // namespace

bool redis_server::installed() {
  return std::system("command -v redis-server >/dev/null 2>&1") == 0;
}

redis_server::~redis_server() {
  kill();
}

bool redis_server::start() {
  kill();
  if (port_ == 0)
    port_ = free_port();
  pid_ = spawn_process({"redis-server", "--port", std::to_string(port_), "--bind",
                        "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--protected-mode", "no"});
  if (pid_ < 0)
    return false;
  for (int i = 0; i < 100; ++i) {
    if (ping(port_))
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  return false;
}

void redis_server::kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGCONT);
    stop_process(pid_, SIGKILL, std::chrono::milliseconds{2000});
  }
  pid_ = -1;
}

void redis_server::freeze() {
  if (pid_ > 0)
    ::kill(pid_, SIGSTOP);
}

void redis_server::thaw() {
  if (pid_ > 0)
    ::kill(pid_, SIGCONT);
}

int redis_server::clients() const {
  timeval tv{0, 500000};
  auto* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (c == nullptr)
    return -1;
  int result = -1;
  if (c->err == 0) {
    redisSetTimeout(c, tv);
    if (auto* r = static_cast<redisReply*>(redisCommand(c, "CLIENT LIST"))) {
      if (r->type == REDIS_REPLY_STRING) {
        result = 0;
        for (size_t i = 0; i < r->len; ++i)
          result += r->str[i] == '\n' ? 1 : 0;
      }
      freeReplyObject(r);
    }
  }
  redisFree(c);
  return result;
}

pid_t spawn_process(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  auto target = log.empty() ? std::string{"/dev/null"} : log;
  posix_spawn_file_actions_addopen(&actions, 1, target.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  auto rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

int wait_process(pid_t pid, std::chrono::milliseconds wait) {
  auto until = std::chrono::steady_clock::now() + wait;
  int status = 0;
  while (true) {
    auto rc = ::waitpid(pid, &status, WNOHANG);
    if (rc == pid)
      return status;
    if (rc < 0 || std::chrono::steady_clock::now() >= until)
      return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

int stop_process(pid_t pid, int sig, std::chrono::milliseconds wait) {
  ::kill(pid, sig);
  auto status = wait_process(pid, wait);
  if (status == -1) {
    ::kill(pid, SIGKILL);
    status = wait_process(pid, std::chrono::milliseconds{5000});
  }
  return status;
}

} // namespace embedrt::test
