#!/bin/sh
# Installs what q8c needs (Debian 12 packages) and builds it into build/.
# Safe to run again: it installs only what is missing.
set -eu
cd "$(dirname "$0")/.."

pkgs="gcc libc6-dev make cmake ninja-build pkg-config flex bison libcmocka-dev
      llvm-16-dev clang-16 libclang-rt-16-dev llvm-16 qemu-user
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross
      gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
      python3 python3-numpy libprotobuf-c-dev protobuf-c-compiler python3-onnx graphviz
      gcc-arm-none-eabi picolibc-arm-none-eabi gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf
      qemu-system-arm qemu-system-misc"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "q8c setup: installing$missing"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

echo "q8c setup: building build/q8c"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build
