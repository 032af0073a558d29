// The client session against the real daemon's replies: walking each captured session in time
// order, told what the real client sent, it must accept every reply the real daemon gave.
#include <gtest/gtest.h>

#include "proto/bbftp/client_session.hpp"
#include "support/transcript.hpp"

namespace ferry::test {
namespace {

using namespace bbftp;

Message decode_one(const TranscriptEntry& e, const std::vector<std::uint8_t>& extra, Direction d,
                   int version) {
  std::vector<std::uint8_t> bytes = e.bytes;
  bytes.insert(bytes.end(), extra.begin(), extra.end());
  auto r =
      decode_next({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, {d, version});
  EXPECT_TRUE(r) << e.name;
  return r ? r->message : Message(Raw{});
}

void walk(const char* file, std::size_t connection = 0, ClientState end = ClientState::logged,
          int min_events = 6) {
  const auto conn = read_transcript(golden_path(file)).at(connection);
  ClientSession s(2, 3);
  int events = 0;
  const auto& es = conn.entries;
  for (std::size_t i = 0; i < es.size(); ++i) {
    const auto& e = es[i];
    if (e.continuation || e.partial) continue;
    if (e.to_server) {
      const Message m = decode_one(e, {}, Direction::to_server, 3);
      const auto code = static_cast<MsgCode>(code_of(m));
      switch (code) {
        case MsgCode::log:
          s.sent_login();
          break;
        case MsgCode::prot:
          s.sent_prot();
          break;
        case MsgCode::mkdir_v2:
        case MsgCode::chdir_v2:
        case MsgCode::rm:
        case MsgCode::stat:
        case MsgCode::df:
        case MsgCode::chumask:
          s.sent_command();
          break;
        case MsgCode::list_v2:
          s.sent_list();
          break;
        case MsgCode::store_v2:
        case MsgCode::retr_v2:
          s.sent_transfer();
          break;
        case MsgCode::trans_start_v3:
          s.started_transfer();
          break;
        case MsgCode::create_zero:
          s.settled();
          break;
        default:
          break;  // FILENAME, PROT_ANS (checked below), CLOSE_CONN
      }
      if (const auto* c = std::get_if<ProtChoice>(&m)) {
        EXPECT_EQ(s.version(), c->version);
      }
      continue;
    }
    std::vector<std::uint8_t> ports;
    if (i + 1 < es.size() && es[i + 1].continuation) ports = es[i + 1].bytes;
    const ClientEvent ev = s.on_message(decode_one(e, ports, Direction::to_client, 3));
    ASSERT_FALSE(std::holds_alternative<Violation>(ev))
        << e.name << ": " << std::get<Violation>(ev).what;
    ++events;
  }
  EXPECT_GE(events, min_events);
  EXPECT_EQ(s.state(), end);
}

TEST(BbftpClientSession, AcceptsSession1) {
  walk("bbftp/session1-login-mkdir-cd-put-get-dir-zero-stat-df-rm.txt");
}
TEST(BbftpClientSession, AcceptsSession2) {
  walk("bbftp/session2-gzip-4streams-put-get.txt");
}
TEST(BbftpClientSession, AcceptsSession3Errors) {
  walk("bbftp/session3-errors.txt", 0, ClientState::closed, 2);  // wrong password
  walk("bbftp/session3-errors.txt", 1, ClientState::closed, 2);  // unknown user
  walk("bbftp/session3-errors.txt", 2);                          // refused get, put and cd
}
TEST(BbftpClientSession, AcceptsSession4) {
  walk("bbftp/session4-login-with-key.txt");
}

TEST(BbftpClientSession, InfoOnlyDuringTransfers) {
  ClientSession s(2, 3);
  s.sent_command();
  auto ev = s.on_message(Text{MsgCode::info, "buffer size not set"});
  EXPECT_TRUE(std::holds_alternative<Violation>(ev)) << "the real client drops the connection";
  ClientSession t(2, 3);
  t.started_transfer();
  EXPECT_TRUE(std::holds_alternative<Info>(t.on_message(Text{MsgCode::info, "x"})));
  EXPECT_TRUE(std::holds_alternative<Accepted>(t.on_message(Text{MsgCode::ok, "OK"})));
  EXPECT_EQ(t.state(), ClientState::logged);
}

TEST(BbftpClientSession, NegotiationPicksTheHighestCommonVersion) {
  ClientSession v3(2, 3);
  v3.sent_prot();
  auto a = std::get<Negotiated>(v3.on_message(ProtRange{1, 3}));
  EXPECT_EQ(a.version, 3);
  EXPECT_EQ(std::get<ProtChoice>(a.answer).version, 3);
  ClientSession active(2, 2);  // -D
  active.sent_prot();
  EXPECT_EQ(std::get<Negotiated>(active.on_message(ProtRange{1, 3})).version, 2);
  ClientSession none(2, 3);
  none.sent_prot();
  auto n = std::get<Negotiated>(none.on_message(ProtRange{1, 1}));
  EXPECT_FALSE(n.version);
  EXPECT_EQ(std::get<Text>(n.answer).code, MsgCode::bad_no_retry);
  EXPECT_EQ(none.state(), ClientState::closed);
}

TEST(BbftpClientSession, FeaturesFollowTheNegotiation) {
  ClientSession s(2, 3);
  EXPECT_EQ(s.features(), Features{}) << "nothing before the negotiation";
  s.sent_prot();
  s.on_message(ProtRange{1, 3});
  EXPECT_TRUE(s.features().passive);
  EXPECT_TRUE(s.features().v2_messages);
  ClientSession active(2, 2);
  active.sent_prot();
  active.on_message(ProtRange{1, 3});
  EXPECT_FALSE(active.features().passive);
  EXPECT_TRUE(active.features().v2_messages);
  ClientSession v1(1, 1);
  EXPECT_FALSE(v1.negotiates());
  v1.use_protocol_1();
  EXPECT_EQ(v1.features(), Features::of(1));
  EXPECT_FALSE(v1.features().v2_messages);
}

TEST(BbftpClientSession, StrayMessagesAreViolations) {
  ClientSession s(2, 3);
  EXPECT_TRUE(std::holds_alternative<Violation>(s.on_message(Text{MsgCode::ok, "hi"})))
      << "the key must come first";
  ClientSession t(2, 3);
  t.on_message(CryptKey{{kCryptRsaOaep, 0, 0}, {}, {}, {}});
  EXPECT_TRUE(std::holds_alternative<Violation>(t.on_message(Text{MsgCode::ok, "unasked"})));
}

// ssh mode: the first bytes the real bbftpd 3.3 -s writes on its standard output
// (MSG_LOGGED_STDIN, its check port 5022 = control port + 1), captured from it.
TEST(BbftpClientSession, SshModeTakesTheRealDaemonsCheckPort) {
  const std::vector<std::uint8_t> real = {0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
                                          0x00, 0x04, 0x00, 0x00, 0x13, 0x9e};
  auto m = decode_next({reinterpret_cast<const std::byte*>(real.data()), real.size()},
                       {Direction::to_client, 3});
  ASSERT_TRUE(m);
  ClientSession s(2, 3);
  s.start_ssh();
  EXPECT_EQ(s.state(), ClientState::awaiting_ssh_hello);
  const auto hello = std::get<SshHello>(s.on_message(m->message));
  EXPECT_EQ(hello.check_port, 5022);
  EXPECT_FALSE(hello.wants_address);
  EXPECT_EQ(s.state(), ClientState::logged);
  s.sent_prot();
  EXPECT_EQ(std::get<Negotiated>(s.on_message(ProtRange{1, 3})).version, 3);
}

TEST(BbftpClientSession, SshModeAnswersADaemonThatAsksForTheAddress) {
  ClientSession s(2, 3);
  s.start_ssh();  // bbftpd -A -s sends its IPv4 address first
  const auto hello = std::get<SshHello>(s.on_message(Raw{0x15, {192, 168, 1, 10}}));
  EXPECT_TRUE(hello.wants_address);
  EXPECT_EQ(s.state(), ClientState::logged);
}

TEST(BbftpClientSession, SshModeRefusalsAndStrayMessages) {
  ClientSession refused(2, 3);
  refused.start_ssh();
  EXPECT_EQ(std::get<Refused>(refused.on_message(Text{MsgCode::bad, "Server exiting"})).text,
            "Server exiting");
  EXPECT_EQ(refused.state(), ClientState::closed);
  for (const Message& stray : {Message(IntCommand{MsgCode::logged_stdin, 0}),
                               Message(IntCommand{MsgCode::logged_stdin, 70000}),
                               Message(CryptKey{{kCryptRsaOaep, 0, 0}, {}, {}, {}}),
                               Message(Text{MsgCode::ok, "hi"}), Message(Raw{0x15, {1, 2, 3}})}) {
    ClientSession s(2, 3);
    s.start_ssh();
    EXPECT_TRUE(std::holds_alternative<Violation>(s.on_message(stray)));
    EXPECT_EQ(s.state(), ClientState::closed);
  }
}

}  // namespace
}  // namespace ferry::test
