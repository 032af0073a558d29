// The bbftp extension's announcement and login messages: a golden vector whose signature was
// computed independently (Python's cryptography, RFC 8032's test key), and refusals.
#include <gtest/gtest.h>

#include "crypto/host_key.hpp"
#include "proto/bbftp/extension.hpp"
#include "proto/bbftp/server_session.hpp"
#include "proto/bbftp/transfer_plan.hpp"
#include "support/hex.hpp"

namespace ferry::test {
namespace {

using namespace bbftp;
using namespace bbftp::ext;

constexpr std::string_view kGolden =
    "4645525259425831"  // "FERRYBX1"
    "01"                // version 1
    "00000007"          // resume, checksums, stream proofs
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"  // nonce
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"  // X25519 share
    "01"                                                                // Ed25519
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"  // host key
    "7c56543b0c389e3db49e57f7f8dff06dc0591ad11706ae7b7e8f05777d829d3f"  // signature
    "464b2c16c47f74e156393591e730526dcfde9373fe7865aecb3e7a671b4b6f0a";

Announcement golden() {
  Announcement a;
  a.features = feature::kResume | feature::kChecksums | feature::kStreamProofs;
  for (int i = 0; i < 32; ++i) a.nonce[i] = static_cast<std::uint8_t>(i);
  a.share = fixed<32>("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  a.host_key = fixed<32>("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  a.signature = fixed<64>(kGolden.substr(kGolden.size() - 128));
  return a;
}

TEST(BbftpExtension, AnnouncementGoldenVectorAndItsSignature) {
  const auto bytes = encode(golden());
  EXPECT_EQ(bytes, hex(kGolden));
  EXPECT_EQ(bytes.size(), kAnnouncementSize);
  auto back = decode_announcement(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, golden());
  // Signed over the connection's RSA key and the announcement, by RFC 8032's test key.
  CryptKey key{{2, 5, 7}, {0, 0, 0, 1, 0x7f}, {0, 0, 0, 3, 1, 0, 1}, bytes};
  const auto msg = signed_bytes(key);
  EXPECT_TRUE(crypto::ed25519_verify(back->host_key, msg, back->signature));
  auto seed = crypto::HostKey::from_seed(
      hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  ASSERT_TRUE(seed);
  EXPECT_EQ(seed->sign(msg), golden().signature);
  // Another RSA key under the same announcement: the signature no longer holds.
  CryptKey other = key;
  other.modulus_mpi.back() ^= 1;
  EXPECT_FALSE(crypto::ed25519_verify(back->host_key, signed_bytes(other), back->signature));
}

TEST(BbftpExtension, NoAnnouncementWhereThereIsNone) {
  EXPECT_FALSE(decode_announcement({}));  // a daemon without the extension, the real one
  auto bytes = encode(golden());
  bytes[0] = 'X';
  EXPECT_FALSE(decode_announcement(bytes));
  auto v0 = encode(golden());
  v0[8] = 0;
  EXPECT_FALSE(decode_announcement(v0));
  auto cut = encode(golden());
  cut.pop_back();
  EXPECT_FALSE(decode_announcement(cut));
  // A later version's fields before the signature are skipped.
  auto longer = encode(golden());
  longer.insert(longer.end() - 64, {1, 2, 3});
  longer[8] = 2;
  auto later = decode_announcement(longer);
  ASSERT_TRUE(later);
  EXPECT_EQ(later->signature, golden().signature);
  EXPECT_EQ(later->host_key, golden().host_key);
}

TEST(BbftpExtension, LoginAndCredentials) {
  ExtLogin l;
  l.features = feature::kResume;
  l.nonce.fill(0xaa);
  l.share.fill(0xbb);
  l.sealed = {1, 2, 3};
  const auto bytes = encode(l);
  EXPECT_EQ(bytes.size(), kExtLoginFixed + 3);
  EXPECT_EQ(bytes[0], 1);
  EXPECT_EQ(bytes[4], 1);  // features, big-endian
  auto back = decode_ext_login(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, l);
  EXPECT_EQ(transcript_part(l), std::vector<std::uint8_t>(bytes.begin(), bytes.end() - 3));
  EXPECT_FALSE(decode_ext_login(std::vector<std::uint8_t>(kExtLoginFixed - 1)));
  EXPECT_FALSE(
      decode_ext_login(std::vector<std::uint8_t>(kExtLoginFixed + kMaxSealedCredentials + 1, 1)));

  const Credentials c{"alice", "s3cret"};
  const auto clear = encode(c);
  EXPECT_EQ(clear, hex("0005616c696365"
                       "0006733363726574"));
  EXPECT_EQ(*decode_credentials(clear), c);
  for (std::size_t cut = 0; cut < clear.size(); ++cut) {
    EXPECT_FALSE(decode_credentials(std::span(clear).first(cut))) << cut;
  }
  auto extra = clear;
  extra.push_back(0);
  EXPECT_FALSE(decode_credentials(extra));
  EXPECT_FALSE(
      decode_credentials(hex("0000"
                             "0001"
                             "78")));  // no user
}

TEST(BbftpExtension, LoginOkGoldenBytes) {
  const ExtLoginOk ok{3, feature::kStreamProofs, "bbftpd version 1.0 : OK"};
  const auto b = encode(ok);
  std::vector<std::uint8_t> want = {3, 0, 0, 0, 4};
  for (char c : ok.text) want.push_back(static_cast<std::uint8_t>(c));
  EXPECT_EQ(b, want);
  EXPECT_EQ(decode_ext_login_ok(b), ok);
  EXPECT_FALSE(decode_ext_login_ok(std::vector<std::uint8_t>{3, 0, 0, 0}));     // short
  EXPECT_FALSE(decode_ext_login_ok(std::vector<std::uint8_t>{0, 0, 0, 0, 4}));  // protocol 0
}

// The daemon's state machine takes MSG_EXT_LOGIN only where it announced the extension, and only
// instead of a login (not after a clear-text MSG_CRYPT).
TEST(BbftpExtension, ServerSessionTakesExtLoginOnlyWhenAnnounced) {
  const Raw ext_login{kMsgExtLogin, std::vector<std::uint8_t>(kExtLoginFixed + 20, 1)};
  {
    ServerConfig c;
    ServerSession plain(c);  // a daemon without the extension: an unknown message, closed
    auto s = plain.on_message(ext_login);
    EXPECT_FALSE(s.request);
    EXPECT_TRUE(s.close);
  }
  ServerConfig c;
  c.extension = true;
  ServerSession ours(c);
  auto s = ours.on_message(ext_login);
  ASSERT_TRUE(s.request);
  const auto* r = std::get_if<ExtLoginRequest>(&*s.request);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->payload, ext_login.payload);
  EXPECT_TRUE(s.replies.empty());
  auto accepted = ours.ext_login_accepted(feature::kStreamProofs);
  ASSERT_EQ(accepted.replies.size(), 1U);
  const auto* reply = std::get_if<Raw>(&accepted.replies.front());
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->code, kMsgExtLoginOk);
  auto ok = decode_ext_login_ok(reply->payload);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->protocol_max, 3);
  EXPECT_EQ(ok->features, feature::kStreamProofs);
  EXPECT_EQ(ok->text, "bbftpd version 3.3.0 : OK");
  EXPECT_EQ(ours.state(), ServerState::awaiting_protocol);
  // The usual negotiation follows, inside the channel.
  auto prot = ours.on_message(Empty{MsgCode::prot});
  ASSERT_EQ(prot.replies.size(), 1U);
  EXPECT_TRUE(std::holds_alternative<ProtRange>(prot.replies.front()));
}

TEST(BbftpExtension, SumGoldenBytesAndRefusals) {
  ExtSum sum;
  sum.flags = 0;
  sum.digest = 1;
  sum.sum.assign(16, 0xab);
  const auto b = encode(sum);
  ASSERT_EQ(b.size(), 18U);
  EXPECT_EQ(b[0], 0);
  EXPECT_EQ(b[1], 1);
  EXPECT_EQ(decode_ext_sum(b), sum);
  auto sha = sum;
  sha.digest = 2;
  sha.sum.assign(32, 1);
  sha.flags = ExtSum::kChanged;
  EXPECT_EQ(decode_ext_sum(encode(sha)), sha);
  auto wrong_length = b;
  wrong_length.pop_back();
  EXPECT_FALSE(decode_ext_sum(wrong_length));
  auto unknown_digest = b;
  unknown_digest[1] = 3;
  EXPECT_FALSE(decode_ext_sum(unknown_digest));
  auto unknown_flag = b;
  unknown_flag[0] = 4;
  EXPECT_FALSE(decode_ext_sum(unknown_flag));
}

// With checksums, segments start on integrity blocks: every block sum covers one stream's bytes.
TEST(BbftpExtension, AlignedPlanStartsSegmentsOnBlocks) {
  auto plan = plan_transfer((10 << 20) + 5, 4, 256, 0);
  align_segments(plan, kIntegrityBlock);
  ASSERT_EQ(plan.segments.size(), 4U);
  EXPECT_EQ(plan.segments[0], (Segment{0, 3 << 20}));
  EXPECT_EQ(plan.segments[1], (Segment{3 << 20, 3 << 20}));
  EXPECT_EQ(plan.segments[2], (Segment{6 << 20, 3 << 20}));
  EXPECT_EQ(plan.segments[3], (Segment{9 << 20, (1 << 20) + 5}));
  // Smaller than the streams' blocks: the streams past the end move nothing.
  auto small = plan_transfer((1 << 20) + (1 << 19), 4, 64, 0);
  align_segments(small, kIntegrityBlock);
  EXPECT_EQ(small.segments[0], (Segment{0, 1 << 20}));
  EXPECT_EQ(small.segments[1], (Segment{1 << 20, 1 << 19}));
  EXPECT_EQ(small.segments[2].length, 0U);
  EXPECT_EQ(small.segments[3].length, 0U);
  std::uint64_t total = 0;
  for (const auto& seg : small.segments) total += seg.length;
  EXPECT_EQ(total, small.size);
}

// A store's data done, the daemon waits for the client's MSG_EXT_SUM, and nothing else.
TEST(BbftpExtension, ServerSessionWaitsForTheSumAfterAStore) {
  ServerConfig c;
  c.extension = true;
  ServerSession s(c);
  s.await_sum();
  EXPECT_EQ(s.state(), ServerState::awaiting_sum);
  auto step = s.on_message(Raw{kMsgExtSum, {0, 1}});
  ASSERT_TRUE(step.request);
  EXPECT_TRUE(std::holds_alternative<SumRequest>(*step.request));
  ServerSession other(c);
  other.await_sum();
  auto wrong = other.on_message(Empty{MsgCode::prot});
  EXPECT_TRUE(wrong.close);
  ASSERT_TRUE(wrong.request);
  EXPECT_TRUE(std::holds_alternative<AbortRequest>(*wrong.request));
}

}  // namespace
}  // namespace ferry::test
