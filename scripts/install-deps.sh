#!/usr/bin/env bash
# Installs every build, test and benchmark dependency from Debian 12 packages.
# Only missing packages are installed; runs apt through sudo when not root.
set -euo pipefail

packages=(
  # toolchain
  cmake ninja-build g++ clang clang-format libclang-rt-14-dev pkg-config python3
  # libraries (README.md says why each is here)
  libssl-dev zlib1g-dev libasio-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libxxhash-dev libcrypt-dev libpam0g-dev libseccomp-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev whois iperf3 bc procps iproute2
  # real packet loss on a real socket: a namespace whose loopback drops UDP datagrams
  nftables
  # ssh mode (bbftp -s, bbftpd -s) end to end: a throw-away sshd on 127.0.0.1
  openssh-server openssh-client
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
