#include "tests/support/fake_transport.hpp"

#include <nlohmann/json.hpp>

#include "src/openai/embeddings_codec.hpp"

namespace embedrt::test {

class fake_transport : public http::transport {
public:
  fake_transport(std::shared_ptr<fake_upstream> up, uint64_t id, uint32_t capacity,
                 http::completion_sink sink)
    : up_(std::move(up)), id_(id), capacity_(capacity) {
    up_->sinks_.emplace_back(id_, std::move(sink));
    ++up_->alive_;
  }

  ~fake_transport() override {
    // Outstanding transfers are aborted without calling the sink, like curl's.
    auto& p = up_->pending_;
    for (auto i = p.begin(); i != p.end();)
      i = i->transport == id_ ? p.erase(i) : i + 1;
    auto& s = up_->sinks_;
    for (auto i = s.begin(); i != s.end();)
      i = i->first == id_ ? s.erase(i) : i + 1;
    --up_->alive_;
  }

  bool submit(http::transfer_request req) override {
    size_t mine = 0;
    for (auto& t : up_->pending_)
      mine += t.transport == id_ ? 1 : 0;
    if (mine >= capacity_)
      return false;
    up_->pending_.push_back(fake_upstream::transfer{std::move(req), id_});
    return true;
  }

private:
  std::shared_ptr<fake_upstream> up_;
  uint64_t id_;
  uint32_t capacity_;
};

http::transport_factory fake_upstream::factory() {
  auto self = shared_from_this();
  return [self](const http::transport_settings& settings,
                http::completion_sink sink) -> std::unique_ptr<http::transport> {
    return std::make_unique<fake_transport>(self, self->next_transport_++,
                                            settings.max_connections, std::move(sink));
  };
}

void fake_upstream::complete(size_t i, http::transfer_result result) {
  auto t = std::move(pending_.at(i));
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
  result.id = t.request.id;
  result.body.reserve(result.body.size() + http::body_padding);
  for (auto& [id, sink] : sinks_)
    if (id == t.transport) {
      std::vector<http::transfer_result> batch;
      batch.push_back(std::move(result));
      sink(std::move(batch));
      return;
    }
}

std::vector<float> fake_upstream::vector_for(const std::string& text,
                                             uint32_t dimension) {
  std::vector<float> v(dimension);
  for (uint32_t k = 0; k < dimension; ++k)
    v[k] = static_cast<float>(text.size()) + static_cast<float>(k) / 10.0f;
  return v;
}

void fake_upstream::complete_ok(size_t i, uint32_t dimension) {
  auto req = nlohmann::json::parse(pending_.at(i).request.body);
  bool as_float = req.value("encoding_format", "float") == "float";
  nlohmann::json data = nlohmann::json::array();
  int index = 0;
  for (auto& input : req.at("input")) {
    auto v = vector_for(input.get<std::string>(), dimension);
    nlohmann::json item{{"object", "embedding"}, {"index", index++}};
    if (as_float)
      item["embedding"] = v;
    else
      item["embedding"] = openai::base64_encode(v.data(), v.size() * sizeof(float));
    data.push_back(std::move(item));
  }
  nlohmann::json body{{"object", "list"},
                      {"data", std::move(data)},
                      {"model", req.value("model", "")},
                      {"usage", {{"prompt_tokens", 3}, {"total_tokens", 3}}}};
  http::transfer_result r;
  r.status = http::transfer_status::completed;
  r.http_status = 200;
  r.body = body.dump();
  r.wire_time = std::chrono::microseconds{1000};
  complete(i, std::move(r));
}

void fake_upstream::complete_status(size_t i, uint16_t status, std::string body) {
  http::transfer_result r;
  r.status = http::transfer_status::completed;
  r.http_status = status;
  r.body = body.empty() ? R"({"error":{"message":"scripted failure"}})" : body;
  complete(i, std::move(r));
}

} // namespace embedrt::test
