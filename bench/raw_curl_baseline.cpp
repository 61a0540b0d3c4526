// The baseline: a plain libcurl multi loop on one thread, `--inflight N` transfers
// always outstanding over keep-alive connections, the same request encoding
// (openai::encode_request) and the same response parsing (openai::decode_response)
// as embedrt, no actors. Prints one RESULT line (see bench_common.hpp).
//
//   embedrt-bench-raw --url http://127.0.0.1:PORT/v1/embeddings --body f1536
//     --inflight 64 --warmup 0.5 --seconds 2
//   embedrt-bench-raw --gen-body f1536 --out FILE   # writes the static body
#include <curl/curl.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_common.hpp"
#include "src/openai/embeddings_codec.hpp"
#include "tools/mock/mock_embeddings.hpp"

using namespace embedrt;
using namespace embedrt::bench;

namespace {

constexpr size_t padding = 64; // simdjson, as http::body_padding

struct transfer {
  CURL* easy = nullptr;
  std::string request;
  std::string body;
  clock_type::time_point started;
};

size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
  auto& t = *static_cast<transfer*>(user);
  auto n = size * nmemb;
  if (t.body.capacity() < t.body.size() + n + padding) {
    auto want = t.body.size() + n + padding;
    curl_off_t length = -1;
    if (t.body.empty()
        && curl_easy_getinfo(t.easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length)
             == CURLE_OK
        && length > 0)
      want = std::max(want, static_cast<size_t>(length) + padding);
    t.body.reserve(std::max(want, t.body.capacity() * 2));
  }
  t.body.append(data, n);
  return n;
}

int gen_body(const args& a) {
  auto& kind = find_body_kind(a.str("gen-body"));
  mock::embeddings_request req;
  req.model = "text-embedding-3-small";
  req.inputs = {input_text(0)};
  req.base64 = kind.encoding == encoding_format::base64;
  req.dimensions = kind.dimension;
  auto body = mock::embeddings_body(req, kind.dimension, req.model);
  auto path = a.str("out");
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << body;
  if (!out) {
    std::cerr << "cannot write " << path << "\n";
    return 1;
  }
  return 0;
}

int run(const args& a) {
  auto url = a.str("url");
  if (url.empty())
    throw std::invalid_argument("--url is required");
  auto& kind = find_body_kind(a.str("body", "f1536"));
  auto inflight = static_cast<size_t>(a.num("inflight", 16));
  auto w = make_window(clock_type::now(), a.num("warmup", 0.5), a.num("seconds", 2));
  if (inflight == 0)
    throw std::invalid_argument("--inflight must be > 0");

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* multi = curl_multi_init();
  auto cap = static_cast<long>(inflight);
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, cap);
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, cap);
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, cap);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "Expect:");

  latency_histogram hist;
  uint64_t next_text = 1;
  uint64_t completed = 0;
  uint64_t errors = 0;
  uint64_t connections = 0;
  uint64_t vectors_checked = 0;
  std::string first_error;

  std::vector<std::unique_ptr<transfer>> xfers;
  auto start = [&](transfer& t) {
    std::string text = input_text(next_text++);
    std::vector<const std::string*> inputs{&text};
    t.request = openai::encode_request("text-embedding-3-small", inputs, 0,
                                       kind.encoding);
    t.body.clear();
    curl_easy_setopt(t.easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(t.request.size()));
    curl_easy_setopt(t.easy, CURLOPT_POSTFIELDS, t.request.data());
    t.started = clock_type::now();
    curl_multi_add_handle(multi, t.easy);
  };
  for (size_t i = 0; i < inflight; ++i) {
    auto t = std::make_unique<transfer>();
    auto e = t->easy = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    xfers.push_back(std::move(t));
  }
  auto cpu0 = cpu_seconds();
  uint64_t answered = 0;
  for (auto& t : xfers)
    start(*t);

  size_t running_handles = inflight;
  bool stopping = false;
  while (running_handles > 0) {
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (auto msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      auto rc = msg->data.result;
      char* ptr = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &ptr);
      auto& t = *reinterpret_cast<transfer*>(ptr);
      long code = 0;
      curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &code);
      long connects = 0;
      if (curl_easy_getinfo(t.easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
        connections += static_cast<uint64_t>(connects);
      curl_multi_remove_handle(multi, t.easy);
      ++answered;
      bool ok = rc == CURLE_OK && code == 200;
      if (ok) {
        if (t.body.capacity() < t.body.size() + padding)
          t.body.reserve(t.body.size() + padding);
        openai::decoded_response decoded;
        auto st = openai::decode_response(t.body, 1, 0, kind.encoding, decoded);
        ok = st.ok() && decoded.embeddings.size() == 1
             && decoded.embeddings[0].size() == kind.dimension;
        if (!st.ok() && first_error.empty())
          first_error = st.reason;
        vectors_checked += ok ? 1 : 0;
      } else if (first_error.empty()) {
        first_error = rc != CURLE_OK ? curl_easy_strerror(rc)
                                     : "HTTP " + std::to_string(code);
      }
      auto now = clock_type::now();
      if (w.contains(now)) {
        if (ok) {
          ++completed;
          hist.record(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(now - t.started)
              .count()));
        } else {
          ++errors;
        }
      }
      if (now >= w.end)
        stopping = true;
      if (stopping)
        --running_handles;
      else
        start(t);
    }
    if (running_handles > 0)
      curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  auto cpu1 = cpu_seconds();
  for (auto& t : xfers)
    curl_easy_cleanup(t->easy);
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);

  result_line r;
  r.add("mode", "raw")
    .add("body", kind.name)
    .add("inflight", inflight)
    .add("completed", completed)
    .add("errors", errors)
    .add("rps", static_cast<uint64_t>(static_cast<double>(completed) / w.seconds()))
    .add("p50_us", hist.quantile(0.5))
    .add("p99_us", hist.quantile(0.99))
    .add("rss_kb", peak_rss_kb())
    .add("conns", connections)
    .add("checked", vectors_checked)
    .add("answered", answered)
    .add("cpu_us", cpu_us_per(cpu0, cpu1, answered));
  r.print();
  if (!first_error.empty())
    std::cerr << "raw: first error: " << first_error << "\n";
  return completed > 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  try {
    args a{argc, argv};
    if (a.has("gen-body"))
      return gen_body(a);
    return run(a);
  } catch (const std::exception& e) {
    std::cerr << "embedrt-bench-raw: " << e.what() << "\n";
    return 2;
  }
}
