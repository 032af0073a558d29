// The monitor's request set, byte for byte (docs/security.md), and every way a hostile
// pre-login process could bend a frame.
#include <gtest/gtest.h>

#include "proto/monitor/messages.hpp"

namespace ferry::test {
namespace {

using namespace ferry::monitor;

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(std::byte(b));
  return out;
}

TEST(MonitorMessages, CheckLoginGoldenBytes) {
  const auto frame = encode(CheckLogin{"al", "pw!", false});
  EXPECT_EQ(frame, bytes({0, 0, 0, 11, 1, 0, 0, 2, 'a', 'l', 0, 3, 'p', 'w', '!'}));
  const auto undecryptable = encode(CheckLogin{"", "", true});
  EXPECT_EQ(undecryptable, bytes({0, 0, 0, 6, 1, 1, 0, 0, 0, 0}));
}

TEST(MonitorMessages, HandOverAndVerdictGoldenBytes) {
  EXPECT_EQ(encode(HandOver{true, bytes({0xab, 0xcd}), {}}),
            bytes({0, 0, 0, 8, 2, 1, 0, 0, 0, 2, 0xab, 0xcd}));
  EXPECT_EQ(encode(Verdict{Outcome::accepted}), bytes({0, 0, 0, 2, 0x81, 1}));
  EXPECT_EQ(encode(Verdict{Outcome::busy}), bytes({0, 0, 0, 2, 0x81, 3}));
}

TEST(MonitorMessages, RoundTrips) {
  const Request requests[] = {CheckLogin{"alice", "secret", false},
                              CheckLogin{"", "", true},
                              HandOver{false, {}, {}},
                              HandOver{true, bytes({1, 2, 3}), {}},
                              LogLine{0, ""},
                              LogLine{3, "message too long"}};
  for (const auto& r : requests) {
    const auto frame = encode(r);
    auto d = decode_request(frame);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->consumed, frame.size());
    EXPECT_EQ(d->message, r);
  }
  for (auto o : {Outcome::accepted, Outcome::refused, Outcome::busy, Outcome::not_served}) {
    auto d = decode_verdict(encode(Verdict{o}));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->message.outcome, o);
  }
}

TEST(MonitorMessages, PartialFramesNeedMore) {
  const auto frame = encode(CheckLogin{"alice", "secret", false});
  for (std::size_t n = 0; n < frame.size(); ++n) {
    auto d = decode_request(Bytes(frame.data(), n));
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error(), Errc::need_more) << n;
  }
}

TEST(MonitorMessages, TwoFramesDecodeOneAtATime) {
  auto stream = encode(CheckLogin{"a", "b", false});
  const auto second = encode(HandOver{false, bytes({9}), {}});
  stream.insert(stream.end(), second.begin(), second.end());
  auto first = decode_request(stream);
  ASSERT_TRUE(first);
  EXPECT_TRUE(std::holds_alternative<CheckLogin>(first->message));
  auto next = decode_request(Bytes(stream).subspan(first->consumed));
  ASSERT_TRUE(next);
  EXPECT_TRUE(std::holds_alternative<HandOver>(next->message));
}

TEST(MonitorMessages, HostileFramesAreRefused) {
  auto err = [](const std::vector<std::byte>& f) {
    auto d = decode_request(f);
    return d ? std::optional<Errc>() : std::optional<Errc>(d.error());
  };
  // A length beyond the largest frame, before its body is even read.
  EXPECT_EQ(err(bytes({0x7f, 0xff, 0xff, 0xff, 1})), Errc::too_long);
  EXPECT_EQ(err(bytes({0, 0, 0, 0})), Errc::malformed);           // no type
  EXPECT_EQ(err(bytes({0, 0, 0, 1, 0x81})), Errc::unknown_type);  // a verdict is not a request
  EXPECT_EQ(err(bytes({0, 0, 0, 1, 7})), Errc::unknown_type);
  EXPECT_EQ(err(bytes({0, 0, 0, 6, 1, 2, 0, 0, 0, 0})), Errc::malformed);       // unknown flag
  EXPECT_EQ(err(bytes({0, 0, 0, 7, 1, 0, 0, 0, 0, 0, 'x'})), Errc::malformed);  // trailing byte
  EXPECT_EQ(err(bytes({0, 0, 0, 6, 1, 0, 0, 9, 0, 0})), Errc::malformed);       // user runs past
  // A user name longer than any login carries.
  std::vector<std::byte> big = bytes({0, 0, 0x01, 0x06, 1, 0, 0x01, 0x01});
  big.resize(big.size() + 257, std::byte('u'));
  big.push_back(std::byte(0));
  big.push_back(std::byte(0));
  EXPECT_EQ(err(big), Errc::malformed);
  // A hand-over announcing more than it carries, or more than the limit.
  EXPECT_EQ(err(bytes({0, 0, 0, 7, 2, 0, 0, 0, 0, 5, 1})), Errc::malformed);
  EXPECT_EQ(err(bytes({0, 0, 0, 6, 2, 0, 0xff, 0xff, 0xff, 0xff})), Errc::malformed);
}

TEST(MonitorMessages, HostileVerdictsAreRefused) {
  EXPECT_FALSE(decode_verdict(bytes({0, 0, 0, 2, 0x81, 0})));
  EXPECT_FALSE(decode_verdict(bytes({0, 0, 0, 2, 0x81, 5})));
  EXPECT_FALSE(decode_verdict(bytes({0, 0, 0, 3, 0x81, 1, 1})));
  EXPECT_FALSE(decode_verdict(encode(CheckLogin{"a", "b", false})));
}

TEST(MonitorMessages, EncoderRefusesWhatTheDecoderWouldRefuse) {
  EXPECT_TRUE(encode(CheckLogin{std::string(kMaxUser + 1, 'u'), "p", false}).empty());
  EXPECT_TRUE(encode(CheckLogin{"u", std::string(kMaxPassword + 1, 'p'), false}).empty());
  EXPECT_TRUE(encode(HandOver{false, std::vector<std::byte>(kMaxPending + 1), {}}).empty());
  EXPECT_TRUE(encode(LogLine{1, std::string(kMaxLogText + 1, 'x')}).empty());
  EXPECT_TRUE(encode(LogLine{4, "x"}).empty());
  EXPECT_FALSE(encode(HandOver{false, std::vector<std::byte>(kMaxPending), {}}).empty());
}

TEST(MonitorMessages, SignAndSignedGoldenBytes) {
  Sign sign;
  sign.features = 0x04;
  sign.share.fill(0x11);
  sign.modulus_mpi = {0xaa, 0xbb};
  sign.exponent_mpi = {0x01};
  auto want = bytes({0, 0, 0, 4 + 1 + 32 + 2 + 2 + 2 + 1 + 1 - 1, 4, 0, 0, 0, 4});
  for (int i = 0; i < 32; ++i) want.push_back(std::byte(0x11));
  for (int b : {0, 2, 0xaa, 0xbb, 0, 1, 1}) want.push_back(std::byte(b));
  EXPECT_EQ(encode(sign), want);
  auto d = decode_request(want);
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<Sign>(d->message), sign);
  // An MPI beyond the limit is refused both ways; a frame cut short is malformed.
  Sign big = sign;
  big.modulus_mpi.assign(kMaxMpi + 1, 1);
  EXPECT_TRUE(encode(big).empty());
  auto cut = want;
  cut.pop_back();
  cut[3] = std::byte(std::to_integer<int>(cut[3]) - 1);
  EXPECT_EQ(decode_request(cut).error(), Errc::malformed);

  Signed answer;
  answer.nonce.fill(1);
  answer.host_key.fill(2);
  answer.signature.fill(3);
  const auto frame = encode(answer);
  ASSERT_EQ(frame.size(), 4U + 1 + 32 + 32 + 64);
  EXPECT_EQ(frame[4], std::byte(0x82));
  auto s = decode_signed(frame);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->message, answer);
  EXPECT_FALSE(decode_signed(encode(Verdict{Outcome::accepted})));
  EXPECT_FALSE(decode_verdict(frame));
}

TEST(MonitorMessages, HandOverCarriesTheSealedChannel) {
  Channel c;
  c.features = 4;
  c.c2s_key.fill(1);
  c.c2s_iv.fill(2);
  c.c2s_next = 1;
  c.s2c_key.fill(3);
  c.s2c_iv.fill(4);
  c.s2c_next = 0x0102030405060708ULL;
  c.data_key.fill(5);
  const HandOver h{false, bytes({7, 8}), c};
  const auto frame = encode(h);
  EXPECT_EQ(frame.size(), 4U + 1 + 1 + 4 + 2 + kChannelSize);
  EXPECT_EQ(frame[5], std::byte(2));  // the channel's flag
  auto d = decode_request(frame);
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<HandOver>(d->message), h);
  // The flag without the channel's bytes, or with one byte missing.
  auto cut = frame;
  cut.pop_back();
  cut[3] = std::byte(std::to_integer<int>(cut[3]) - 1);
  EXPECT_EQ(decode_request(cut).error(), Errc::malformed);
  EXPECT_EQ(decode_request(bytes({0, 0, 0, 6, 2, 4, 0, 0, 0, 0})).error(), Errc::malformed);
}

TEST(MonitorMessages, LogLineGoldenBytesAndLimits) {
  EXPECT_EQ(encode(LogLine{2, "hi"}), bytes({0, 0, 0, 6, 3, 2, 0, 2, 'h', 'i'}));
  auto d = decode_request(bytes({0, 0, 0, 6, 3, 2, 0, 2, 'h', 'i'}));
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<LogLine>(d->message), (LogLine{2, "hi"}));
  EXPECT_FALSE(decode_request(bytes({0, 0, 0, 6, 3, 4, 0, 2, 'h', 'i'})));  // no such level
  EXPECT_FALSE(decode_request(bytes({0, 0, 0, 6, 3, 2, 0, 3, 'h', 'i'})));  // runs past
}

}  // namespace
}  // namespace ferry::test
