#define CAF_SUITE config.endpoint
#include <caf/test/unit_test.hpp>

#include <optional>
#include <string>
#include <vector>

#include "config/endpoint.hpp"
#include "tests/support/config_errors.hpp"
#include "tests/support/scoped_env.hpp"

using namespace embedrt;
using namespace embedrt::test;

namespace {

using embedrt::test::scoped_env;

} // namespace

// -- resolve_endpoint ---------------------------------------------------------------

namespace {

constexpr const char* fake_key = "sk-test-3f9a0c5e7b1d2468ace0";

struct resolved {
  std::string url;
  std::string key;
  std::string errors;
};

resolved resolve(const endpoint_config& cfg) {
  resolved_endpoint out;
  auto errors = resolve_endpoint(cfg, out);
  return {out.embeddings_url, out.api_key, join(errors)};
}

} // namespace

CAF_TEST(the base url falls back to the environment and then to openai) {
  scoped_env key{"EMBEDRT_TEST_KEY", std::nullopt};
  endpoint_config cfg;
  cfg.api_key_env = "EMBEDRT_TEST_KEY";
  {
    scoped_env base{"OPENAI_BASE_URL", std::nullopt};
    CAF_CHECK_EQUAL(resolve(cfg).url, "https://api.openai.com/v1/embeddings");
  }
  {
    scoped_env base{"OPENAI_BASE_URL", ""};
    CAF_CHECK_EQUAL(resolve(cfg).url, "https://api.openai.com/v1/embeddings");
  }
  {
    scoped_env base{"OPENAI_BASE_URL", "https://proxy.example.com/openai/v1/"};
    CAF_CHECK_EQUAL(resolve(cfg).url, "https://proxy.example.com/openai/v1/embeddings");
    cfg.base_url = "https://config.example.com/v1";
    CAF_CHECK_EQUAL(resolve(cfg).url, "https://config.example.com/v1/embeddings");
  }
  {
    scoped_env base{"OPENAI_BASE_URL", "api.example.com/v1"};
    cfg.base_url = "";
    CAF_CHECK_EQUAL(resolve(cfg).errors,
                    "embedrt.endpoint.base_url: is empty, so $OPENAI_BASE_URL is used, "
                    "which must be an http:// or https:// URL with a host, got "
                    "\"api.example.com/v1\"");
  }
}

CAF_TEST(trailing slashes are stripped before embeddings is appended) {
  endpoint_config cfg;
  cfg.base_url = "http://127.0.0.1:8080/v1//";
  CAF_CHECK_EQUAL(resolve(cfg).url, "http://127.0.0.1:8080/v1/embeddings");
  cfg.base_url = "https://host.example";
  CAF_CHECK_EQUAL(resolve(cfg).url, "https://host.example/embeddings");
}

CAF_TEST(the key comes from the variable named by api_key_env) {
  endpoint_config cfg;
  cfg.api_key_env = "EMBEDRT_TEST_KEY";
  {
    scoped_env key{"EMBEDRT_TEST_KEY", std::string{fake_key}};
    CAF_CHECK_EQUAL(resolve(cfg).key, fake_key);
  }
  {
    scoped_env key{"EMBEDRT_TEST_KEY", std::nullopt};
    auto r = resolve(cfg);
    CAF_CHECK_EQUAL(r.key, "");
    CAF_CHECK_EQUAL(r.errors, "");
  }
}

CAF_TEST(the key is never sent over plain http to a host that is not loopback) {
  scoped_env key{"EMBEDRT_TEST_KEY", std::string{fake_key}};
  // The message names a proxy from the environment when there is one; none here.
  scoped_env http_proxy{"http_proxy", std::nullopt};
  scoped_env all_proxy{"all_proxy", std::nullopt};
  scoped_env all_proxy_upper{"ALL_PROXY", std::nullopt};
  endpoint_config cfg;
  cfg.api_key_env = "EMBEDRT_TEST_KEY";
  cfg.base_url = "http://embeddings.example.com/v1";
  auto refused = resolve(cfg);
  CAF_CHECK_EQUAL(
    refused.errors,
    "embedrt.endpoint.base_url: must be https:// to send the API key (from "
    "$EMBEDRT_TEST_KEY) to a host that is not loopback; set "
    "embedrt.endpoint.allow_insecure_http = true to allow it, got "
    "\"http://embeddings.example.com/v1\"");
  CAF_CHECK_EQUAL(refused.key, "");
  CAF_CHECK_EQUAL(refused.errors.find(fake_key), std::string::npos);
  for (auto url :
       {"http://localhost:8080/v1", "http://127.0.0.1/v1", "http://127.8.9.10:1/v1",
        "http://[::1]:8080/v1", "HTTP://LOCALHOST/v1"}) {
    cfg.base_url = url;
    auto r = resolve(cfg);
    CAF_CHECK_EQUAL(r.errors, "");
    CAF_CHECK_EQUAL(r.key, fake_key);
  }
  {
    // A proxy would see the key in clear text too: the message names its variable.
    scoped_env proxy{"http_proxy", std::string{"http://proxy.example.com:3128"}};
    cfg.base_url = "http://embeddings.example.com/v1";
    CAF_CHECK_EQUAL(resolve(cfg).errors,
                    "embedrt.endpoint.base_url: must be https:// to send the API key "
                    "(from $EMBEDRT_TEST_KEY) to a host that is not loopback (and "
                    "through the proxy from $http_proxy, which would see it in clear "
                    "text); set embedrt.endpoint.allow_insecure_http = true to allow "
                    "it, got \"http://embeddings.example.com/v1\"");
  }
  cfg.base_url = "http://embeddings.example.com/v1";
  cfg.allow_insecure_http = true;
  CAF_CHECK_EQUAL(resolve(cfg).errors, "");
  cfg.allow_insecure_http = false;
  cfg.api_key_env = "EMBEDRT_TEST_UNSET_KEY";
  scoped_env no_key{"EMBEDRT_TEST_UNSET_KEY", std::nullopt};
  CAF_CHECK_EQUAL(resolve(cfg).errors, ""); // nothing secret to protect
}

CAF_TEST(a key with control characters is refused without showing it) {
  scoped_env key{"EMBEDRT_TEST_KEY", std::string{fake_key} + "\r\nX-Injected: 1"};
  endpoint_config cfg;
  cfg.api_key_env = "EMBEDRT_TEST_KEY";
  auto r = resolve(cfg);
  CAF_CHECK_EQUAL(r.errors, "embedrt.endpoint.api_key_env: names a variable whose "
                            "value (not shown) contains control characters, got "
                            "\"EMBEDRT_TEST_KEY\"");
  CAF_CHECK_EQUAL(r.key, "");
}

CAF_TEST(a key pasted into api_key_env is not echoed) {
  endpoint_config cfg;
  cfg.api_key_env = fake_key;
  auto r = resolve(cfg);
  CAF_CHECK_NOT_EQUAL(r.errors, "");
  CAF_CHECK_EQUAL(r.errors.find(fake_key), std::string::npos);
  runtime_config all;
  all.endpoint.api_key_env = fake_key;
  CAF_CHECK_EQUAL(join(validate(all)).find(fake_key), std::string::npos);
}

CAF_TEST(credentials in the base url are refused and redacted) {
  endpoint_config cfg;
  cfg.base_url = "https://user:sk-test-abc@api.example.com/v1";
  auto r = resolve(cfg);
  CAF_CHECK_EQUAL(r.errors.find("sk-test-abc"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(r.errors.find("https://***@api.example.com/v1"),
                      std::string::npos);
}
