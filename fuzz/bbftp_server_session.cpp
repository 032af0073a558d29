// The daemon's session state machine under any control stream: requests are answered with canned
// outcomes (success or refusal, chosen by the first byte); it must never crash, never answer one
// message with more than one reply, and be in the closed state whenever it says close.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.hpp"
#include "proto/bbftp/codec.hpp"
#include "proto/bbftp/replies.hpp"
#include "proto/bbftp/server_session.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::bbftp;
  if (size < 1) return 0;
  ServerSession s(ServerConfig{.version = "fuzz",
                               .min_protocol = 2,
                               .max_protocol = 3,
                               .max_streams = 25,
                               .allow_clear_text = (data[0] & 1) != 0,
                               .allow_status = (data[0] & 2) != 0});
  const bool succeed = (data[0] & 4) != 0;
  ferry::Bytes rest(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  for (int i = 0; i < 1024 && !rest.empty(); ++i) {
    auto d = decode_next(rest, s.context());
    if (!d) {
      if (d.error() != Errc::need_more) {
        auto step = s.on_protocol_error(d.error());
        FUZZ_CHECK(step.close);
      }
      break;
    }
    rest = rest.subspan(d->consumed);
    Step step = s.on_message(d->message);
    std::size_t replies = step.replies.size();
    if (step.request) {
      Step outcome;
      if (std::holds_alternative<LoginRequest>(*step.request)) {
        outcome = s.login_result(succeed);
      } else if (const auto* t = std::get_if<TransferRequest>(&*step.request)) {
        outcome = succeed ? s.accept_transfer(
                                t->params, std::vector<std::uint32_t>(
                                               static_cast<std::size_t>(t->params.nbstream), 40000))
                          : s.reply(replies::bad_no_retry("no"));
      } else if (std::holds_alternative<StartRequest>(*step.request) ||
                 std::holds_alternative<V1RetrieveStart>(*step.request)) {
        outcome = s.transfer_finished(replies::transfer_ok());
      } else if (std::holds_alternative<DirRequest>(*step.request) ||
                 std::holds_alternative<UmaskRequest>(*step.request)) {
        outcome = s.reply(succeed ? replies::ok("done") : replies::bad_no_retry("no"));
      }
      replies += outcome.replies.size();
      step.close = step.close || outcome.close;
    }
    FUZZ_CHECK(replies <= 1);
    if (step.close) {
      FUZZ_CHECK(s.state() == ServerState::closed);
      break;  // the host closes the connection here
    }
  }
  return 0;
}
