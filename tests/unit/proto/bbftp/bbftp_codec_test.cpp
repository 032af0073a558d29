// bbftp codec: framing quirks, truncation, malformed input, round trips, and the golden login.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <memory>

#include "proto/bbftp/codec.hpp"
#include "support/transcript.hpp"

namespace ferry::test {
namespace {

using namespace bbftp;

Bytes view(const std::vector<std::byte>& v) {
  return {v.data(), v.size()};
}

TransferParams sample_params(std::int32_t streams, std::int64_t size = 1500000) {
  TransferParams p;
  p.filesize = size;
  p.transferoption = tropt::kClientDefault | tropt::kGzip;
  p.filemode = 0644;
  p.lastaccess = {'6', 'b', '0', '4', '1', 'f', '1', '5'};
  p.lastmodif = p.lastaccess;
  p.buffersize = 128;
  p.nbstream = streams;
  return p;
}

std::vector<std::pair<Message, Direction>> samples() {
  StoreV1 v1;
  v1.code = MsgCode::store_c;
  v1.set_filename("f_gz");
  v1.filesize = 1000000;
  v1.nbport = 3;
  v1.ports = {55401, 55402, 55403};
  return {
      {Text{MsgCode::ok, "bbftpd version 3.3.0-11 : OK"}, Direction::to_client},
      {Text{MsgCode::bad_no_retry, ""}, Direction::to_client},
      {Empty{MsgCode::prot}, Direction::to_server},
      {CryptKey{{2, 5, 7}, {0, 0, 0, 1, 0x7f}, {0, 0, 0, 3, 1, 0, 1}, {}}, Direction::to_client},
      {Login{}, Direction::to_server},
      {ProtRange{1, 3}, Direction::to_client},
      {ProtChoice{2}, Direction::to_server},
      {Transfer{MsgCode::store_v2, sample_params(4)}, Direction::to_server},
      {TransOkV3{sample_params(4), {43513, 39423, 36423, 40731}}, Direction::to_client},
      {TransOkV3{sample_params(2, 0), {}}, Direction::to_client},
      {PortList{MsgCode::trans_start_v2, {40000, 40001}}, Direction::to_server},
      {DirCommand{MsgCode::chdir_v2, tropt::kClientDefault, "some dir/with space"},
       Direction::to_server},
      {IntCommand{MsgCode::chumask, 022}, Direction::to_server},
      {ListReplyV2{{{"./.", ' ', 'd'}, {"./link", 'l', 'u'}}}, Direction::to_client},
      {ListReplyV2{}, Direction::to_client},
      {ListReplyV1{{"f_gz", "f_raw"}}, Direction::to_client},
      {RetrOk{1000000}, Direction::to_client},
      {Raw{0x77, {1, 2, 3}}, Direction::to_server},
      {v1, Direction::to_server},
  };
}

TEST(BbftpCodec, EveryMessageRoundTrips) {
  for (const auto& [msg, dir] : samples()) {
    const auto bytes = encode(msg);
    const Context ctx{dir, std::holds_alternative<StoreV1>(msg) ? 1 : 3};
    auto d = decode_next(view(bytes), ctx);
    ASSERT_TRUE(d) << name_of(static_cast<MsgCode>(code_of(msg))) << ": " << to_string(d.error());
    EXPECT_EQ(d->consumed, bytes.size());
    EXPECT_TRUE(d->message == msg) << name_of(static_cast<MsgCode>(code_of(msg)));
  }
}

TEST(BbftpCodec, EveryTruncationAsksForMoreAndConsumesNothing) {
  for (const auto& [msg, dir] : samples()) {
    const auto bytes = encode(msg);
    const Context ctx{dir, std::holds_alternative<StoreV1>(msg) ? 1 : 3};
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      auto d = decode_next(view(bytes).first(n), ctx);
      ASSERT_FALSE(d) << name_of(static_cast<MsgCode>(code_of(msg))) << " n=" << n;
      EXPECT_EQ(d.error(), Errc::need_more);
    }
  }
}

TEST(BbftpCodec, CoalescedMessagesSplitCleanly) {
  std::vector<std::byte> stream;
  encode_to(Transfer{MsgCode::retr_v2, sample_params(2)}, stream);
  encode_to(Text{MsgCode::filename, "mix"}, stream);
  encode_to(TransStartV3{MsgCode::trans_start_v3, 8}, stream);
  encode_to(Empty{MsgCode::close_conn}, stream);
  Bytes rest = view(stream);
  std::vector<std::uint32_t> codes;
  while (!rest.empty()) {
    auto d = decode_next(rest, {Direction::to_server, 3});
    ASSERT_TRUE(d);
    codes.push_back(code_of(d->message));
    rest = rest.subspan(d->consumed);
  }
  EXPECT_EQ(codes, (std::vector<std::uint32_t>{0x1A, 0x1F, 0x2B, 0x28}));
}

TEST(BbftpCodec, TransStartV3DeclaresALengthButCarriesNothing) {
  const auto bytes = encode(TransStartV3{MsgCode::trans_start_v3, 16});
  ASSERT_EQ(bytes.size(), kHeaderSize);
  auto d = decode_next(view(bytes), {Direction::to_server, 3});
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<TransStartV3>(d->message).declared_length, 16u);
}

TEST(BbftpCodec, ProtocolOneFramingIgnoresMsglen) {
  StoreV1 s;
  s.code = MsgCode::retr;
  s.set_filename("f_raw");
  s.nbport = 1;
  auto bytes = encode(s);
  store_be32(std::span(bytes).subspan<4, 4>(), 3);  // a lying msglen
  auto d = decode_next(view(bytes), {Direction::to_server, 1});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->consumed, kHeaderSize + kStoreV1Size);
  auto start = encode(Empty{MsgCode::retr_start});
  store_be32(std::span(start).subspan<4, 4>(), 99);
  auto r = decode_next(view(start), {Direction::to_server, 1});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed, kHeaderSize);
}

TEST(BbftpCodec, MalformedAndHostileInputIsRefused) {
  // A declared length past the limit.
  std::vector<std::byte> huge(kHeaderSize);
  encode_header({0x1F, 2u << 20}, std::span(huge).first<kHeaderSize>());
  EXPECT_EQ(decode_next(view(huge), {Direction::to_server, 3}).error(), Errc::too_long);
  // MSG_LOG of the wrong size.
  auto login = encode(Text{MsgCode::log, std::string(100, 'x')});
  EXPECT_EQ(decode_next(view(login), {Direction::to_server, 3}).error(), Errc::malformed);
  // STORE_V2 of the wrong size.
  auto store = encode(Text{MsgCode::store_v2, std::string(47, 'x')});
  EXPECT_EQ(decode_next(view(store), {Direction::to_server, 3}).error(), Errc::malformed);
  // TRANS_OK_V3 claiming zero streams, or a msglen other than 48.
  auto ok = encode(TransOkV3{sample_params(0, 10), {}});
  EXPECT_EQ(decode_next(view(ok), {Direction::to_client, 3}).error(), Errc::malformed);
  auto ok2 = encode(TransOkV3{sample_params(1), {1}});
  store_be32(std::span(ok2).subspan<4, 4>(), 52);
  EXPECT_EQ(decode_next(view(ok2), {Direction::to_client, 3}).error(), Errc::malformed);
  // A protocol-1 filename without its NUL would overflow the real daemon.
  StoreV1 s;
  s.code = MsgCode::store;
  auto v1 = encode(s);
  std::fill(v1.begin() + kHeaderSize, v1.begin() + kHeaderSize + 500, std::byte{'a'});
  EXPECT_EQ(decode_next(view(v1), {Direction::to_server, 1}).error(), Errc::malformed);
  // A listing entry cut short.
  auto list = encode(Text{MsgCode::list_repl_v2, std::string("./x\0 ", 5)});
  EXPECT_EQ(decode_next(view(list), {Direction::to_client, 3}).error(), Errc::malformed);
  // MSG_CRYPT whose MPI lengths do not add up.
  auto crypt = encode(CryptKey{{2, 100, 7}, {1, 2}, {3}, {}});
  EXPECT_EQ(decode_next(view(crypt), {Direction::to_client, 3}).error(), Errc::malformed);
}

TEST(BbftpCodec, BytesAfterTheKeyInMsgCryptAreKept) {
  // The real client reads msglen bytes and parses only the key: what follows is ours to use.
  const CryptKey k{{2, 5, 7}, {0, 0, 0, 1, 0x7f}, {0, 0, 0, 3, 1, 0, 1}, {'F', 'E', 'R', 'R', 'Y'}};
  const auto bytes = encode(k);
  EXPECT_EQ(bytes.size(), kHeaderSize + 12 + 5 + 7 + 5);
  auto d = decode_next(view(bytes), {Direction::to_client, 3});
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<CryptKey>(d->message), k);
}

TEST(BbftpCodec, UnknownCodesKeepTheirPayload) {
  auto bytes = encode(Raw{0x99, {9, 8, 7}});
  auto d = decode_next(view(bytes), {Direction::to_server, 3});
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<Raw>(d->message).payload, (std::vector<std::uint8_t>{9, 8, 7}));
  EXPECT_STREQ(name_of(static_cast<MsgCode>(0x99)), "MSG_?");
}

TEST(BbftpCodec, TimeFieldsAreEightHexDigits) {
  const auto f = encode_time(0x6b041ee2);
  EXPECT_EQ(std::string(f.data(), 8), "6b041ee2");  // session 1's lastmodif
  EXPECT_EQ(decode_time(f), 0x6b041ee2);
  EXPECT_EQ(std::string(encode_time(5).data(), 8), "00000005");
  EXPECT_EQ(decode_time(std::array<char, 8>{}), -1) << "RETR_V2 sends zeros";
}

TEST(BbftpCodec, BlockHeader) {
  std::byte b[8];
  encode_block_header({kDataCompressed, 1234}, b);
  const auto h = decode_block_header(b);
  EXPECT_EQ(h.code, kDataCompressed);
  EXPECT_EQ(h.datalen, 1234u);
}

// Session 4 was captured with a daemon that dumped its per-connection key: the login decrypts.
std::string oaep_decrypt(EVP_PKEY* key, const std::uint8_t* data, std::size_t len) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key, nullptr),
                                                                  EVP_PKEY_CTX_free);
  EXPECT_EQ(EVP_PKEY_decrypt_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING), 1);
  std::size_t out_len = 0;
  EXPECT_EQ(EVP_PKEY_decrypt(ctx.get(), nullptr, &out_len, data, len), 1);
  std::string out(out_len, '\0');
  EXPECT_EQ(EVP_PKEY_decrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &out_len,
                             data, len),
            1);
  out.resize(out_len);
  return out;
}

TEST(BbftpGoldenLogin, Session4DecryptsWithItsPublishedKey) {
  const auto conn = read_transcript(golden_path("bbftp/session4-login-with-key.txt")).at(0);
  const auto c2s = conn.stream(true);
  const auto s2c = conn.stream(false);
  auto crypt = decode_next({reinterpret_cast<const std::byte*>(s2c.data()), s2c.size()},
                           {Direction::to_client, 3});
  auto login = decode_next({reinterpret_cast<const std::byte*>(c2s.data()), c2s.size()},
                           {Direction::to_server, 3});
  ASSERT_TRUE(crypt && login);
  const auto& key_msg = std::get<CryptKey>(crypt->message);
  const auto& l = std::get<Login>(login->message);

  std::FILE* f = std::fopen(golden_path("bbftp/session4-server-key.pem").c_str(), "r");
  ASSERT_NE(f, nullptr);
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_NE(key, nullptr);
  // The modulus announced in MSG_CRYPT is the key's.
  BIGNUM* n = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(key, "n", &n), 1);
  std::vector<std::uint8_t> mpi(static_cast<std::size_t>(BN_bn2mpi(n, nullptr)));
  BN_bn2mpi(n, mpi.data());
  BN_free(n);
  EXPECT_EQ(mpi, key_msg.modulus_mpi);

  EXPECT_EQ(l.numuser, 128);
  EXPECT_EQ(oaep_decrypt(key, l.user.data(), l.user.size()), "bbtest");
  EXPECT_EQ(oaep_decrypt(key, l.pass.data(), l.pass.size()), "bbtest-pw-123");
  EVP_PKEY_free(key);
}

}  // namespace
}  // namespace ferry::test
