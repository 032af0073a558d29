// The extended-mode transfer cores on the simulated network: byte-identical delivery at 0, 1, 5
// and 20% loss with reordering and duplication (a small sweep; bench/xftp_simulation runs the
// full one), resume, a vanished receiver, corrupt partial data, and an ACK no one could send.
#include "sim/transfer_sim.hpp"

#include <gtest/gtest.h>

namespace ferry::test {
namespace {

using sim::simulate_transfer;
using sim::TransferSimConfig;
using xftp::ext::EndStatus;

TransferSimConfig lossy(double loss, std::uint64_t seed, std::uint64_t size = 4 << 20) {
  TransferSimConfig c;
  c.forward = sim::gigabit_50ms(loss);
  c.backward = sim::gigabit_50ms(loss);
  c.size = size;
  c.seed = seed;
  return c;
}

class XftpTransferSim : public ::testing::TestWithParam<double> {};

TEST_P(XftpTransferSim, ArrivesWholeForEverySeed) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto r = simulate_transfer(lossy(GetParam(), seed));
    EXPECT_TRUE(r.identical) << "seed " << seed << ": " << r.summary();
    EXPECT_EQ(r.sender_outcome, EndStatus::in_place) << "seed " << seed << ": " << r.summary();
    EXPECT_EQ(r.receiver_outcome, EndStatus::in_place) << "seed " << seed << ": " << r.summary();
    EXPECT_EQ(r.decode_errors, 0u);
  }
}

TEST(XftpTransferSimCases, NothingIsSentTwiceOnAPerfectLink) {
  auto c = lossy(0, 2);
  c.forward.reorder = c.backward.reorder = 0;
  c.forward.duplicate = c.backward.duplicate = 0;
  const auto r = simulate_transfer(c);
  EXPECT_TRUE(r.identical) << r.summary();
  EXPECT_EQ(r.sender_outcome, EndStatus::in_place) << r.summary();
  EXPECT_EQ(r.sender.retransmitted, 0u) << r.summary();
  EXPECT_EQ(r.receiver.duplicates, 0u) << r.summary();
}

INSTANTIATE_TEST_SUITE_P(Loss, XftpTransferSim, ::testing::Values(0.0, 0.01, 0.05, 0.20),
                         [](const ::testing::TestParamInfo<double>& p) {
                           return "percent_" + std::to_string(static_cast<int>(p.param * 100));
                         });

TEST(XftpTransferSimCases, AnEmptyFileEndsAtOnce) {
  const auto r = simulate_transfer(lossy(0.05, 3, 0));
  EXPECT_TRUE(r.identical);
  EXPECT_EQ(r.sender_outcome, EndStatus::in_place) << r.summary();
}

TEST(XftpTransferSimCases, AResumedTransferSendsOnlyWhatIsMissing) {
  auto c = lossy(0, 4, 1 << 20);
  c.present.add(0, 600'000);
  c.present.add(700'000, 900'000);
  const auto r = simulate_transfer(c);
  EXPECT_TRUE(r.identical) << r.summary();
  EXPECT_EQ(r.sender_outcome, EndStatus::in_place);
  const std::uint64_t missing = (1 << 20) - 800'000;
  const std::uint64_t per = c.sender.payload_bytes;
  EXPECT_LE(r.sender.datagrams, missing / per + 4) << r.summary();  // + END and the cut ends
}

TEST(XftpTransferSimCases, AResumeFromPastTheInitialCreditStillStarts) {
  // The first credit counts from the first byte the receiver lacks, not from 0: a resume that
  // holds more than 16 MiB must not wait for an ACK that only its DATA could bring.
  // Without loss nothing needs a probe: a sender stuck behind the credit would need one.
  auto c = lossy(0, 7, 24 << 20);
  c.present.add(0, 20 << 20);
  const auto r = simulate_transfer(c);
  EXPECT_TRUE(r.identical) << r.summary();
  EXPECT_EQ(r.sender_outcome, EndStatus::in_place) << r.summary();
  EXPECT_EQ(r.sender.probes, 0u) << r.summary();
}

TEST(XftpTransferSimCases, CorruptPartialDataIsCaughtByTheChecksum) {
  auto c = lossy(0.01, 5, 1 << 20);
  c.present.add(0, 500'000);
  c.corrupt_present = true;  // what the receiver believed it had is wrong
  const auto r = simulate_transfer(c);
  EXPECT_FALSE(r.identical);
  EXPECT_EQ(r.receiver_outcome, EndStatus::checksum_mismatch) << r.summary();
  EXPECT_EQ(r.sender_outcome, EndStatus::checksum_mismatch) << "never in place";
}

TEST(XftpTransferSimCases, AReceiverThatVanishesEndsTheSenderByItsIdleTimeout) {
  auto c = lossy(0, 6, 4 << 20);
  c.forward.loss = 1.0;  // nothing arrives
  c.sender.idle_timeout = std::chrono::seconds(5);
  const auto r = simulate_transfer(c);
  EXPECT_EQ(r.sender_outcome, EndStatus::failed) << r.summary();
  EXPECT_GT(r.sender.probes, 0u);
  EXPECT_LT(r.elapsed, std::chrono::seconds(10));
}

// Direct: an ACK for transmissions never sent is not taken (a blind injector's guess).
TEST(XftpTransferCores, AnAckOfWhatWasNeverSentIsIgnored) {
  xftp::SenderConfig sc;
  xftp::TransferSender s(sc, 10'000, {});
  const xftp::Time t0{};
  ASSERT_TRUE(s.next(t0));  // seq 0 sent
  xftp::ext::Ack forged{0, 500, 0, 1 << 30, 10'000, {{0, 501}}};
  s.on_ack(forged, t0 + std::chrono::milliseconds(1));
  EXPECT_EQ(s.stats().bad_acks, 1u);
  EXPECT_EQ(s.acked_bytes(), 0u) << "the contiguous offset of a bad ACK is not believed either";
}

TEST(XftpTransferCores, AProbeSkipsTransmissionsWhoseBytesArrivedAnotherWay) {
  // Seen in the e2e policed namespace: the oldest transmission in flight was a copy of bytes
  // that had arrived meanwhile, and the one lost was newer. A probe of the oldest sent nothing,
  // probes backed off and the transfer died of its idle timeout with bytes still to send.
  xftp::SenderConfig sc;
  const std::uint64_t chunk = sc.payload_bytes;
  sc.initial_credit = 2 * chunk;  // A and B may go, C waits for credit
  xftp::TransferSender s(sc, 3 * chunk, {});
  xftp::Time t = std::chrono::seconds(1);
  auto data = [&] {
    auto out = s.next(t);
    EXPECT_TRUE(out && std::holds_alternative<xftp::SendData>(*out));
    return out ? std::get<xftp::SendData>(*out) : xftp::SendData{};
  };
  EXPECT_EQ(data().offset, 0u);     // seq 0: A
  EXPECT_EQ(data().offset, chunk);  // seq 1: B
  EXPECT_FALSE(s.next(t));          // C: beyond the credit
  t += std::chrono::seconds(1);     // no ACK: a probe
  ASSERT_TRUE(s.deadline() && *s.deadline() <= t);
  s.on_timeout(t);
  const auto probe = data();  // seq 2: A again
  EXPECT_EQ(probe.seq, 2u);
  EXPECT_EQ(probe.offset, 0u);
  // B's ACK says A and B are in place (A's first copy arrived) and grants C.
  s.on_ack({0, 1, 0, 3 * chunk, 2 * chunk, {{1, 2}}}, t);
  const auto c = data();  // seq 3: C, then lost
  EXPECT_EQ(c.offset, 2 * chunk);
  EXPECT_FALSE(s.next(t));
  for (int i = 0; i < 3; ++i) {  // every probe from here carries C, not the arrived A
    t = *s.deadline();
    s.on_timeout(t);
    const auto again = data();
    EXPECT_EQ(again.offset, 2 * chunk) << "probe " << i;
  }
}

TEST(XftpTransferCores, AReceiverThatHearsNothingGivesUp) {
  xftp::ReceiverConfig rc;
  rc.idle_timeout = std::chrono::seconds(5);
  xftp::TransferReceiver r(rc, 1000);
  const xftp::Time t0 = std::chrono::seconds(100);
  r.begin(t0);
  ASSERT_TRUE(r.deadline());
  EXPECT_EQ(*r.deadline(), t0 + std::chrono::seconds(5));
  r.on_timeout(t0 + std::chrono::seconds(5));
  EXPECT_TRUE(r.timed_out());
}

TEST(XftpTransferCores, TinyFragmentsAreRefusedButTheFilesEnd) {
  const std::uint64_t size = 1 << 20;
  xftp::TransferReceiver r(xftp::ReceiverConfig{}, size);
  const xftp::Time t0{};
  EXPECT_FALSE(r.on_data({0, 0, 100, std::vector<std::uint8_t>(1, 1)}, t0));
  EXPECT_EQ(r.stats().beyond_credit, 1u);
  EXPECT_TRUE(r.on_data({0, 1, 0, std::vector<std::uint8_t>(xftp::kMinDataPayload, 1)}, t0));
  EXPECT_TRUE(r.on_data({0, 2, size - 10, std::vector<std::uint8_t>(10, 1)}, t0));
  EXPECT_EQ(r.present().count(), xftp::kMinDataPayload + 10);
}

TEST(XftpTransferCores, BytesInPlaceAreNeverWrittenAgain) {
  // A datagram overlapping bytes already there (a spoofed one, or one of a file that changed)
  // may only fill what is missing: the receiver may have hashed the rest already.
  const std::uint64_t size = 1 << 20;
  xftp::RangeSet present;
  present.add(4096, 8192);  // held from an earlier attempt
  xftp::TransferReceiver r(xftp::ReceiverConfig{}, size, present);
  const xftp::Time t0{};
  auto w = r.on_data({0, 0, 3000, std::vector<std::uint8_t>(6000, 7)}, t0);
  ASSERT_TRUE(w);
  ASSERT_EQ(w->parts.size(), 2u);
  EXPECT_EQ(w->parts[0], (xftp::Range{3000, 4096}));
  EXPECT_EQ(w->parts[1], (xftp::Range{8192, 9000}));
  auto again = r.on_data({0, 1, 2000, std::vector<std::uint8_t>(2000, 9)}, t0);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->parts.size(), 1u);
  EXPECT_EQ(again->parts[0], (xftp::Range{2000, 3000}));
  EXPECT_FALSE(r.on_data({0, 2, 2500, std::vector<std::uint8_t>(600, 9)}, t0));  // all there
  EXPECT_EQ(r.stats().duplicates, 1u);
  EXPECT_EQ(r.present().count(), 9000u - 2000u);
}

}  // namespace
}  // namespace ferry::test
