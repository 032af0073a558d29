// The bbftp extension's announcement and login messages: a golden vector whose signature was
// computed independently (Python's cryptography, RFC 8032's test key), and refusals.
#include <gtest/gtest.h>

#include "crypto/host_key.hpp"
#include "proto/bbftp/extension.hpp"
#include "proto/bbftp/replies.hpp"
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

// With checksums, streams move whole integrity blocks: every block sum covers one stream's
// bytes. A fresh transfer deals them out in runs, the first streams one more.
TEST(BbftpExtension, PlanDealsWholeBlocksToTheStreams) {
  auto plan = plan_transfer((10 << 20) + 5, 4, 256, 0);
  plan_blocks(plan, kIntegrityBlock);
  ASSERT_EQ(plan.blocks.size(), 4U);
  EXPECT_EQ(plan.integrity_block, kIntegrityBlock);
  EXPECT_EQ(plan.blocks[0], (std::vector<std::uint64_t>{0, 1, 2}));
  EXPECT_EQ(plan.blocks[1], (std::vector<std::uint64_t>{3, 4, 5}));
  EXPECT_EQ(plan.blocks[2], (std::vector<std::uint64_t>{6, 7, 8}));
  EXPECT_EQ(plan.blocks[3], (std::vector<std::uint64_t>{9, 10}));
  EXPECT_EQ(plan.planned_bytes(), plan.size);
  // Smaller than the streams' blocks: the streams past the end move nothing.
  auto small = plan_transfer((1 << 20) + (1 << 19), 4, 64, 0);
  plan_blocks(small, kIntegrityBlock);
  EXPECT_EQ(small.blocks[0], (std::vector<std::uint64_t>{0}));
  EXPECT_EQ(small.blocks[1], (std::vector<std::uint64_t>{1}));
  EXPECT_TRUE(small.blocks[2].empty());
  EXPECT_TRUE(small.blocks[3].empty());
  EXPECT_EQ(small.planned_bytes(), small.size);
}

// A resumed transfer moves only the blocks not present, still in runs over every stream.
TEST(BbftpExtension, ResumedPlanSkipsThePresentRanges) {
  auto plan = plan_transfer((10 << 20) + 5, 2, 256, 0);
  plan_blocks(plan, kIntegrityBlock, {{0, 2 << 20}, {5 << 20, 3 << 20}});
  EXPECT_EQ(plan.blocks[0], (std::vector<std::uint64_t>{2, 3, 4}));
  EXPECT_EQ(plan.blocks[1], (std::vector<std::uint64_t>{8, 9, 10}));
  EXPECT_EQ(plan.planned_bytes(), (5ULL << 20) + 5);
  auto all = plan_transfer(3 << 20, 2, 256, 0);
  plan_blocks(all, kIntegrityBlock, {{0, 3 << 20}});
  EXPECT_TRUE(all.blocks[0].empty() && all.blocks[1].empty());
  EXPECT_EQ(all.planned_bytes(), 0U);
}

TEST(BbftpExtension, IntegrityBlockGrowsSoAFileHasAtMost64KiBlocks) {
  EXPECT_EQ(integrity_block(0), 1U << 20);
  EXPECT_EQ(integrity_block((64ULL << 30) - 1), 1U << 20);
  EXPECT_EQ(integrity_block(64ULL << 30), 2U << 20);
  EXPECT_EQ(integrity_block(1ULL << 62), 64U << 20);
}

// MSG_EXT_RESUME: size, count, ranges of whole blocks with their XXH3-64. Golden bytes.
TEST(BbftpExtension, ResumeGoldenVectorAndRefusals) {
  const ExtResume r{
      (3 << 20) + 7,
      {{0, 1 << 20, 0x0102030405060708ULL}, {2 << 20, (3 << 20) + 7, 0xA0A1A2A3A4A5A6A7ULL}}};
  const std::vector<std::uint8_t> golden = {
      0,    0,    0,    0,    0,    0x30, 0,    7,                               // size
      0,    0,    0,    2,                                                       // count
      0,    0,    0,    0,    0,    0,    0,    0,   0, 0, 0, 0, 0, 0x10, 0, 0,  // [0, 1 MiB)
      1,    2,    3,    4,    5,    6,    7,    8,                               //
      0,    0,    0,    0,    0,    0x20, 0,    0,   0, 0, 0, 0, 0, 0x30, 0, 7,  // [2 MiB, size)
      0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7};
  EXPECT_EQ(encode(r), golden);
  ASSERT_TRUE(decode_ext_resume(golden));
  EXPECT_EQ(*decode_ext_resume(golden), r);
  EXPECT_EQ(r.bytes(), (2ULL << 20) + 7);
  for (std::size_t cut = 0; cut < golden.size(); ++cut) {
    EXPECT_FALSE(decode_ext_resume({golden.data(), cut})) << cut;
  }
  auto unaligned = r;
  unaligned.ranges[1].first += 1;
  EXPECT_FALSE(decode_ext_resume(encode(unaligned)));
  auto past_end = r;
  past_end.ranges[1].last += 1;
  EXPECT_FALSE(decode_ext_resume(encode(past_end)));
  auto overlapping = r;
  overlapping.ranges[1].first = 0;
  EXPECT_FALSE(decode_ext_resume(encode(overlapping)));
  auto empty_range = r;
  empty_range.ranges[0].last = 0;
  EXPECT_FALSE(decode_ext_resume(encode(empty_range)));
  ExtResume too_many{32ULL << 30, {}};
  for (std::uint64_t i = 0; i <= kMaxResumeRanges; ++i) {
    too_many.ranges.push_back({2 * i << 20, (2 * i + 1) << 20, i});
  }
  EXPECT_FALSE(decode_ext_resume(encode(too_many)));
  too_many.ranges.pop_back();
  EXPECT_TRUE(decode_ext_resume(encode(too_many)));
}

// The sender may answer only ranges it was offered, exactly as offered.
TEST(BbftpExtension, AnAnswerTakesOnlyOfferedRanges) {
  const ExtResume offer{8 << 20, {{0, 1 << 20, 1}, {2 << 20, 4 << 20, 2}, {5 << 20, 6 << 20, 3}}};
  EXPECT_TRUE(answers(ExtResume{8 << 20, {}}, offer));
  EXPECT_TRUE(answers(ExtResume{8 << 20, {offer.ranges[0], offer.ranges[2]}}, offer));
  EXPECT_TRUE(answers(offer, offer));
  EXPECT_FALSE(answers(ExtResume{8 << 20, {{2 << 20, 4 << 20, 9}}}, offer));  // another sum
  EXPECT_FALSE(answers(ExtResume{8 << 20, {{2 << 20, 3 << 20, 2}}}, offer));  // a piece of one
  EXPECT_FALSE(answers(ExtResume{8 << 20, {offer.ranges[2], offer.ranges[0]}}, offer));
  EXPECT_FALSE(answers(ExtResume{8 << 20, {offer.ranges[0], offer.ranges[0]}}, offer));
  EXPECT_TRUE(answers(ExtResume{9 << 20, {}}, offer));  // another size: nothing answered
  EXPECT_FALSE(answers(ExtResume{9 << 20, {offer.ranges[0]}}, offer));
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

// MSG_EXT_RESUME goes with the transfer request right after it: a store's wish (the host
// offers before TRANS_OK, the client answers before TRANS_START), a retrieve's offer. Anything
// else in between drops it; an answer nobody asked for breaks the protocol.
TEST(BbftpExtension, ServerSessionCarriesResumeWithTheTransfer) {
  ServerConfig c;
  c.extension = true;
  ServerSession s(c);
  ASSERT_TRUE(s.on_message(Login{}).request);
  s.login_result(true);
  s.on_message(Empty{MsgCode::prot});
  s.on_message(ProtChoice{3});
  ASSERT_EQ(s.state(), ServerState::logged);
  EXPECT_TRUE(s.on_message(Raw{kMsgExtResume, {}}).replies.empty());
  TransferParams p;
  p.filesize = 5 << 20;
  p.nbstream = 2;
  s.on_message(Transfer{MsgCode::store_v2, p});
  auto step = s.on_message(Text{MsgCode::filename, "f"});
  ASSERT_TRUE(step.request);
  const auto& store = std::get<TransferRequest>(*step.request);
  ASSERT_TRUE(store.resume);
  EXPECT_TRUE(store.resume->empty());
  const ExtResume offer{5 << 20, {{0, 1 << 20, 7}}};
  auto ok = s.accept_transfer(p, {1000, 1001}, Message(Raw{kMsgExtResume, encode(offer)}));
  ASSERT_EQ(ok.replies.size(), 2U);
  EXPECT_EQ(std::get<Raw>(ok.replies[0]).code, kMsgExtResume);
  EXPECT_TRUE(std::holds_alternative<TransOkV3>(ok.replies[1]));
  auto answer = s.on_message(Raw{kMsgExtResume, encode(offer)});
  ASSERT_TRUE(answer.request);
  EXPECT_EQ(std::get<ResumeAnswerRequest>(*answer.request).payload, encode(offer));
  EXPECT_EQ(s.state(), ServerState::awaiting_start);
  auto second = s.on_message(Raw{kMsgExtResume, encode(offer)});  // one answer only
  EXPECT_TRUE(second.close);
  EXPECT_EQ(s.state(), ServerState::closed);

  // A wish followed by another command is forgotten: the next transfer does not resume.
  ServerSession t(c);
  t.on_message(Login{});
  t.login_result(true);
  t.on_message(Empty{MsgCode::prot});
  t.on_message(ProtChoice{3});
  t.on_message(Raw{kMsgExtResume, encode(offer)});
  t.on_message(DirCommand{MsgCode::chdir_v2, 0, "x"});
  t.reply(replies::ok("x"));
  t.on_message(Transfer{MsgCode::retr_v2, p});
  auto retr = t.on_message(Text{MsgCode::filename, "f"});
  ASSERT_TRUE(retr.request);
  EXPECT_FALSE(std::get<TransferRequest>(*retr.request).resume);
  // Without an offer out, MSG_EXT_RESUME before TRANS_START breaks the protocol.
  t.accept_transfer(p, {1000, 1001});
  EXPECT_TRUE(t.on_message(Raw{kMsgExtResume, encode(offer)}).close);
}

}  // namespace
}  // namespace ferry::test
