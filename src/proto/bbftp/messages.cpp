#include "proto/bbftp/messages.hpp"

#include <algorithm>
#include <cstring>

namespace ferry::bbftp {

const char* name_of(MsgCode code) noexcept {
  switch (code) {
    case MsgCode::ok:
      return "MSG_OK";
    case MsgCode::log:
      return "MSG_LOG";
    case MsgCode::store:
      return "MSG_STORE";
    case MsgCode::bad:
      return "MSG_BAD";
    case MsgCode::ack:
      return "MSG_ACK";
    case MsgCode::store_c:
      return "MSG_STORE_C";
    case MsgCode::crypt:
      return "MSG_CRYPT";
    case MsgCode::retr:
      return "MSG_RETR";
    case MsgCode::retr_c:
      return "MSG_RETR_C";
    case MsgCode::retr_ok:
      return "MSG_RETR_OK";
    case MsgCode::retr_rfio:
      return "MSG_RETR_RFIO";
    case MsgCode::retr_rfio_c:
      return "MSG_RETR_RFIO_C";
    case MsgCode::retr_start:
      return "MSG_RETR_START";
    case MsgCode::abr:
      return "MSG_ABR";
    case MsgCode::bad_no_retry:
      return "MSG_BAD_NO_RETRY";
    case MsgCode::mkdir:
      return "MSG_MKDIR";
    case MsgCode::chdir:
      return "MSG_CHDIR";
    case MsgCode::list:
      return "MSG_LIST";
    case MsgCode::list_repl:
      return "MSG_LIST_REPL";
    case MsgCode::create_zero:
      return "MSG_CREATE_ZERO";
    case MsgCode::logged_stdin:
      return "MSG_LOGGED_STDIN";
    case MsgCode::ipaddr:
      return "MSG_IPADDR";
    case MsgCode::ipaddr_ok:
      return "MSG_IPADDR_OK";
    case MsgCode::prot:
      return "MSG_PROT";
    case MsgCode::prot_ans:
      return "MSG_PROT_ANS";
    case MsgCode::store_v2:
      return "MSG_STORE_V2";
    case MsgCode::retr_v2:
      return "MSG_RETR_V2";
    case MsgCode::abort:
      return "MSG_ABORT";
    case MsgCode::trans_ok_v2:
      return "MSG_TRANS_OK_V2";
    case MsgCode::trans_start_v2:
      return "MSG_TRANS_START_V2";
    case MsgCode::info:
      return "MSG_INFO";
    case MsgCode::filename:
      return "MSG_FILENAME";
    case MsgCode::chumask:
      return "MSG_CHUMASK";
    case MsgCode::mkdir_v2:
      return "MSG_MKDIR_V2";
    case MsgCode::chdir_v2:
      return "MSG_CHDIR_V2";
    case MsgCode::list_v2:
      return "MSG_LIST_V2";
    case MsgCode::list_repl_v2:
      return "MSG_LIST_REPL_V2";
    case MsgCode::chcos:
      return "MSG_CHCOS";
    case MsgCode::priv_log:
      return "MSG_PRIV_LOG";
    case MsgCode::priv_data:
      return "MSG_PRIV_DATA";
    case MsgCode::close_conn:
      return "MSG_CLOSE_CONN";
    case MsgCode::cert_log:
      return "MSG_CERT_LOG";
    case MsgCode::trans_simul:
      return "MSG_TRANS_SIMUL";
    case MsgCode::trans_start_v3:
      return "MSG_TRANS_START_V3";
    case MsgCode::trans_simul_v3:
      return "MSG_TRANS_SIMUL_V3";
    case MsgCode::trans_ok_v3:
      return "MSG_TRANS_OK_V3";
    case MsgCode::rm:
      return "MSG_RM";
    case MsgCode::stat:
      return "MSG_STAT";
    case MsgCode::df:
      return "MSG_DF";
    case MsgCode::server_status:
      return "MSG_SERVER_STATUS";
  }
  return "MSG_?";
}

std::uint32_t code_of(const Message& m) noexcept {
  return std::visit(
      [](const auto& msg) -> std::uint32_t {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, CryptKey>) return 0x06;
        if constexpr (std::is_same_v<T, Login>) return 0x01;
        if constexpr (std::is_same_v<T, ProtRange> || std::is_same_v<T, ProtChoice>) return 0x18;
        if constexpr (std::is_same_v<T, TransOkV3>) return 0x2D;
        if constexpr (std::is_same_v<T, ListReplyV2>) return 0x24;
        if constexpr (std::is_same_v<T, ListReplyV1>) return 0x12;
        if constexpr (std::is_same_v<T, RetrOk>) return 0x09;
        if constexpr (std::is_same_v<T, Raw>) return msg.code;
        if constexpr (requires { msg.code; }) return static_cast<std::uint32_t>(msg.code);
        return 0xFFFFFFFF;
      },
      m);
}

std::string StoreV1::filename() const {
  const auto end = std::find(filename_field.begin(), filename_field.end(), 0);
  return std::string(filename_field.begin(), end);
}

void StoreV1::set_filename(std::string_view name) {
  filename_field.fill(0);
  std::memcpy(filename_field.data(), name.data(), std::min(name.size(), kV1FilenameSize - 1));
}

}  // namespace ferry::bbftp
