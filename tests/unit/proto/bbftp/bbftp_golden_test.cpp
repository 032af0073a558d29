// Every control message of the captured real sessions decodes and re-encodes byte for byte.
#include <gtest/gtest.h>

#include <map>

#include "proto/bbftp/codec.hpp"
#include "support/transcript.hpp"

namespace ferry::test {
namespace {

using bbftp::Context;
using bbftp::Direction;

struct Session {
  const char* name;
  const char* file;
  int version;
};

const Session kSessions[] = {
    {"Session1", "bbftp/session1-login-mkdir-cd-put-get-dir-zero-stat-df-rm.txt", 3},
    {"Session2", "bbftp/session2-gzip-4streams-put-get.txt", 3},
    {"Session3", "bbftp/session3-errors.txt", 3},
    {"Session4", "bbftp/session4-login-with-key.txt", 3},
    {"Session5", "bbftp/session5-v1-probe.txt", 1},
};

void PrintTo(const Session& s, std::ostream* os) {
  *os << s.name;
}

class GoldenSession : public ::testing::TestWithParam<Session> {};

TEST_P(GoldenSession, EveryMessageDecodesAndReencodesByteForByte) {
  const auto& session = GetParam();
  const auto connections = read_transcript(golden_path(session.file));
  ASSERT_FALSE(connections.empty());
  std::size_t total = 0;
  for (const auto& conn : connections) {
    for (bool to_server : {true, false}) {
      const auto stream = conn.stream(to_server);
      const Context ctx{to_server ? Direction::to_server : Direction::to_client, session.version};
      // The names the transcript gives the messages of this direction, in order.
      std::vector<std::string> names;
      for (const auto& e : conn.entries) {
        if (e.to_server == to_server && !e.continuation && !e.partial) names.push_back(e.name);
        if (e.partial && e.to_server == to_server) {
          // A request the peer cut off: it must frame as incomplete, never as a message.
          Bytes tail(reinterpret_cast<const std::byte*>(e.bytes.data()), e.bytes.size());
          EXPECT_EQ(bbftp::frame(tail, ctx).error(), bbftp::Errc::need_more);
        }
      }
      Bytes rest(reinterpret_cast<const std::byte*>(stream.data()), stream.size());
      std::size_t index = 0;
      while (!rest.empty()) {
        auto d = bbftp::decode_next(rest, ctx);
        ASSERT_TRUE(d) << session.name << " message " << index << ": "
                       << bbftp::to_string(d.error());
        ASSERT_LT(index, names.size());
        EXPECT_EQ(bbftp::name_of(static_cast<bbftp::MsgCode>(bbftp::code_of(d->message))),
                  names[index]);
        const auto again = bbftp::encode(d->message);
        ASSERT_EQ(again.size(), d->consumed) << names[index];
        EXPECT_TRUE(std::equal(again.begin(), again.end(), rest.begin())) << names[index];
        rest = rest.subspan(d->consumed);
        ++index;
      }
      EXPECT_EQ(index, conn.message_count(to_server)) << session.name;
      total += index;
    }
  }
  EXPECT_GT(total, 0u);
}

INSTANTIATE_TEST_SUITE_P(RealPeers, GoldenSession, ::testing::ValuesIn(kSessions),
                         [](const auto& i) { return std::string(i.param.name); });

// Decoded field values, checked against what the captures say they are.
std::vector<bbftp::Message> decode_all(const TranscriptConnection& conn, bool to_server,
                                       int version = 3) {
  const auto stream = conn.stream(to_server);
  Bytes rest(reinterpret_cast<const std::byte*>(stream.data()), stream.size());
  std::vector<bbftp::Message> out;
  const Context ctx{to_server ? Direction::to_server : Direction::to_client, version};
  while (!rest.empty()) {
    auto d = bbftp::decode_next(rest, ctx);
    if (!d) break;
    out.push_back(d->message);
    rest = rest.subspan(d->consumed);
  }
  return out;
}

TEST(GoldenFields, Session1Values) {
  const auto conn = read_transcript(golden_path(kSessions[0].file)).at(0);
  const auto c2s = decode_all(conn, true);
  const auto s2c = decode_all(conn, false);
  const auto& crypt = std::get<bbftp::CryptKey>(s2c.at(0));
  EXPECT_EQ(crypt.sec.crtype, bbftp::kCryptRsaOaep);
  EXPECT_EQ(crypt.modulus_mpi.size(), 133u);
  EXPECT_EQ(crypt.exponent_mpi, (std::vector<std::uint8_t>{0, 0, 0, 3, 1, 0, 1}));
  const auto& login = std::get<bbftp::Login>(c2s.at(0));
  EXPECT_EQ(login.sec, (bbftp::Sec{2, 0, 0}));
  EXPECT_EQ(login.numuser, 128);
  EXPECT_EQ(std::get<bbftp::Text>(s2c.at(1)).text, "bbftpd version 3.3.0-11 : OK");
  EXPECT_EQ(std::get<bbftp::ProtRange>(s2c.at(2)), (bbftp::ProtRange{1, 3}));
  EXPECT_EQ(std::get<bbftp::ProtChoice>(c2s.at(2)).version, 3);
  const auto& mkdir = std::get<bbftp::DirCommand>(c2s.at(3));
  EXPECT_EQ(mkdir.code, bbftp::MsgCode::mkdir_v2);
  EXPECT_EQ(mkdir.transferoption, bbftp::tropt::kClientDefault);
  EXPECT_EQ(mkdir.path, "vec");
  const auto& store = std::get<bbftp::Transfer>(c2s.at(5));
  EXPECT_EQ(store.code, bbftp::MsgCode::store_v2);
  EXPECT_EQ(store.params.filesize, 3000);
  EXPECT_EQ(store.params.filemode, 0644u);
  EXPECT_EQ(std::string(store.params.lastmodif.data(), 8), "6b041ee2");
  EXPECT_EQ(store.params.buffersize, 256);
  const auto& ok = std::get<bbftp::TransOkV3>(s2c.at(5));
  EXPECT_EQ(ok.ports, std::vector<std::uint32_t>{44895});
  bool saw_list = false, saw_empty_trans_ok = false;
  for (const auto& m : s2c) {
    if (const auto* l = std::get_if<bbftp::ListReplyV2>(&m)) {
      saw_list = true;
      ASSERT_EQ(l->entries.size(), 3u);
      EXPECT_EQ(l->entries[0], (bbftp::ListEntry{"./.", ' ', 'd'}));
      EXPECT_EQ(l->entries[1], (bbftp::ListEntry{"./s3k", ' ', 'f'}));
    }
    if (const auto* t = std::get_if<bbftp::TransOkV3>(&m); t && t->params.filesize == 0) {
      saw_empty_trans_ok = true;
      EXPECT_TRUE(t->ports.empty()) << "no port list for an empty file";
    }
  }
  EXPECT_TRUE(saw_list);
  EXPECT_TRUE(saw_empty_trans_ok);
}

TEST(GoldenFields, Session5ProtocolOneStores) {
  const auto conn = read_transcript(golden_path(kSessions[4].file)).at(0);
  const auto c2s = decode_all(conn, true, 1);
  const auto s2c = decode_all(conn, false, 1);
  std::map<bbftp::MsgCode, int> stores;
  for (const auto& m : c2s) {
    if (const auto* s = std::get_if<bbftp::StoreV1>(&m)) {
      ++stores[s->code];
      EXPECT_GE(s->nbport, 1);
      EXPECT_LE(s->nbport, 10);
      EXPECT_FALSE(s->filename().empty());
    }
  }
  EXPECT_EQ(stores[bbftp::MsgCode::store], 2);
  EXPECT_EQ(stores[bbftp::MsgCode::store_c], 1);
  EXPECT_EQ(stores[bbftp::MsgCode::retr], 2);
  EXPECT_EQ(stores[bbftp::MsgCode::retr_c], 1);
  bool saw_list = false;
  for (const auto& m : s2c) {
    if (const auto* l = std::get_if<bbftp::ListReplyV1>(&m)) {
      saw_list = true;
      EXPECT_EQ(l->paths, (std::vector<std::string>{"f_gz", "f_raw", "f_zero"}));
    }
  }
  EXPECT_TRUE(saw_list);
}

}  // namespace
}  // namespace ferry::test
