# Every external dependency comes from a Debian 12 package (scripts/setup.sh installs them);
# README.md says why each one is here.
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)          # RSA login (bbftp), SHA-256 digests
find_package(ZLIB REQUIRED)               # bbftp compressed transfers
find_package(spdlog REQUIRED)             # leveled logging (brings fmt)
find_package(CLI11 REQUIRED)              # command lines and daemon config files
find_package(nlohmann_json 3 REQUIRED)    # XFTP LIST JSON parsing, machine-readable output
find_package(PkgConfig REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)   # XXH3-128 checksums
pkg_check_modules(LIBCRYPT REQUIRED IMPORTED_TARGET libcrypt)  # crypt(3) password checks
pkg_check_modules(LIBSECCOMP REQUIRED IMPORTED_TARGET libseccomp)  # bbftpd's system-call allow-lists

find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)                  # standalone Asio: event loops
add_library(ferry_asio INTERFACE)
target_include_directories(ferry_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
# Asio decides between aligned_alloc/free and operator new/delete per translation unit, from
# whether a libstdc++ header came before its own: two files that include in different orders
# allocate one way and free the other (ASan: alloc-dealloc-mismatch). One choice for all.
target_compile_definitions(ferry_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED
                                                ASIO_DISABLE_STD_ALIGNED_ALLOC)
target_link_libraries(ferry_asio INTERFACE Threads::Threads)
add_library(ferry::asio ALIAS ferry_asio)

if(FERRY_PAM)
  find_library(PAM_LIBRARY pam)
  find_path(PAM_INCLUDE_DIR security/pam_appl.h)
endif()

if(FERRY_TESTS)
  find_package(GTest REQUIRED)
endif()
if(FERRY_BENCH)
  find_package(benchmark REQUIRED)
endif()
