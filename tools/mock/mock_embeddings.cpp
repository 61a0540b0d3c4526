#include "tools/mock/mock_embeddings.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include <nlohmann/json.hpp>

#include "src/openai/embeddings_codec.hpp"
#include "tools/mock/mock_random.hpp"

namespace embedrt::mock {

namespace {

using json = nlohmann::json;

// A JSON string literal (quotes included); invalid UTF-8 is replaced, not thrown on.
std::string quoted(std::string_view text) {
  return json(std::string{text}).dump(-1, ' ', false, json::error_handler_t::replace);
}

void append_uint(std::string& out, uint64_t value) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, res.ptr);
}

// Appends `[v0,v1,...]` with shortest round-trip floats. Writes into the string's
// storage directly: iostreams or snprintf would dominate the mock's CPU time.
void append_float_array(std::string& out, const std::vector<float>& v,
                        std::string_view first_token) {
  // "-1.23456789e-38," is 16 characters: the longest shortest-form float plus a comma.
  constexpr size_t max_chars = 16;
  auto old_size = out.size();
  out.resize(old_size + 2 + v.size() * max_chars + first_token.size());
  char* p = out.data() + old_size;
  char* end = out.data() + out.size();
  *p++ = '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0)
      *p++ = ',';
    if (i == 0 && !first_token.empty()) {
      std::memcpy(p, first_token.data(), first_token.size());
      p += first_token.size();
    } else {
      p = std::to_chars(p, end, v[i]).ptr;
    }
  }
  *p++ = ']';
  out.resize(static_cast<size_t>(p - out.data()));
}

void append_base64(std::string& out, const std::vector<float>& v) {
  // OpenAI sends little-endian float32; this host is little-endian (x86-64/aarch64).
  out += '"';
  openai::base64_append(out, v.data(), v.size() * sizeof(float));
  out += '"';
}

} // namespace

void mock_vector(std::string_view text, uint32_t dimension, std::vector<float>& out) {
  out.resize(dimension);
  if (dimension == 0)
    return;
  uint64_t state = fnv1a64(text);
  double norm2 = 0.0;
  for (uint32_t i = 0; i < dimension; ++i) {
    // 24 bits are exactly representable in a float: every value is an exact multiple
    // of 2^-23 in [-1, 1).
    auto bits = static_cast<int32_t>(splitmix64(state) >> 40);
    float x = static_cast<float>(bits - (1 << 23))
              * (1.0f / static_cast<float>(1 << 23));
    out[i] = x;
    norm2 += static_cast<double>(x) * static_cast<double>(x);
  }
  if (norm2 == 0.0) {
    out[0] = 1.0f;
    return;
  }
  auto scale = 1.0 / std::sqrt(norm2);
  for (auto& x : out)
    x = static_cast<float>(static_cast<double>(x) * scale);
}

std::vector<float> mock_vector(std::string_view text, uint32_t dimension) {
  std::vector<float> out;
  mock_vector(text, dimension, out);
  return out;
}

uint64_t mock_tokens(std::string_view text) {
  return (text.size() + 3) / 4;
}

bool parse_embeddings_request(std::string_view body, embeddings_request& out,
                              std::string& error_message) {
  auto doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    error_message = "We could not parse the JSON body of your request. The API expects "
                    "a JSON object (mock).";
    return false;
  }
  auto model = doc.find("model");
  if (model == doc.end() || !model->is_string()
      || model->get_ref<const std::string&>().empty()) {
    error_message = "you must provide a model parameter";
    return false;
  }
  out.model = model->get<std::string>();
  auto input = doc.find("input");
  if (input == doc.end()) {
    error_message = "'input' is a required property";
    return false;
  }
  out.inputs.clear();
  if (input->is_string()) {
    if (input->get_ref<const std::string&>().empty()) {
      error_message = "'input' cannot be an empty string";
      return false;
    }
    out.inputs.push_back(input->get<std::string>());
  } else if (input->is_array()) {
    if (input->empty()) {
      error_message = "'input' cannot be an empty array";
      return false;
    }
    if (input->size() > max_inputs) {
      error_message = "Too many inputs. The max number of inputs is "
                      + std::to_string(max_inputs) + ", got "
                      + std::to_string(input->size()) + ".";
      return false;
    }
    out.inputs.reserve(input->size());
    for (size_t i = 0; i < input->size(); ++i) {
      auto& item = (*input)[i];
      if (!item.is_string()) {
        error_message = "'input[" + std::to_string(i) + "]' must be a string";
        return false;
      }
      if (item.get_ref<const std::string&>().empty()) {
        error_message = "'input[" + std::to_string(i) + "]' cannot be an empty string";
        return false;
      }
      out.inputs.push_back(item.get<std::string>());
    }
  } else {
    error_message = "'input' must be a string or an array of strings";
    return false;
  }
  out.base64 = false;
  if (auto i = doc.find("encoding_format"); i != doc.end() && !i->is_null()) {
    if (*i == "base64") {
      out.base64 = true;
    } else if (*i != "float") {
      error_message = "'encoding_format' must be 'float' or 'base64'";
      return false;
    }
  }
  out.dimensions = 0;
  if (auto i = doc.find("dimensions"); i != doc.end() && !i->is_null()) {
    if (!i->is_number_integer() || i->get<int64_t>() < 1
        || i->get<int64_t>() > int64_t{max_dimension}) {
      error_message = "'dimensions' must be an integer in [1, "
                      + std::to_string(max_dimension) + "]";
      return false;
    }
    out.dimensions = static_cast<uint32_t>(i->get<int64_t>());
  }
  return true;
}

bool corrupts_vector(const body_tweaks& tweaks, std::string_view text,
                     bool& truncated) {
  if (tweaks.corrupt_rate <= 0 || (!tweaks.corrupt_truncate && !tweaks.corrupt_nan))
    return false;
  auto x = mix_keys(tweaks.corrupt_seed, fnv1a64(text), 0xc0de);
  if (unit_double(x) >= tweaks.corrupt_rate)
    return false;
  truncated = tweaks.corrupt_truncate
              && (!tweaks.corrupt_nan || (mix_keys(x, 1) & 1) == 0);
  return true;
}

std::string embeddings_body(const embeddings_request& req, uint32_t dimension,
                            std::string_view model, const body_tweaks& tweaks) {
  auto n = req.inputs.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  if (tweaks.drop_last && !order.empty())
    order.pop_back();
  if (tweaks.shuffle && order.size() >= 2) {
    uint64_t state = tweaks.shuffle_seed;
    for (size_t i = order.size() - 1; i > 0; --i)
      std::swap(order[i], order[splitmix64(state) % (i + 1)]);
    // A shuffle that happens to be the identity would test nothing.
    if (std::is_sorted(order.begin(), order.end()))
      std::rotate(order.begin(), order.begin() + 1, order.end());
  }
  uint32_t dim = tweaks.dimension_override > 0 ? tweaks.dimension_override : dimension;
  bool as_base64 = !tweaks.always_float && req.base64 != tweaks.wrong_type;
  uint64_t tokens = 0;
  for (auto& text : req.inputs)
    tokens += mock_tokens(text);
  std::string out;
  // Floats need at most 16 characters each, base64 about 5.4; plus per-item framing.
  out.reserve(n * (size_t{dim} * (as_base64 ? 6 : 16) + 64) + model.size() + 128);
  out += R"({"object":"list","data":[)";
  std::vector<float> v;
  bool first = true;
  for (auto i : order) {
    if (!first)
      out += ',';
    out += R"({"object":"embedding","index":)";
    append_uint(out, i);
    out += R"(,"embedding":)";
    mock_vector(req.inputs[i], dim, v);
    bool poison = tweaks.nan && first && !v.empty();
    auto token = tweaks.nan_token;
    bool truncated = false;
    if (!v.empty() && corrupts_vector(tweaks, req.inputs[i], truncated)) {
      if (truncated) {
        v.pop_back();
      } else if (!poison) {
        // Valid JSON whose value is unusable: this item is broken, not the body.
        poison = true;
        token = "1e999";
      }
    }
    if (as_base64) {
      if (poison && !v.empty())
        v[0] = std::numeric_limits<float>::quiet_NaN();
      append_base64(out, v);
    } else {
      append_float_array(out, v, poison && !v.empty() ? token : std::string_view{});
    }
    out += '}';
    first = false;
  }
  out += R"(],"model":)";
  out += quoted(model);
  out += R"(,"usage":{"prompt_tokens":)";
  append_uint(out, tokens);
  out += R"(,"total_tokens":)";
  append_uint(out, tokens);
  out += "}}";
  return out;
}

std::string error_body(std::string_view message, std::string_view type,
                       std::string_view code) {
  std::string out = R"({"error":{"message":)";
  out += quoted(message);
  out += R"(,"type":)";
  out += quoted(type);
  out += R"(,"param":null,"code":)";
  out += code.empty() ? std::string{"null"} : quoted(code);
  out += "}}";
  return out;
}

} // namespace embedrt::mock
