// The bbftp extension's login (docs/protocol/bbftp-extended.md, sections 2-4) over a socket
// pair: our client against the daemon's two halves, and against a scripted daemon that keeps
// the connection's RSA private key and reads what the client sends: the credentials are sealed
// to the X25519 exchange (the RSA key alone opens nothing), and a bad signature or a refused
// identity stops the client before it sends a byte.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>

#include "crypto/bbftp_keys.hpp"
#include "crypto/host_key.hpp"
#include "crypto/rsa.hpp"
#include "io/socket.hpp"
#include "proto/bbftp/codec.hpp"
#include "proto/bbftp/extension.hpp"
#include "session/bbftp/client.hpp"
#include "session/bbftp/server.hpp"
#include "storage/sandbox.hpp"
#include "support/temp_dir.hpp"

namespace ferry::test {
namespace {

using session::BbftpClient;
using session::LoginOutcome;
namespace ext = bbftp::ext;

constexpr std::string_view kPassword = "a-password-nobody-else-knows";

struct Pair {
  UniqueFd client, daemon;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client = UniqueFd(fds[0]);
    daemon = UniqueFd(fds[1]);
  }
};

crypto::HostKey test_host_key(std::uint8_t seed_byte) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(seed_byte);
  auto k = crypto::HostKey::from_seed(seed);
  EXPECT_TRUE(k);
  return std::move(*k);
}

session::ClientConfig client_config(int control) {
  session::ClientConfig c;
  c.host = "127.0.0.1";
  c.user = "alice";
  c.password = std::string(kPassword);
  c.control_channel = control;
  c.connect_timeout = c.control_timeout = c.data_timeout = c.ack_timeout = std::chrono::seconds(10);
  return c;
}

// The monitor's part, in this process: it completes and signs the announcement.
session::SignAnnouncement signer(const crypto::HostKey& key) {
  return [&key](std::uint32_t features, const std::array<std::uint8_t, 32>& share,
                const bbftp::CryptKey& rsa) -> std::optional<session::SignedAnnouncement> {
    ext::Announcement a;
    a.features = features;
    a.nonce.fill(0x5a);
    a.share = share;
    a.host_key = key.public_key();
    bbftp::CryptKey ck = rsa;
    ck.appended = ext::encode(a);
    return session::SignedAnnouncement{a.nonce, a.host_key, key.sign(ext::signed_bytes(ck))};
  };
}

TEST(BbftpExtensionLogin, OurPairLogsInThroughTheSealedChannel) {
  TempDir root;
  Pair pair;
  const auto host_key = test_host_key(7);
  std::vector<std::string> asked;
  std::thread daemon([&, fd = std::move(pair.daemon)]() mutable {
    session::BbftpServerOptions o;
    o.protocol.extension = true;
    o.login_deadline = o.idle = o.step = o.control = std::chrono::seconds(10);
    session::AskLogin ask = [&](std::string_view user, std::string_view password, bool) {
      asked.push_back(std::string(user) + ":" + std::string(password));
      return LoginOutcome::accepted;
    };
    auto handed = session::serve_bbftp_prelogin(
        fd.get(), o, ask, [] { return true; }, signer(host_key));
    ASSERT_TRUE(handed);
    ASSERT_TRUE(handed->channel) << "the channel goes to the session";
    auto box = storage::Sandbox::confined(root.path());
    ASSERT_TRUE(box);
    session::serve_bbftp_session(std::move(fd), o, std::move(*box), "alice", std::move(*handed));
  });
  UniqueFd ours = std::move(pair.client);
  auto config = client_config(ours.get());
  std::optional<crypto::PublicKey> seen;
  config.check_identity = [&](const std::optional<crypto::PublicKey>& k) {
    seen = k;
    return std::optional<std::string>();
  };
  BbftpClient client(config);
  auto hello = client.connect();
  ASSERT_TRUE(hello) << hello.text;
  EXPECT_TRUE(client.extended());
  EXPECT_NE(hello.text.find("bbftpd version"), std::string::npos) << hello.text;
  ASSERT_TRUE(seen);
  EXPECT_EQ(*seen, host_key.public_key());
  EXPECT_TRUE(client.features().passive) << "protocol 3, negotiated inside the channel";
  EXPECT_TRUE(client.mkdir("d", 0));
  auto cd = client.cd("d");
  ASSERT_TRUE(cd) << cd.text;
  EXPECT_EQ(cd.text, "/d");
  client.close();
  ours.reset();
  daemon.join();
  EXPECT_EQ(asked, (std::vector<std::string>{"alice:" + std::string(kPassword)}));
  EXPECT_TRUE(exists(root / "d"));
}

// A daemon of the test's own: it sends MSG_CRYPT with an announcement, keeps the RSA private
// key and the X25519 secret, and returns everything the client sends until it stops.
struct ScriptedDaemon {
  crypto::RsaPrivateKey rsa = *crypto::RsaPrivateKey::generate();
  crypto::X25519Secret secret = *crypto::X25519Secret::generate();
  crypto::HostKey host_key = test_host_key(9);
  bbftp::CryptKey key;

  explicit ScriptedDaemon(bool bad_signature = false) {
    key = bbftp::CryptKey{{bbftp::kCryptRsaOaep, 0, 0}, rsa.modulus_mpi(), rsa.exponent_mpi(), {}};
    key.sec.pubkeylen = static_cast<std::int32_t>(key.modulus_mpi.size());
    key.sec.expolen = static_cast<std::int32_t>(key.exponent_mpi.size());
    ext::Announcement a;
    a.features = ext::feature::kStreamProofs;
    a.nonce.fill(0x33);
    a.share = secret.share();
    a.host_key = host_key.public_key();
    key.appended = ext::encode(a);
    a.signature = host_key.sign(ext::signed_bytes(key));
    if (bad_signature) a.signature[10] ^= 1;
    key.appended = ext::encode(a);
  }
  // The MSG_CRYPT payload as sent (the transcript starts with it).
  std::vector<std::uint8_t> crypt_payload() const {
    const auto whole = bbftp::encode(bbftp::Message(key));
    std::vector<std::uint8_t> out;
    for (std::size_t i = bbftp::kHeaderSize; i < whole.size(); ++i) {
      out.push_back(static_cast<std::uint8_t>(whole[i]));
    }
    return out;
  }
  // Greets on `fd`, then reads what comes for `wait` (or until the client closes).
  std::vector<std::uint8_t> greet_and_capture(int fd, std::chrono::milliseconds wait) const {
    const auto greeting = bbftp::encode(bbftp::Message(key));
    EXPECT_TRUE(io::write_all(fd, greeting, std::chrono::seconds(5)));
    std::vector<std::uint8_t> got;
    std::byte chunk[4096];
    const auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until) {
      auto n = io::read_some(fd, chunk, std::chrono::milliseconds(100));
      if (!n) {
        if (n.error().eof()) break;
        continue;
      }
      for (std::size_t i = 0; i < *n; ++i) got.push_back(static_cast<std::uint8_t>(chunk[i]));
    }
    return got;
  }
};

bool contains(const std::vector<std::uint8_t>& hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

TEST(BbftpExtensionLogin, ACapturedLoginDoesNotOpenWithTheRsaKeyAlone) {
  Pair pair;
  ScriptedDaemon d;
  UniqueFd ours = std::move(pair.client);
  std::thread client_thread([&] {
    auto config = client_config(ours.get());
    config.control_timeout = std::chrono::seconds(3);
    BbftpClient client(config);
    auto hello = client.connect();  // no MSG_EXT_LOGIN_OK comes: it fails
    EXPECT_FALSE(hello);
  });
  // What the client sends: MSG_EXT_LOGIN, never MSG_LOG.
  const auto sent = d.greet_and_capture(pair.daemon.get(), std::chrono::milliseconds(1500));
  pair.daemon.reset();
  client_thread.join();
  ASSERT_GE(sent.size(), bbftp::kHeaderSize + ext::kExtLoginFixed);
  const auto header = bbftp::decode_header(std::span<const std::byte, bbftp::kHeaderSize>(
      reinterpret_cast<const std::byte*>(sent.data()), bbftp::kHeaderSize));
  EXPECT_EQ(header.code, ext::kMsgExtLogin);
  ASSERT_EQ(header.msglen, sent.size() - bbftp::kHeaderSize);
  EXPECT_FALSE(contains(sent, kPassword)) << "the password crossed in the clear";
  EXPECT_FALSE(contains(sent, "alice")) << "the user name crossed in the clear";

  // Whoever holds the connection's RSA private key (all a bbftp login rests on) opens nothing:
  // no 128-byte window of what was sent is an RSA-OAEP ciphertext under it.
  for (std::size_t at = 0; at + d.rsa.size_bytes() <= sent.size(); ++at) {
    EXPECT_FALSE(d.rsa.decrypt(std::span(sent).subspan(at, d.rsa.size_bytes())))
        << "window at " << at;
  }

  // The daemon's X25519 secret, with the transcript, does open it: the capture holds the login,
  // sealed to the exchange (and to this connection's transcript).
  const auto login = ext::decode_ext_login(std::span(sent).subspan(bbftp::kHeaderSize));
  ASSERT_TRUE(login);
  auto shared = d.secret.agree(login->share);
  ASSERT_TRUE(shared);
  const auto th = crypto::bbftp_transcript_hash(d.crypt_payload(), ext::transcript_part(*login));
  auto keys = crypto::derive_bbftp_keys(*shared, login->nonce, std::array<std::uint8_t, 32>{}, th);
  ASSERT_TRUE(keys);
  crypto::RecordSealer wrong_nonce(keys->c2s, keys->c2s_iv);
  EXPECT_FALSE(wrong_nonce.open(login->sealed, th)) << "keys bound to both nonces";
  std::array<std::uint8_t, 32> server_nonce{};
  server_nonce.fill(0x33);
  keys = crypto::derive_bbftp_keys(*shared, login->nonce, server_nonce, th);
  ASSERT_TRUE(keys);
  crypto::RecordSealer c2s(keys->c2s, keys->c2s_iv);
  auto clear = c2s.open(login->sealed, th);
  ASSERT_TRUE(clear);
  auto creds = ext::decode_credentials(*clear);
  ASSERT_TRUE(creds);
  EXPECT_EQ(creds->user, "alice");
  EXPECT_EQ(creds->password, kPassword);
}

TEST(BbftpExtensionLogin, ABadSignatureStopsTheClientBeforeItSendsAnything) {
  Pair pair;
  ScriptedDaemon d(/*bad_signature=*/true);
  UniqueFd ours = std::move(pair.client);
  session::Outcome hello;
  std::thread client_thread([&] {
    BbftpClient client(client_config(ours.get()));
    hello = client.connect();
    ours.reset();  // the client's own copy closed, the pair's end closes too
  });
  const auto sent = d.greet_and_capture(pair.daemon.get(), std::chrono::seconds(5));
  client_thread.join();
  EXPECT_FALSE(hello);
  EXPECT_EQ(hello.error, session::client_error::kIdentity) << hello.text;
  EXPECT_NE(hello.text.find("signature"), std::string::npos) << hello.text;
  EXPECT_TRUE(sent.empty()) << sent.size() << " bytes sent";
}

TEST(BbftpExtensionLogin, ARefusedIdentityStopsTheClientBeforeItSendsAnything) {
  Pair pair;
  ScriptedDaemon d;
  UniqueFd ours = std::move(pair.client);
  session::Outcome hello;
  std::optional<crypto::PublicKey> offered;
  std::thread client_thread([&] {
    auto config = client_config(ours.get());
    config.check_identity = [&](const std::optional<crypto::PublicKey>& k) {
      offered = k;
      return std::optional<std::string>("pinned with another key");
    };
    BbftpClient client(config);
    hello = client.connect();
    ours.reset();
  });
  const auto sent = d.greet_and_capture(pair.daemon.get(), std::chrono::seconds(5));
  client_thread.join();
  EXPECT_FALSE(hello);
  EXPECT_EQ(hello.error, session::client_error::kIdentity);
  EXPECT_EQ(hello.text, "pinned with another key");
  ASSERT_TRUE(offered);
  EXPECT_EQ(*offered, d.host_key.public_key());
  EXPECT_TRUE(sent.empty()) << sent.size() << " bytes sent";
}

}  // namespace
}  // namespace ferry::test
