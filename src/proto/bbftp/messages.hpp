// bbftp control messages, one struct per payload layout, 1:1 with the wire
// (../../../docs/protocol/bbftp.md; the real peers' captures are in tests/golden).
//
// Every integer on the wire is big-endian. The real C code keeps message codes pre-swapped on
// little-endian hosts (MSG_CHDIR_V2 == 0x22000000 there), which is the same bytes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace ferry::bbftp {

enum class MsgCode : std::uint32_t {
  ok = 0x00,
  log = 0x01,
  store = 0x02,  // protocol 1
  bad = 0x03,
  ack = 0x04,  // on data sockets
  store_c = 0x05,
  crypt = 0x06,
  retr = 0x07,
  retr_c = 0x08,
  retr_ok = 0x09,
  retr_rfio = 0x0A,
  retr_rfio_c = 0x0B,
  retr_start = 0x0C,
  abr = 0x0D,
  bad_no_retry = 0x0E,
  mkdir = 0x0F,
  chdir = 0x10,
  list = 0x11,
  list_repl = 0x12,
  create_zero = 0x13,
  logged_stdin = 0x14,  // MSG_WARN in protocol 1
  ipaddr = 0x15,
  ipaddr_ok = 0x16,
  prot = 0x17,
  prot_ans = 0x18,
  store_v2 = 0x19,
  retr_v2 = 0x1A,
  abort = 0x1B,
  trans_ok_v2 = 0x1C,
  trans_start_v2 = 0x1D,
  info = 0x1E,
  filename = 0x1F,
  chumask = 0x20,
  mkdir_v2 = 0x21,
  chdir_v2 = 0x22,
  list_v2 = 0x23,
  list_repl_v2 = 0x24,
  chcos = 0x25,
  priv_log = 0x26,
  priv_data = 0x27,
  close_conn = 0x28,
  cert_log = 0x29,
  trans_simul = 0x2A,
  trans_start_v3 = 0x2B,
  trans_simul_v3 = 0x2C,
  trans_ok_v3 = 0x2D,
  rm = 0x2E,
  stat = 0x2F,
  df = 0x30,
  server_status = 0x31,
};

const char* name_of(MsgCode code) noexcept;  // "MSG_CHDIR_V2", or "MSG_?" for unknown codes

// TROPT bits of transferoption.
namespace tropt {
inline constexpr std::uint32_t kTmp = 0x01;    // write to a temp name, rename at the end
inline constexpr std::uint32_t kAcc = 0x02;    // keep access/modification times
inline constexpr std::uint32_t kMode = 0x04;   // keep the mode
inline constexpr std::uint32_t kDir = 0x08;    // create missing directories
inline constexpr std::uint32_t kGzip = 0x10;   // compressed data blocks
inline constexpr std::uint32_t kRfio = 0x20;   // daemon-side RFIO
inline constexpr std::uint32_t kRfioO = 0x40;  // client-side RFIO
inline constexpr std::uint32_t kQbss = 0x80;   // IP_TOS 0x20 on data sockets
inline constexpr std::uint32_t kClientDefault = kTmp | kAcc | kMode | kDir;
}  // namespace tropt

inline constexpr std::int32_t kNoCrypt = 0;
inline constexpr std::int32_t kCryptRsaOaep = 2;
inline constexpr std::size_t kRsaBytes = 128;     // NBYTESRSA: a 1024-bit modulus
inline constexpr std::size_t kStoreV2Size = 48;   // mess_store_v2
inline constexpr std::size_t kStoreV1Size = 576;  // v1 mess_store, padding included
inline constexpr std::size_t kSecSize = 12;       // mess_sec
inline constexpr std::size_t kLoginSize = kSecSize + 2 * kRsaBytes + 8;  // 276
inline constexpr std::size_t kV1FilenameSize = 500;
inline constexpr std::size_t kV1MaxPorts = 10;

// A message whose payload is text or raw bytes: OK, BAD, BAD_NO_RETRY, INFO, FILENAME and the
// protocol-1 MKDIR/CHDIR/LIST requests. Not NUL-terminated on the wire.
struct Text {
  MsgCode code{};
  std::string text;
  bool operator==(const Text&) const = default;
};

// A message with no payload: PROT, ABORT, CREATE_ZERO, CLOSE_CONN, ACK, RETR_START, ABR,
// SERVER_STATUS.
struct Empty {
  MsgCode code{};
  bool operator==(const Empty&) const = default;
};

// mess_sec: the first 12 bytes of MSG_CRYPT and MSG_LOG.
struct Sec {
  std::int32_t crtype = kCryptRsaOaep;
  std::int32_t pubkeylen = 0;
  std::int32_t expolen = 0;
  bool operator==(const Sec&) const = default;
};

// MSG_CRYPT S->C: the server's public key as two OpenSSL BN_bn2mpi blobs (4-byte BE length, then
// the magnitude with a leading 0x00 when its top bit is set). C->S with crtype NO_CRYPT asks for
// a clear-text login (then both blobs are empty).
struct CryptKey {
  Sec sec;
  std::vector<std::uint8_t> modulus_mpi;
  std::vector<std::uint8_t> exponent_mpi;
  // Bytes after the exponent, within msglen: the real client reads and ignores them; ours
  // finds the ferry extension's announcement there (docs/protocol/bbftp-extended.md).
  std::vector<std::uint8_t> appended;
  bool operator==(const CryptKey&) const = default;
};

// MSG_LOG: user and password, each RSA-OAEP encrypted into 128 bytes (or NUL-terminated clear
// text in the clear-text variant). The real client sends mess_sec as {2, 0, 0}.
struct Login {
  Sec sec{kCryptRsaOaep, 0, 0};
  std::array<std::uint8_t, kRsaBytes> user{};
  std::array<std::uint8_t, kRsaBytes> pass{};
  std::int32_t numuser = 0;
  std::int32_t numpass = 0;
  bool operator==(const Login&) const = default;
};

// MSG_PROT_ANS S->C: the server's range of protocol versions.
struct ProtRange {
  std::int32_t min = 1;
  std::int32_t max = 3;
  bool operator==(const ProtRange&) const = default;
};
// MSG_PROT_ANS C->S: the version the client chose.
struct ProtChoice {
  std::int32_t version = 3;
  bool operator==(const ProtChoice&) const = default;
};

// mess_store_v2 (48 bytes): STORE_V2, RETR_V2, TRANS_OK_V2 and the head of TRANS_OK_V3.
struct TransferParams {
  std::int64_t filesize = 0;
  std::uint32_t transferoption = 0;
  std::uint32_t filemode = 0;        // st_mode & 07777, no type bits
  std::array<char, 8> lastaccess{};  // "%08x" of a time_t, no NUL (zeros in RETR_V2)
  std::array<char, 8> lastmodif{};
  std::int32_t sendwinsize = 256;  // KB
  std::int32_t recvwinsize = 256;  // KB
  std::int32_t buffersize = 256;   // KB per stream
  std::int32_t nbstream = 1;
  bool operator==(const TransferParams&) const = default;
};

struct Transfer {
  MsgCode code{};  // store_v2, retr_v2, trans_ok_v2
  TransferParams params;
  bool operator==(const Transfer&) const = default;
};

// MSG_TRANS_OK_V3: the 48-byte echo (msglen says 48) followed by nbstream BE int32 ports that
// msglen does not count; for an empty file (filesize 0) no ports follow.
struct TransOkV3 {
  TransferParams params;
  std::vector<std::uint32_t> ports;
  bool operator==(const TransOkV3&) const = default;
};

// MSG_TRANS_START_V2 / MSG_TRANS_SIMUL: the client's listening ports.
struct PortList {
  MsgCode code{};
  std::vector<std::uint32_t> ports;
  bool operator==(const PortList&) const = default;
};

// MSG_TRANS_START_V3 / MSG_TRANS_SIMUL_V3: msglen = 4 * nbstream but no payload follows.
struct TransStartV3 {
  MsgCode code = MsgCode::trans_start_v3;
  std::uint32_t declared_length = 0;
  bool operator==(const TransStartV3&) const = default;
};

// mess_dir: MKDIR_V2, CHDIR_V2, LIST_V2, RM, STAT, DF.
struct DirCommand {
  MsgCode code{};
  std::uint32_t transferoption = 0;
  std::string path;  // no NUL on the wire
  bool operator==(const DirCommand&) const = default;
};

// One int32: CHUMASK, CHCOS, LOGGED_STDIN.
struct IntCommand {
  MsgCode code{};
  std::int32_t value = 0;
  bool operator==(const IntCommand&) const = default;
};

// MSG_LIST_REPL_V2: per entry "<path>\0<c1><c2>\0"; c1 'l' for a symlink else ' ', c2 'u' for a
// dangling link, 'd' for a directory, 'f' for anything else.
struct ListEntry {
  std::string path;
  char link = ' ';
  char kind = 'f';
  bool operator==(const ListEntry&) const = default;
};
struct ListReplyV2 {
  std::vector<ListEntry> entries;
  bool operator==(const ListReplyV2&) const = default;
};

// MSG_LIST_REPL (protocol 1): the matched paths, each NUL-terminated.
struct ListReplyV1 {
  std::vector<std::string> paths;
  bool operator==(const ListReplyV1&) const = default;
};

// Protocol 1 mess_store (576 bytes) of STORE, STORE_C, RETR, RETR_C, RETR_RFIO, RETR_RFIO_C.
// Fields the real daemon ignores are kept raw so a message re-encodes byte for byte.
struct StoreV1 {
  MsgCode code{};
  std::array<std::uint8_t, kV1FilenameSize> filename_field{};  // NUL-terminated inside
  std::array<std::uint8_t, 4> pad{};
  std::int64_t filesize = 0;
  std::int32_t blocksize = 0;
  std::array<std::uint8_t, 16> remote_host{};  // struct sockaddr_in, ignored
  std::int32_t nbport = 0;
  std::array<std::uint32_t, kV1MaxPorts> ports{};
  bool operator==(const StoreV1&) const = default;

  // The path up to its NUL (the decoder guarantees there is one).
  std::string filename() const;
  void set_filename(std::string_view name);  // precondition: name.size() < 500, no NUL
};

// MSG_RETR_OK (protocol 1): the file size.
struct RetrOk {
  std::int64_t filesize = 0;
  bool operator==(const RetrOk&) const = default;
};

// Anything else: a code we do not know (or not in this context) with its payload.
struct Raw {
  std::uint32_t code = 0;
  std::vector<std::uint8_t> payload;
  bool operator==(const Raw&) const = default;
};

using Message = std::variant<Text, Empty, CryptKey, Login, ProtRange, ProtChoice, Transfer,
                             TransOkV3, PortList, TransStartV3, DirCommand, IntCommand, ListReplyV2,
                             ListReplyV1, StoreV1, RetrOk, Raw>;

std::uint32_t code_of(const Message& m) noexcept;

}  // namespace ferry::bbftp
