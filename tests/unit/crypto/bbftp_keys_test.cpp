// The bbftp extension's key schedule, records and stream proofs against values computed
// independently with Python's cryptography (HKDF, AESGCM, HMAC), from RFC 7748's shared secret.
#include "crypto/bbftp_keys.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>

#include "crypto/bbftp_channel.hpp"
#include "support/hex.hpp"

namespace ferry::test {
namespace {

std::vector<std::uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

struct Fixture {
  std::vector<std::uint8_t> shared =
      hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  std::vector<std::uint8_t> client_nonce = std::vector<std::uint8_t>(32, 0x11);
  std::vector<std::uint8_t> server_nonce = [] {
    std::vector<std::uint8_t> v(32);
    for (int i = 0; i < 32; ++i) v[i] = static_cast<std::uint8_t>(i);
    return v;
  }();
  crypto::Digest32 th = crypto::bbftp_transcript_hash(bytes("crypt payload"), bytes("login part"));
};

TEST(BbftpKeys, ScheduleMatchesAnIndependentComputation) {
  Fixture f;
  EXPECT_EQ(f.th, fixed<32>("87b8185c83876e960d650d8342f1ad5b6caadd6b789abc9a8235159434c68e30"));
  auto k = crypto::derive_bbftp_keys(f.shared, f.client_nonce, f.server_nonce, f.th);
  ASSERT_TRUE(k) << k.error();
  EXPECT_EQ(k->c2s, fixed<32>("fc1503fcb852e8f7a644c90b52d41653b72434bba4094b1585a40ec5f3b4ee04"));
  EXPECT_EQ(k->s2c, fixed<32>("42620575aaffa1dc48f7ae8bffb11452a181c0cbeaba227d347de4c215c23155"));
  EXPECT_EQ(k->c2s_iv, fixed<12>("636aeb95015f1987f6205abe"));
  EXPECT_EQ(k->s2c_iv, fixed<12>("0b451565f546e53782edf59a"));
  EXPECT_EQ(k->data, fixed<32>("4d6cab1e6dc5d1f9a54a3dc5471837c2469e29a7450c9a0c1925b0d30fc486fd"));
  // Another transcript (a man in the middle's announcement): other keys.
  auto other = crypto::derive_bbftp_keys(f.shared, f.client_nonce, f.server_nonce,
                                         crypto::bbftp_transcript_hash(bytes("x"), bytes("y")));
  ASSERT_TRUE(other);
  EXPECT_NE(other->c2s, k->c2s);
}

TEST(BbftpKeys, RecordsInOrderOnly) {
  Fixture f;
  auto k = crypto::derive_bbftp_keys(f.shared, f.client_nonce, f.server_nonce, f.th);
  ASSERT_TRUE(k);
  crypto::RecordSealer out(k->c2s, k->c2s_iv);
  const auto credentials =
      hex("0005616c696365"
          "0006733363726574");
  const auto r0 = out.seal(credentials, f.th);
  EXPECT_EQ(r0, hex("ca3c6c4ad234b9a3e001976262845941b74758a6d441828fe0fbefdb2725e3"));
  const auto r1 = out.seal(bytes("hello"));
  EXPECT_EQ(r1, hex("9e7d1d64206eb8288c7ac12c8d3f9633f9684a0e76"));

  crypto::RecordSealer in(k->c2s, k->c2s_iv);
  EXPECT_FALSE(in.open(r1));  // out of order: record 0 expected
  EXPECT_EQ(in.next(), 0u);
  EXPECT_FALSE(in.open(r0));  // without its associated data
  EXPECT_EQ(*in.open(r0, f.th), credentials);
  auto tampered = r1;
  tampered[0] ^= 1;
  EXPECT_FALSE(in.open(tampered));
  EXPECT_EQ(*in.open(r1), bytes("hello"));
  EXPECT_FALSE(in.open(r1));  // a replay
  crypto::RecordSealer wrong_direction(k->s2c, k->s2c_iv);
  EXPECT_FALSE(wrong_direction.open(r0, f.th));
}

TEST(BbftpKeys, StreamProofs) {
  Fixture f;
  auto k = crypto::derive_bbftp_keys(f.shared, f.client_nonce, f.server_nonce, f.th);
  ASSERT_TRUE(k);
  const auto p = crypto::bbftp_stream_proof(k->data, 7, 2);
  EXPECT_EQ(p, fixed<32>("8a628aee88c231648faa408f512598d110f144e9ea96375bd61b9e1c7de82877"));
  EXPECT_TRUE(crypto::equal_digests(p, crypto::bbftp_stream_proof(k->data, 7, 2)));
  EXPECT_FALSE(crypto::equal_digests(p, crypto::bbftp_stream_proof(k->data, 7, 3)));
  EXPECT_FALSE(crypto::equal_digests(p, crypto::bbftp_stream_proof(k->data, 8, 2)));
}

// The control channel's framing over the records above: u32 length | record, a write cut into
// records of at most kMaxClear bytes, reassembled from any split of the byte stream.
TEST(BbftpChannel, RecordsFramedCutAndReassembled) {
  Fixture f;
  auto k = crypto::derive_bbftp_keys(f.shared, f.client_nonce, f.server_nonce, f.th);
  ASSERT_TRUE(k);
  // Record 1 of c2s ("hello", after the credentials' record 0): the vector above, framed.
  crypto::BbftpChannel client(crypto::RecordSealer(k->c2s, k->c2s_iv, 1),
                              crypto::RecordSealer(k->s2c, k->s2c_iv), k->data, 4);
  const auto hello = bytes("hello");
  const auto framed = client.seal(std::as_bytes(std::span(hello)));
  auto want =
      hex("00000015"
          "9e7d1d64206eb8288c7ac12c8d3f9633f9684a0e76");
  ASSERT_EQ(framed.size(), want.size());
  EXPECT_TRUE(std::equal(framed.begin(), framed.end(), want.begin(),
                         [](std::byte a, std::uint8_t b) { return std::to_integer<int>(a) == b; }));

  crypto::BbftpChannel daemon(crypto::RecordSealer(k->s2c, k->s2c_iv),
                              crypto::RecordSealer(k->c2s, k->c2s_iv, 1), k->data, 4);
  std::vector<std::byte> big(crypto::BbftpChannel::kMaxClear * 2 + 1000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = std::byte(i * 7 % 251);
  auto stream = client.seal(std::as_bytes(std::span(hello)));  // record 2
  const auto more = client.seal(big);                          // records 3, 4, 5
  stream.insert(stream.end(), more.begin(), more.end());
  EXPECT_EQ(client.sealer().next(), 6U);
  // The framed "hello" above was record 1: the daemon opens it first.
  std::vector<std::byte> clear;
  ASSERT_TRUE(daemon.open(framed, clear));
  // Then the rest, 997 bytes at a time (records cut anywhere).
  for (std::size_t at = 0; at < stream.size(); at += 997) {
    const std::size_t n = std::min<std::size_t>(997, stream.size() - at);
    ASSERT_TRUE(daemon.open(Bytes(stream.data() + at, n), clear)) << at;
  }
  EXPECT_EQ(daemon.pending(), 0U);
  ASSERT_EQ(clear.size(), 5 + 5 + big.size());
  EXPECT_TRUE(std::equal(big.begin(), big.end(), clear.begin() + 10));
  EXPECT_EQ(daemon.opener().next(), 6U);
}

TEST(BbftpChannel, ForgedOrOversizedRecordsEndTheChannel) {
  Fixture f;
  auto k = crypto::derive_bbftp_keys(f.shared, f.client_nonce, f.server_nonce, f.th);
  ASSERT_TRUE(k);
  auto make = [&] {
    return std::pair{crypto::BbftpChannel(crypto::RecordSealer(k->c2s, k->c2s_iv),
                                          crypto::RecordSealer(k->s2c, k->s2c_iv), k->data, 0),
                     crypto::BbftpChannel(crypto::RecordSealer(k->s2c, k->s2c_iv),
                                          crypto::RecordSealer(k->c2s, k->c2s_iv), k->data, 0)};
  };
  const auto msg = bytes("MSG_LIST_V2 and so on");
  {
    auto [a, b] = make();
    auto rec = a.seal(std::as_bytes(std::span(msg)));
    rec.back() ^= std::byte{1};
    std::vector<std::byte> clear;
    auto r = b.open(rec, clear);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), crypto::BbftpChannel::Error::forged);
    EXPECT_TRUE(clear.empty());
  }
  {
    auto [a, b] = make();
    const auto r0 = a.seal(std::as_bytes(std::span(msg)));
    const auto r1 = a.seal(std::as_bytes(std::span(msg)));
    std::vector<std::byte> clear;
    auto swapped = b.open(r1, clear);  // out of order (or a replay of another record)
    ASSERT_FALSE(swapped);
    EXPECT_EQ(swapped.error(), crypto::BbftpChannel::Error::forged);
  }
  {
    auto [a, b] = make();
    std::vector<std::byte> clear;
    const std::vector<std::byte> huge{std::byte{0x7f}, std::byte{0xff}, std::byte{0xff},
                                      std::byte{0xff}};
    auto r = b.open(huge, clear);  // refused on its length, before anything else arrives
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), crypto::BbftpChannel::Error::too_long);
    auto [c, d] = make();
    const std::vector<std::byte> tiny{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{15}};
    EXPECT_FALSE(d.open(tiny, clear));  // shorter than a tag
  }
  {
    auto [a, b] = make();
    const auto empty = a.seal({});  // one record with no clear bytes: opens to nothing
    EXPECT_EQ(empty.size(), 4 + crypto::kGcmTag);
    std::vector<std::byte> clear;
    EXPECT_TRUE(b.open(empty, clear));
    EXPECT_TRUE(clear.empty());
  }
}

}  // namespace
}  // namespace ferry::test
