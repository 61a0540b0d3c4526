#include "actors/http_worker.hpp"

#include <stdexcept>

#include <caf/send.hpp>

#include "src/openai/embeddings_codec.hpp"
#include "src/policy/clock.hpp"

namespace embedrt {

http_call_result to_call_result(http::transfer_result& x,
                                const http_worker_state::in_flight& call,
                                std::string_view api_key) {
  auto clean = [api_key](std::string_view text) {
    return openai::clean_upstream_text(text, api_key);
  };
  http_call_result r;
  r.attempt_id = x.id;
  r.http_status = x.http_status;
  // milliseconds -> nanoseconds saturates (retry-after-ms: 9223372036854.7758).
  r.retry_after = x.retry_after.count() < 0
                    ? caf::timespan{-1}
                    : policy::saturating_nanoseconds(x.retry_after);
  r.limits = x.limits;
  r.wire_time = x.wire_time;
  switch (x.status) {
    case http::transfer_status::completed: break;
    case http::transfer_status::connect_failed:
      r.status = attempt_status::connect_failed;
      r.detail = clean(x.error);
      return r;
    case http::transfer_status::timed_out:
      r.status = attempt_status::timed_out;
      r.detail = clean(x.error);
      return r;
    case http::transfer_status::connection_lost:
      r.status = attempt_status::connection_lost;
      r.detail = clean(x.error);
      return r;
    case http::transfer_status::failed:
    case http::transfer_status::transport_broken:
      r.status = attempt_status::transport_error;
      r.detail = clean(x.error);
      return r;
    case http::transfer_status::too_large:
      // Transient: the next attempt may get a sane body.
      r.status = attempt_status::too_large;
      r.detail = clean(x.error);
      return r;
    case http::transfer_status::tls_rejected:
      r.status = attempt_status::tls_rejected;
      r.detail
        = "TLS certificate rejected: " + clean(x.error)
          + "; if the upstream uses a private CA, set embedrt.endpoint.ca_bundle "
            "to its certificate (PEM)";
      return r;
  }
  if (x.http_status < 200 || x.http_status >= 300) {
    r.status = attempt_status::http_error;
    r.detail = openai::upstream_error_message(x.body, api_key);
    return r;
  }
  openai::decoded_response decoded;
  auto st = openai::decode_response(x.body, call.input_count, call.expected_dimension,
                                    call.encoding, decoded);
  if (!st.ok()) {
    r.status = attempt_status::bad_response;
    // The reason may quote the body (a bad index token): cleaned and bounded.
    r.detail = std::string{openai::to_string(st.defect)} + ": " + clean(st.reason);
    return r;
  }
  r.status = attempt_status::succeeded;
  r.embeddings = std::move(decoded.embeddings);
  r.item_faults = std::move(decoded.item_faults);
  r.encoding_mismatches = decoded.encoding_mismatches;
  // A token is at least one byte of input: more is a lie, bounded here so nothing
  // downstream multiplies a huge count (the limiter bounds it further).
  auto most = std::max<uint64_t>(call.request_bytes, 1);
  r.usage = embedding_usage{std::min(decoded.prompt_tokens, most),
                            std::min(decoded.total_tokens, most)};
  return r;
}

namespace {

/// Response buffers up to this size are recycled (see transfer_request::spare_body).
constexpr size_t max_spare_body_bytes = size_t{4} << 20;

} // namespace

http_worker_actor::behavior_type
http_worker(http_worker_actor::stateful_pointer<http_worker_state> self,
            http_worker_args args) {
  auto& st = self->state;
  st.args = std::move(args);
  // A failure (an exception from a handler) ends the worker with its reason; the pool
  // and the dispatcher see it in their down messages. No printing to stderr.
  self->set_exception_handler(
    [](caf::scheduled_actor*, std::exception_ptr& ptr) -> caf::error {
      try {
        std::rethrow_exception(ptr);
      } catch (const std::exception& e) {
        return caf::make_error(caf::sec::runtime_error, e.what());
      } catch (...) {
        return caf::make_error(caf::sec::runtime_error, "unknown exception");
      }
    });
  // The transport thread reports through a weak handle: completions for a worker that
  // is gone are dropped, and the dispatcher answers its attempts.
  caf::weak_actor_ptr weak = self->ctrl();
  st.transport = st.args.make_transport(
    st.args.settings, [weak](std::vector<http::transfer_result>&& results) {
      if (auto strong = weak.lock())
        caf::anon_send(caf::actor_cast<caf::actor>(strong),
                       transfer_batch{std::move(results)});
    });
  return {
    // -- requests ---------------------------------------------------------------------
    [=](http_call& call) {
      auto& s = self->state;
      s.calls.emplace(call.attempt_id, http_worker_state::in_flight{
                                         call.input_count, call.expected_dimension,
                                         call.encoding, call.body.size()});
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(call.timeout);
      http::transfer_request req{call.attempt_id,
                                 std::move(call.body),
                                 std::max(ms, std::chrono::milliseconds{1}),
                                 call.max_response_bytes,
                                 {}};
      if (!s.spare_bodies.empty()) {
        req.spare_body = std::move(s.spare_bodies.back());
        s.spare_bodies.pop_back();
      }
      if (!s.transport->submit(std::move(req))) {
        s.calls.erase(call.attempt_id);
        http_call_result r;
        r.attempt_id = call.attempt_id;
        r.status = attempt_status::transport_error;
        r.detail = "the worker's transport is at capacity";
        http_call_results out;
        out.results.push_back(std::move(r));
        self->send(s.args.sink, std::move(out));
      }
    },
    // -- events -----------------------------------------------------------------------
    [=](transfer_batch& batch) {
      auto& s = self->state;
      http_call_results out;
      out.results.reserve(batch.results.size());
      for (auto& done : batch.results) {
        if (done.status == http::transfer_status::transport_broken) {
          // The curl state is unusable: fail, and let the pool restart us; the
          // dispatcher answers (re-sends) every attempt we carried.
          self->quit(caf::make_error(caf::sec::runtime_error,
                                     "transport broken: " + done.error));
          return;
        }
        auto i = s.calls.find(done.id);
        if (i == s.calls.end())
          continue;
        auto meta = i->second;
        s.calls.erase(i);
        out.results.push_back(to_call_result(done, meta, s.args.settings.api_key));
        // Hand the response buffer back with a later submit (see transfer_request);
        // huge batch bodies are not worth keeping.
        if (done.body.capacity() <= max_spare_body_bytes
            && s.spare_bodies.size() < s.args.settings.max_connections)
          s.spare_bodies.push_back(std::move(done.body));
      }
      if (!out.results.empty())
        self->send(s.args.sink, std::move(out));
    },
    // -- supervision ------------------------------------------------------------------
    [=](crash_worker_for_test) {
      if (self->state.args.test_hooks)
        throw std::runtime_error("worker crash requested by a test");
    },
  };
}

} // namespace embedrt
