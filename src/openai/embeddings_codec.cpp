// JSON <-> structs for OpenAI-compatible POST /v1/embeddings (base64 lives in
// base64.cpp).
//
// Simplifying assumptions and choices:
// - Requests are written by hand, not through nlohmann::json: building a json tree
//   would copy every input text once more, and this runs once per upstream request.
//   Invalid UTF-8 in a text or model name becomes U+FFFD per bad byte (what
//   nlohmann's `error_handler_t::replace` does), so the body is always valid JSON.
// - Responses are read with simdjson On-Demand in a single forward pass, in place in
//   the body's spare capacity. On-Demand validates what it reads (every value of
//   `data`, `usage` and `model`, plus the document's structure) but not the contents
//   of fields it skips (e.g. `"object": tru` passes unnoticed).
// - JSON numbers in an embedding that do not fit a float32 (`1e39`) or not even a
//   double (`1e999`) are `non_finite`: they are well-formed JSON, only their value is
//   unusable.
// - When a body has several whole-response defects, the first one found is reported.
//   `data` is counted before its items are read, so a wrong count wins over any
//   defect of an item. Item defects (wrong type, bad base64, wrong length, NaN) refuse
//   that item only: batching must not turn one bad vector into a failure of every
//   caller in the batch.
// - Both encodings are accepted whatever was asked (several compatible servers ignore
//   `encoding_format`); both carry exact float32 values. Mismatches are counted.
// - `usage` and `model` are optional metadata: missing, null or of the wrong type
//   reads as 0 or empty instead of failing a response whose vectors are fine.
#include "src/openai/embeddings_codec.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <iterator>
#include <utility>

#include <simdjson.h>

namespace embedrt::openai {

namespace {

// -- UTF-8 helpers ------------------------------------------------------------------

// -- request encoding -----------------------------------------------------------

/// True when any of the 8 bytes in `x` is < 0x20, '"', '\\' or >= 0x80, i.e. needs
/// a look in `append_json_string` (classic SWAR byte tests, no false negatives).
constexpr bool needs_attention(uint64_t x) noexcept {
  constexpr uint64_t ones = 0x0101010101010101ull;
  constexpr uint64_t highs = 0x8080808080808080ull;
  auto has_zero = [](uint64_t v) { return (v - ones) & ~v & highs; };
  auto below_0x20 = (x - ones * 0x20) & ~x & highs;
  return ((x & highs) | below_0x20 | has_zero(x ^ (ones * '"'))
          | has_zero(x ^ (ones * '\\')))
         != 0;
}

/// Appends `text` as a JSON string literal: quotes, backslashes and control
/// characters escaped, valid UTF-8 copied as is, invalid bytes replaced by U+FFFD.
void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  auto p = reinterpret_cast<const unsigned char*>(text.data());
  auto n = text.size();
  size_t i = 0;
  size_t pending = 0; // start of the bytes not yet copied to `out`
  out += '"';
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if (!needs_attention(word)) {
        i += 8;
        continue;
      }
    }
    auto c = p[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (auto len = utf8_sequence_length(p + i, n - i); len > 0) {
        i += len;
        continue;
      }
      out.append(text.data() + pending, i - pending);
      out += utf8_replacement_character;
      pending = ++i;
      continue;
    }
    out.append(text.data() + pending, i - pending);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        char esc[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
        out.append(esc, sizeof(esc));
      }
    }
    pending = ++i;
  }
  out.append(text.data() + pending, n - pending);
  out += '"';
}

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// -- response decoding ------------------------------------------------------------

namespace od = simdjson::ondemand;

/// Bodies up to this size are parsed with the thread's reusable parser; larger ones
/// with a parser of their own. A simdjson parser keeps about 6 bytes per byte of the
/// largest document it saw, and the caller's threads live as long as the process.
constexpr size_t max_reused_parser_bytes = size_t{1} << 20;

std::string plural(size_t n, const char* noun) {
  auto result = std::to_string(n);
  result += ' ';
  result += noun;
  if (n != 1)
    result += 's';
  return result;
}

/// JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, trailing
/// white space allowed (On-Demand's raw tokens include it).
bool is_json_number(std::string_view token) noexcept {
  size_t i = 0;
  auto n = token.size();
  auto digit = [&](size_t k) { return k < n && token[k] >= '0' && token[k] <= '9'; };
  auto digits = [&] {
    auto start = i;
    while (digit(i))
      ++i;
    return i > start;
  };
  if (i < n && token[i] == '-')
    ++i;
  if (i < n && token[i] == '0')
    ++i;
  else if (!digits())
    return false;
  if (i < n && token[i] == '.') {
    ++i;
    if (!digits())
      return false;
  }
  if (i < n && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    if (i < n && (token[i] == '+' || token[i] == '-'))
      ++i;
    if (!digits())
      return false;
  }
  while (
    i < n
    && (token[i] == ' ' || token[i] == '\t' || token[i] == '\n' || token[i] == '\r'))
    ++i;
  return i == n;
}

bool is_json_integer(std::string_view token) noexcept {
  return is_json_number(token) && token.find_first_of(".eE") == std::string_view::npos;
}

const char* json_type_name(od::json_type type) {
  switch (type) {
    case od::json_type::array: return "an array";
    case od::json_type::object: return "an object";
    case od::json_type::number: return "a number";
    case od::json_type::string: return "a string";
    case od::json_type::boolean: return "a boolean";
    case od::json_type::null: return "null";
  }
  return "unknown";
}

/// Why `text` is not base64 of float32 values (only called once decoding failed).
std::string base64_problem(std::string_view text) {
  if (text.size() % 4 != 0)
    return "its length " + std::to_string(text.size()) + " is not a multiple of 4";
  auto payload = text;
  while (!payload.empty() && payload.back() == '=' && text.size() - payload.size() < 2)
    payload.remove_suffix(1);
  for (size_t i = 0; i < payload.size(); ++i) {
    auto c = payload[i];
    if (!is_alnum(c) && c != '+' && c != '/') {
      std::string result = "invalid character ";
      if (c >= 0x20 && c < 0x7F) {
        result += '\'';
        result += c;
        result += '\'';
      } else {
        static constexpr char hex[] = "0123456789abcdef";
        auto u = static_cast<unsigned char>(c);
        result += "0x";
        result += hex[u >> 4];
        result += hex[u & 0xF];
      }
      return result + " at offset " + std::to_string(i);
    }
  }
  auto bytes = text.size() / 4 * 3 - (text.size() - payload.size());
  return "it decodes to " + plural(bytes, "byte")
         + ", not a whole number of float32 values";
}

/// One decode_response call. Reads the document in a single forward pass.
class response_reader {
public:
  response_reader(size_t expected_count, uint32_t expected_dimension,
                  encoding_format encoding, decoded_response& out)
    : expected_count_(expected_count), expected_dimension_(expected_dimension),
      encoding_(encoding), out_(out) {
    // A known dimension sizes every float vector up front; otherwise the first vector
    // sizes the rest.
    reserve_hint_ = expected_dimension;
  }

  decode_status read(od::parser& parser, simdjson::padded_string_view json) {
    od::document doc;
    if (auto err = parser.iterate(json).get(doc))
      return invalid_json(err);
    od::object root;
    if (auto err = doc.get_object().get(root))
      return err == simdjson::INCORRECT_TYPE
               ? malformed("the body is not a JSON object")
               : invalid_json(err);
    bool has_data = false;
    for (auto field : root) {
      std::string_view key;
      if (auto err = field.unescaped_key().get(key))
        return invalid_json(err);
      od::value value;
      if (auto err = field.value().get(value))
        return invalid_json(err);
      decode_status status;
      if (key == "data") {
        if (has_data)
          return malformed("the body has two data fields");
        has_data = true;
        status = read_data(value);
      } else if (key == "usage") {
        status = read_usage(value);
      } else if (key == "model") {
        status = read_model(value);
      }
      if (!status.ok())
        return status;
    }
    // The loop ends without an error at the root's closing brace, even if something
    // follows it; at the true end, current_location() reports OUT_OF_BOUNDS.
    const char* rest = nullptr;
    if (doc.current_location().get(rest) == simdjson::SUCCESS)
      return malformed("the body has content after the JSON object");
    if (!has_data)
      return malformed("the body has no data array");
    return {};
  }

private:
  decode_status read_data(od::value value) {
    od::array data;
    if (auto err = value.get_array().get(data))
      return err == simdjson::INCORRECT_TYPE ? malformed("data is not an array")
                                             : invalid_json(err);
    size_t count = 0;
    if (auto err = data.count_elements().get(count))
      return invalid_json(err);
    if (count != expected_count_)
      return {response_defect::wrong_count,
              plural(count, "embedding") + " for " + plural(expected_count_, "input")};
    out_.embeddings.resize(count);
    seen_.assign(count, false);
    size_t position = 0;
    for (auto element : data) {
      od::value item;
      if (auto err = element.get(item))
        return invalid_json(err);
      if (auto status = read_item(item, position); !status.ok())
        return status;
      ++position;
    }
    // On-Demand does not validate what it skips: in broken JSON such as
    // [{"index":0,"a":"b":[1]},"embedding":[2]] the items read can be fewer than
    // counted, which would leave a slot empty (found by fuzzing).
    if (position != count)
      return malformed("data has " + plural(count, "item") + " but only "
                       + std::to_string(position) + " could be read");
    return {};
  }

  decode_status read_item(od::value value, size_t position) {
    auto where = "data[" + std::to_string(position) + "]";
    od::object item;
    if (auto err = value.get_object().get(item))
      return err == simdjson::INCORRECT_TYPE ? malformed(where + " is not an object")
                                             : invalid_json(err);
    bool has_index = false;
    bool has_embedding = false;
    int64_t index = 0;
    std::vector<float> vec;
    decode_status item_status;
    for (auto field : item) {
      std::string_view key;
      if (auto err = field.unescaped_key().get(key))
        return invalid_json(err);
      od::value field_value;
      if (auto err = field.value().get(field_value))
        return invalid_json(err);
      if (key == "index") {
        if (has_index)
          return malformed(where + " has two index fields");
        has_index = true;
        auto err = field_value.get_int64().get(index);
        if (err == simdjson::SUCCESS)
          continue;
        // simdjson calls integers beyond int64 out of range or, beyond uint64, of the
        // wrong type; either way it is an integer, just not a usable index.
        auto token = trimmed_token(field_value);
        if (err == simdjson::NUMBER_OUT_OF_RANGE
            || (err == simdjson::INCORRECT_TYPE && is_json_integer(token)))
          return {response_defect::bad_index,
                  where + " has index " + std::string{token} + ", outside [0, "
                    + std::to_string(expected_count_) + ")"};
        if (err == simdjson::INCORRECT_TYPE || err == simdjson::NUMBER_ERROR)
          return malformed(where + ".index is not an integer");
        return invalid_json(err);
      } else if (key == "embedding") {
        if (has_embedding)
          return malformed(where + " has two embedding fields");
        has_embedding = true;
        item_status = read_embedding(field_value, where, vec);
        if (is_whole_response(item_status.defect))
          return item_status;
      }
    }
    if (!has_index)
      return malformed(where + " has no index");
    if (!has_embedding)
      return malformed(where + " has no embedding");
    return place(where, index, std::move(vec), std::move(item_status));
  }

  static bool is_whole_response(response_defect x) noexcept {
    return x == response_defect::malformed_json || x == response_defect::wrong_count
           || x == response_defect::bad_index;
  }

  decode_status read_embedding(od::value value, const std::string& where,
                               std::vector<float>& vec) {
    od::json_type type;
    if (auto err = value.type().get(type))
      return invalid_json(err);
    if (type != od::json_type::string && type != od::json_type::array) {
      // On-Demand skips the unread value when the item's next field is read.
      return {response_defect::wrong_type,
              where + ".embedding is " + json_type_name(type) + ", expected "
                + (encoding_ == encoding_format::base64 ? "a base64 string"
                                                        : "an array of numbers")};
    }
    bool as_base64 = type == od::json_type::string;
    if (as_base64 != (encoding_ == encoding_format::base64))
      ++out_.encoding_mismatches;
    return as_base64 ? read_base64(value, where, vec) : read_floats(value, where, vec);
  }

  decode_status read_base64(od::value value, const std::string& where,
                            std::vector<float>& vec) {
    // Base64 never needs JSON escapes, so the raw token between the quotes usually is
    // the text: decode it straight from the body instead of unescaping a copy.
    auto token = trimmed_token(value);
    std::string_view text;
    if (token.size() >= 2 && token.back() == '"'
        && token.find('\\') == std::string_view::npos) {
      text = token.substr(1, token.size() - 2);
      od::raw_json_string consumed;
      if (auto err = value.get_raw_json_string().get(consumed))
        return invalid_json(err);
    } else if (auto err = value.get_string().get(text)) {
      return invalid_json(err);
    }
    if (!base64_decode_floats(text, vec))
      return {response_defect::bad_base64,
              where + ".embedding is not base64 of float32 values: "
                + base64_problem(text)};
    return {};
  }

  decode_status read_floats(od::value value, const std::string& where,
                            std::vector<float>& vec) {
    od::array values;
    if (auto err = value.get_array().get(values))
      return invalid_json(err);
    vec.reserve(reserve_hint_);
    for (auto element : values) {
      od::value x;
      if (auto err = element.get(x))
        return invalid_json(err);
      double d;
      if (auto err = x.get_double().get(d)) {
        if (err == simdjson::NUMBER_ERROR && is_json_number(x.raw_json_token())) {
          // Too large for a double (simdjson refuses to round it to infinity).
          d = x.raw_json_token()[0] == '-' ? -HUGE_VAL : HUGE_VAL;
        } else if (err == simdjson::INCORRECT_TYPE || err == simdjson::NUMBER_ERROR) {
          return malformed(where + ".embedding[" + std::to_string(vec.size())
                           + "] is not a number");
        } else {
          return invalid_json(err);
        }
      }
      // IEEE 754 rounding; beyond float's range this yields +-inf, refused in place().
      vec.push_back(static_cast<float>(d));
    }
    return {};
  }

  /// Checks a complete item and moves its vector to `out_.embeddings[index]`, or
  /// records why the item is refused. Only a bad index fails the whole response.
  decode_status place(const std::string& where, int64_t index, std::vector<float> vec,
                      decode_status item_status) {
    if (index < 0 || static_cast<uint64_t>(index) >= expected_count_)
      return {response_defect::bad_index, where + " has index " + std::to_string(index)
                                            + ", outside [0, "
                                            + std::to_string(expected_count_) + ")"};
    auto i = static_cast<size_t>(index);
    if (seen_[i])
      return {response_defect::bad_index,
              "index " + std::to_string(index) + " appears twice"};
    seen_[i] = true;
    if (item_status.ok())
      item_status = check_vector(index, vec);
    if (!item_status.ok()) {
      if (out_.item_faults.empty())
        out_.item_faults.resize(expected_count_);
      out_.item_faults[i] = std::string{to_string(item_status.defect)} + ": "
                            + std::move(item_status.reason);
      return {};
    }
    if (reserve_hint_ == 0)
      reserve_hint_ = vec.size();
    out_.embeddings[i] = std::move(vec);
    return {};
  }

  decode_status check_vector(int64_t index, const std::vector<float>& vec) const {
    auto vector_name = [index] { return "vector " + std::to_string(index); };
    if (vec.empty())
      return {response_defect::wrong_dimension, vector_name() + " is empty"};
    if (expected_dimension_ > 0 && vec.size() != expected_dimension_)
      return {response_defect::wrong_dimension,
              vector_name() + " has " + plural(vec.size(), "value") + ", expected "
                + std::to_string(expected_dimension_)};
    for (size_t i = 0; i < vec.size(); ++i)
      if (!std::isfinite(vec[i]))
        return {response_defect::non_finite, vector_name() + " value "
                                               + std::to_string(i) + " is "
                                               + (std::isnan(vec[i]) ? "NaN"
                                                  : vec[i] > 0       ? "+infinity"
                                                                     : "-infinity")};
    return {};
  }

  decode_status read_usage(od::value value) {
    od::object usage;
    if (auto err = value.get_object().get(usage))
      return err == simdjson::INCORRECT_TYPE ? decode_status{} : invalid_json(err);
    for (auto field : usage) {
      std::string_view key;
      if (auto err = field.unescaped_key().get(key))
        return invalid_json(err);
      uint64_t* target = key == "prompt_tokens"  ? &out_.prompt_tokens
                         : key == "total_tokens" ? &out_.total_tokens
                                                 : nullptr;
      if (target == nullptr)
        continue;
      uint64_t n = 0;
      auto err = field.value().get_uint64().get(n);
      if (err == simdjson::SUCCESS)
        *target = n;
      else if (!is_type_error(err))
        return invalid_json(err);
    }
    return {};
  }

  decode_status read_model(od::value value) {
    std::string_view model;
    auto err = value.get_string().get(model);
    if (err == simdjson::SUCCESS)
      out_.model.assign(model.data(), model.size());
    else if (!is_type_error(err))
      return invalid_json(err);
    return {};
  }

  static bool is_type_error(simdjson::error_code err) noexcept {
    return err == simdjson::INCORRECT_TYPE || err == simdjson::NUMBER_OUT_OF_RANGE
           || err == simdjson::NUMBER_ERROR;
  }

  static std::string_view trimmed_token(od::value& value) noexcept {
    auto token = value.raw_json_token();
    while (!token.empty()
           && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n'
               || token.back() == '\r'))
      token.remove_suffix(1);
    return token;
  }

  static decode_status malformed(std::string reason) {
    return {response_defect::malformed_json, std::move(reason)};
  }

  static decode_status invalid_json(simdjson::error_code err) {
    if (err == simdjson::EMPTY)
      return malformed("the body is empty");
    return malformed(std::string{"the body is not valid JSON: "}
                     + simdjson::error_message(err));
  }

  size_t expected_count_;
  uint32_t expected_dimension_;
  encoding_format encoding_;
  decoded_response& out_;
  size_t reserve_hint_ = 0;
  std::vector<bool> seen_;
};

} // namespace

// -- public API -----------------------------------------------------------------------

const char* to_string(response_defect x) {
  static constexpr const char* names[] = {
    "none",       "malformed_json", "wrong_count",     "bad_index",
    "wrong_type", "bad_base64",     "wrong_dimension", "non_finite",
  };
  auto i = static_cast<size_t>(x);
  return i < std::size(names) ? names[i] : "unknown";
}

std::string encode_request(std::string_view model,
                           const std::vector<const std::string*>& inputs,
                           uint32_t dimensions, encoding_format encoding) {
  // Room for the fixed keys, the quotes and commas; escapes grow the string if needed.
  size_t size = 96 + model.size();
  for (auto* text : inputs)
    size += (text != nullptr ? text->size() : 0) + 3;
  std::string out;
  out.reserve(size);
  out += R"({"model":)";
  append_json_string(out, model);
  out += R"(,"input":[)";
  for (size_t i = 0; i < inputs.size(); ++i) {
    assert(inputs[i] != nullptr);
    if (i > 0)
      out += ',';
    append_json_string(out, inputs[i] != nullptr ? *inputs[i] : std::string_view{});
  }
  out += encoding == encoding_format::float_array ? R"(],"encoding_format":"float")"
                                                  : R"(],"encoding_format":"base64")";
  if (dimensions > 0) {
    out += R"(,"dimensions":)";
    out += std::to_string(dimensions);
  }
  out += '}';
  return out;
}

decode_status decode_response(const std::string& body, size_t expected_count,
                              uint32_t expected_dimension, encoding_format encoding,
                              decoded_response& out) {
  out.embeddings.clear();
  out.item_faults.clear();
  out.encoding_mismatches = 0;
  out.prompt_tokens = 0;
  out.total_tokens = 0;
  out.model.clear();
  // Parse in place when the body has simdjson's padding in its spare capacity (the
  // transport reserves it); otherwise pay for one padded copy.
  simdjson::padded_string copy;
  simdjson::padded_string_view json;
  if (body.capacity() - body.size() >= simdjson::SIMDJSON_PADDING) {
    json = simdjson::padded_string_view(body.data(), body.size(), body.capacity());
  } else {
    copy = simdjson::padded_string(body);
    json = copy;
  }
  response_reader reader{expected_count, expected_dimension, encoding, out};
  decode_status status;
  if (body.size() <= max_reused_parser_bytes) {
    thread_local od::parser parser;
    status = reader.read(parser, json);
  } else {
    od::parser parser;
    status = reader.read(parser, json);
  }
  if (!status.ok()) {
    // No half-filled result for a caller that forgets to check.
    out.embeddings.clear();
    out.item_faults.clear();
    out.prompt_tokens = 0;
    out.total_tokens = 0;
    out.model.clear();
  }
  return status;
}

} // namespace embedrt::openai
