// The server session against the real daemon's conversations: fed the real client's messages,
// with a host that answers each request the way the real daemon did, it must produce the real
// daemon's reply sequence byte for byte (one reply per request group, silence where it is silent).
#include <gtest/gtest.h>

#include "proto/bbftp/codec.hpp"
#include "proto/bbftp/replies.hpp"
#include "proto/bbftp/server_session.hpp"
#include "support/transcript.hpp"

namespace ferry::test {
namespace {

using namespace bbftp;

std::vector<Message> decode_stream(const std::vector<std::uint8_t>& bytes, Direction dir) {
  std::vector<Message> out;
  Bytes rest(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
  while (!rest.empty()) {
    auto d = decode_next(rest, {dir, 3});
    if (!d) break;
    out.push_back(std::move(d->message));
    rest = rest.subspan(d->consumed);
  }
  return out;
}

void replay(const char* file) {
  const auto conn = read_transcript(golden_path(file)).at(0);
  const auto requests = decode_stream(conn.stream(true), Direction::to_server);
  const auto expected = decode_stream(conn.stream(false), Direction::to_client);
  ASSERT_GE(expected.size(), 2u);
  ServerSession session(ServerConfig{.version = "3.3.0-11",
                                     .min_protocol = 1,
                                     .max_protocol = 3,
                                     .max_streams = 25,
                                     .allow_clear_text = false,
                                     .allow_status = false});
  std::size_t next = 1;  // expected[0] is MSG_CRYPT, sent before any request
  std::vector<Message> produced;
  auto answer = [&]() -> const Message& {
    EXPECT_LT(next, expected.size());
    return expected.at(next);
  };
  bool closed = false;
  for (const auto& m : requests) {
    ASSERT_FALSE(closed) << "a message after the session closed";
    Step step = session.on_message(m);
    produced.insert(produced.end(), step.replies.begin(), step.replies.end());
    next += step.replies.size();
    closed = step.close;
    if (!step.request) continue;
    Step outcome;
    if (std::holds_alternative<LoginRequest>(*step.request)) {
      outcome = session.login_result(true);
    } else if (const auto* t = std::get_if<TransferRequest>(&*step.request)) {
      const Message& a = answer();
      if (const auto* ok = std::get_if<TransOkV3>(&a)) {
        EXPECT_EQ(ok->params.nbstream,
                  streams_for(ok->params.filesize, t->params.nbstream, t->params.buffersize, 25));
        outcome = session.accept_transfer(ok->params, ok->ports);
      } else if (const auto* text = std::get_if<Text>(&a); text && text->text.empty()) {
        TransferParams echo = t->params;
        echo.filesize = 0;
        outcome = session.accept_transfer(echo, {});
      } else {
        outcome = session.reply(a);
      }
    } else if (std::holds_alternative<StartRequest>(*step.request)) {
      outcome = session.transfer_finished(answer());
    } else if (std::holds_alternative<AbortRequest>(*step.request)) {
      continue;
    } else {
      outcome = session.reply(answer());
    }
    produced.insert(produced.end(), outcome.replies.begin(), outcome.replies.end());
    next += outcome.replies.size();
    closed = closed || outcome.close;
  }
  EXPECT_TRUE(closed) << "MSG_CLOSE_CONN ends the session";
  ASSERT_EQ(produced.size(), expected.size() - 1);
  for (std::size_t i = 0; i < produced.size(); ++i) {
    EXPECT_EQ(encode(produced[i]), encode(expected[i + 1])) << "reply " << i;
  }
}

TEST(BbftpServerSession, ReplaysSession1) {
  replay("bbftp/session1-login-mkdir-cd-put-get-dir-zero-stat-df-rm.txt");
}
TEST(BbftpServerSession, ReplaysSession2) {
  replay("bbftp/session2-gzip-4streams-put-get.txt");
}
TEST(BbftpServerSession, ReplaysSession4) {
  replay("bbftp/session4-login-with-key.txt");
}

ServerSession logged_in(int version = 3) {
  ServerSession s(ServerConfig{});
  EXPECT_TRUE(s.on_message(Login{}).request);
  s.login_result(true);
  s.on_message(Empty{MsgCode::prot});
  s.on_message(ProtChoice{version});
  EXPECT_EQ(s.state(), ServerState::logged);
  return s;
}

TEST(BbftpServerSession, StartedBySshItNegotiatesWithoutALogin) {
  ServerSession s(ServerConfig{.version = "3.3.0-ferry"});
  s.started_by_ssh();
  EXPECT_EQ(s.state(), ServerState::awaiting_protocol);
  auto range = s.on_message(Empty{MsgCode::prot});
  ASSERT_EQ(range.replies.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<ProtRange>(range.replies[0]));
  s.on_message(ProtChoice{3});
  EXPECT_EQ(s.state(), ServerState::logged);
}

TEST(BbftpServerSession, UnknownMessagesAreAnsweredAndTheSessionGoesOn) {
  auto s = logged_in();
  auto step = s.on_message(Raw{0x77, {1, 2}});
  ASSERT_EQ(step.replies.size(), 1u);
  EXPECT_EQ(std::get<Text>(step.replies[0]), replies::unknown_message());
  EXPECT_FALSE(step.close);
  EXPECT_EQ(s.state(), ServerState::logged);
}

TEST(BbftpServerSession, OneReplyForAStoreGroupWithoutFilename) {
  auto s = logged_in();
  EXPECT_TRUE(s.on_message(Transfer{MsgCode::store_v2, {}}).replies.empty());
  auto step = s.on_message(DirCommand{MsgCode::chdir_v2, 0, "x"});
  EXPECT_EQ(step.replies.size(), 1u);
  EXPECT_FALSE(step.request) << "the stray message is not executed";
  EXPECT_EQ(s.state(), ServerState::logged);
}

TEST(BbftpServerSession, OptionsAreMaskedAndStreamsClamped) {
  auto s = logged_in();
  TransferParams p;
  p.transferoption = 0xFF & ~tropt::kRfio;  // RFIO is refused outright, see below
  p.nbstream = 500;
  s.on_message(Transfer{MsgCode::store_v2, p});
  auto step = s.on_message(Text{MsgCode::filename, "f"});
  const auto& r = std::get<TransferRequest>(*step.request);
  EXPECT_EQ(r.params.transferoption, 0x1Fu) << "the echo keeps the real daemon's store options";
  EXPECT_TRUE(r.qbss) << "QBSS still marks the data sockets";
  EXPECT_EQ(r.params.nbstream, 25);
}

TEST(BbftpServerSession, WrongStartLengthAbortsWithOneReply) {
  auto s = logged_in();
  TransferParams p;
  p.filesize = 10;
  p.nbstream = 2;
  s.on_message(Transfer{MsgCode::store_v2, p});
  s.on_message(Text{MsgCode::filename, "f"});
  s.accept_transfer(p, {1, 2});
  auto step = s.on_message(TransStartV3{MsgCode::trans_start_v3, 4});
  ASSERT_EQ(step.replies.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<AbortRequest>(*step.request));
  EXPECT_EQ(s.state(), ServerState::logged);
}

TEST(BbftpServerSession, ProtocolTwoStartsWithClientPorts) {
  auto s = logged_in(2);
  TransferParams p;
  p.filesize = 10;
  p.nbstream = 2;
  s.on_message(Transfer{MsgCode::retr_v2, p});
  s.on_message(Text{MsgCode::filename, "f"});
  auto ok = s.accept_transfer(p, {});
  ASSERT_EQ(ok.replies.size(), 1u);
  EXPECT_EQ(std::get<Transfer>(ok.replies[0]).code, MsgCode::trans_ok_v2);
  auto step = s.on_message(PortList{MsgCode::trans_start_v2, {5000, 5001}});
  const auto& start = std::get<StartRequest>(*step.request);
  EXPECT_EQ(start.client_ports, (std::vector<std::uint32_t>{5000, 5001}));
  EXPECT_EQ(start.params.filesize, 10) << "the accepted transfer comes with the start";
  EXPECT_EQ(start.params.nbstream, 2);
}

TEST(BbftpServerSession, LoginRefusalAndClearText) {
  ServerSession s(ServerConfig{});
  s.on_message(Login{});
  auto no = s.login_result(false);
  EXPECT_TRUE(no.close);
  EXPECT_EQ(std::get<Text>(no.replies.at(0)).code, MsgCode::bad_no_retry);
  ServerSession strict(ServerConfig{});
  auto refused = strict.on_message(CryptKey{{kNoCrypt, 0, 0}, {}, {}, {}});
  EXPECT_TRUE(refused.close);
  ServerSession lax(ServerConfig{.allow_clear_text = true});
  auto accepted = lax.on_message(CryptKey{{kNoCrypt, 0, 0}, {}, {}, {}});
  EXPECT_FALSE(accepted.close);
  auto login = lax.on_message(Login{});
  EXPECT_TRUE(std::get<LoginRequest>(*login.request).clear_text);
}

TEST(BbftpServerSession, RfioRequestsAreRefusedOnceWithoutAMassStorageRoot) {
  auto s = logged_in();
  TransferParams p;
  p.transferoption = tropt::kRfio;
  EXPECT_TRUE(s.on_message(Transfer{MsgCode::retr_v2, p}).replies.empty());
  auto step = s.on_message(Text{MsgCode::filename, "hpss:/f"});
  ASSERT_EQ(step.replies.size(), 1u);
  EXPECT_EQ(std::get<Text>(step.replies[0]), replies::rfio_not_supported());
  EXPECT_FALSE(step.request);
  auto list = s.on_message(DirCommand{MsgCode::list_v2, tropt::kRfio, "x/*"});
  EXPECT_EQ(std::get<Text>(list.replies.at(0)), replies::rfio_not_supported());
  EXPECT_EQ(s.state(), ServerState::logged);
}

TEST(BbftpServerSession, ProtocolOneAfterLogin) {
  ServerSession s(ServerConfig{.min_protocol = 1});
  s.on_message(Login{});
  s.login_result(true);
  EXPECT_EQ(s.context().version, 1) << "a protocol-1 client may talk before MSG_PROT";
  StoreV1 retr;
  retr.code = MsgCode::retr_c;
  retr.set_filename("f");
  retr.nbport = 3;
  retr.ports = {1, 2, 3};
  auto step = s.on_message(retr);
  EXPECT_EQ(s.version(), 1);
  const auto& r = std::get<V1TransferRequest>(*step.request);
  EXPECT_FALSE(r.store);
  EXPECT_TRUE(r.compressed);
  EXPECT_EQ(r.ports.size(), 3u);
  auto ok = s.accept_v1_retrieve(10);
  EXPECT_EQ(std::get<RetrOk>(ok.replies.at(0)).filesize, 10);
  auto start = s.on_message(Empty{MsgCode::retr_start});
  const auto& go = std::get<V1RetrieveStart>(*start.request);
  EXPECT_EQ(go.filesize, 10) << "the size RETR_OK announced";
  EXPECT_EQ(go.transfer.ports.size(), 3u);
  s.transfer_finished(replies::transfer_ok());
  StoreV1 bad = retr;
  bad.nbport = 11;  // the real daemon would overflow its port table
  auto refused = s.on_message(bad);
  EXPECT_EQ(std::get<Text>(refused.replies.at(0)).code, MsgCode::bad_no_retry);
  auto unknown = s.on_message(Raw{0x18, {0, 0, 0, 3}});
  EXPECT_EQ(std::get<Text>(unknown.replies.at(0)), replies::unknown_message_v1());
}

TEST(BbftpServerSession, StreamSplitAndCount) {
  EXPECT_EQ(segment_of(1000000, 3, 0).length, 333333u);
  EXPECT_EQ(segment_of(1000000, 3, 2).offset, 666666u);
  EXPECT_EQ(segment_of(1000000, 3, 2).length, 333334u);
  EXPECT_EQ(streams_for(3000, 4, 256, 25), 1);
  EXPECT_EQ(streams_for(64 << 20, 4, 256, 25), 4);
  EXPECT_EQ(streams_for(64 << 20, 40, 256, 25), 25);
  EXPECT_EQ(streams_for(0, 4, 256, 25), 1);
}

TEST(BbftpReplies, TextsMatchTheRealDaemon) {
  EXPECT_EQ(
      replies::stat_ok(1106213, 0100644, 3000, 4096, 8, 1001, 1001, "Mon Nov 23 11:09:24 2026",
                       "Mon Nov 23 11:09:22 2026", "Mon Nov 23 11:09:24 2026")
          .text,
      "1106213 00100644 3000 4096 8  1001 1001 (Mon Nov 23 11:09:24 2026) (Mon Nov 23 "
      "11:09:22 2026) (Mon Nov 23 11:09:24 2026)");
  EXPECT_EQ(replies::df_ok(66053021, 20736455, 4096, 16777216, 16366213, 255).text,
            "66053021 20736455 4096 16777216 16366213 255");
  EXPECT_EQ(replies::stat_file_failed("/nonexistent", "No such file or directory", false).text,
            "Error stating file /nonexistent : No such file or directory ");
  EXPECT_EQ(replies::chdir_failed("/root", "Permission denied", false, 3).text,
            "Error changing directory /root : Permission denied");
  EXPECT_EQ(replies::chdir_failed("/nonexistent-dir", "No such file or directory", false, 1).text,
            "Error changing directory /nonexistent-dir : No such file or directory ");
  EXPECT_EQ(replies::umask_changed(022, 077).text, "umask changed from 0022 to 0077");
  EXPECT_EQ(replies::rm_ok("mix").text, "mix has been deleted");
  EXPECT_EQ(replies::mkdir_ok("vec", 3).text, "Directory vec created");
  EXPECT_EQ(replies::login_ok("3.3.0-11").text, "bbftpd version 3.3.0-11 : OK");
}

}  // namespace
}  // namespace ferry::test
