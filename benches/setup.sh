#!/usr/bin/env bash
# Builds the programs the peer benchmark compares, from their packages, into one folder
# (default target/bench-peers/bin; PUFFS_BENCH_PEERS sets the folder). Run as root; again
# only rebuilds what is missing.
#
#   libfuse  passthrough_ll, passthrough_hp, hello_ll: Debian's source package of fuse3,
#            fetched through a deb-src entry this script adds (apt-get source), built with meson.
#   fuser    the simple and hello examples: the crate from crates.io, fetched by cargo.
#   raw      raw_responder: benches/peers/raw_responder.c, a server with no library.
#   puffs    dtfs, nullfs, hello: this workspace, release build.
set -euo pipefail
cd "$(dirname "$0")/.."
workspace=$PWD
peers=${PUFFS_BENCH_PEERS:-$workspace/target/bench-peers}
fuser_version=${PUFFS_BENCH_FUSER_VERSION:-0.18.0}
mkdir -p "$peers/bin" "$peers/src"
bin=$peers/bin

step() { printf '\n=== %s\n' "$*"; }

step "tools to build the peers"
need=()
for tool in meson:meson ninja:ninja-build pkg-config:pkg-config dpkg-source:dpkg-dev g++:g++ taskset:util-linux; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
[ -e /usr/include/libudev.h ] || need+=(libudev-dev)
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

step "libfuse examples (Debian source package fuse3)"
if [ ! -x "$bin/passthrough_hp" ] || [ ! -x "$bin/passthrough_ll" ] || [ ! -x "$bin/hello_ll" ]; then
    if ! apt-get source --print-uris fuse3 >/dev/null 2>&1; then
        # The machine lists binary packages only: add the same archive's sources.
        . /etc/os-release
        cat > /etc/apt/sources.list.d/puffs-bench-src.sources <<SOURCES
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $VERSION_CODENAME
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
        apt-get update -qq
    fi
    rm -rf "$peers/src/fuse3"
    mkdir -p "$peers/src/fuse3"
    (cd "$peers/src/fuse3" && apt-get source -qq fuse3 >/dev/null)
    tree=$(find "$peers/src/fuse3" -maxdepth 1 -mindepth 1 -type d -name 'fuse3-*' | head -1)
    meson setup "$tree/build" "$tree" -Dexamples=true -Dutils=false -Dtests=false \
        -Dbuildtype=release >/dev/null
    ninja -C "$tree/build" example/passthrough_ll example/passthrough_hp example/hello_ll >/dev/null
    cp "$tree/build/example/passthrough_ll" "$tree/build/example/passthrough_hp" \
        "$tree/build/example/hello_ll" "$bin/"
    basename "$tree" > "$bin/libfuse.version"
fi
echo "libfuse: $(cat "$bin/libfuse.version")"

step "fuser examples (crates.io, fuser $fuser_version)"
if [ ! -x "$bin/fuser-simple" ] || [ ! -x "$bin/fuser-hello" ]; then
    # cargo fetches the crate into its registry; the examples build from a copy of it, with
    # this workspace's toolchain (the crate pins an older one).
    scratch=$peers/src/fuser-fetch
    rm -rf "$scratch"
    mkdir -p "$scratch/src"
    printf '[package]\nname = "fuser-fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nfuser = "=%s"\n[workspace]\n' \
        "$fuser_version" > "$scratch/Cargo.toml"
    : > "$scratch/src/lib.rs"
    cargo fetch -q --manifest-path "$scratch/Cargo.toml"
    registry=$(cargo metadata -q --format-version 1 --manifest-path "$scratch/Cargo.toml" \
        | python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "fuser"))')
    rm -rf "$peers/src/fuser"
    cp -r "$(dirname "$registry")" "$peers/src/fuser"
    rm -f "$peers/src/fuser/rust-toolchain" "$peers/src/fuser/rust-toolchain.toml"
    # The copy may sit inside this workspace's target folder: it is a workspace of its own.
    grep -q '^\[workspace\]' "$peers/src/fuser/Cargo.toml" || printf '\n[workspace]\n' >> "$peers/src/fuser/Cargo.toml"
    toolchain=$(sed -n 's/^channel = "\(.*\)"/\1/p' "$workspace/rust-toolchain.toml")
    (cd "$peers/src/fuser" && RUSTUP_TOOLCHAIN=$toolchain CARGO_TARGET_DIR=$peers/src/fuser-target \
        cargo build -q --release --example simple --example hello 2>"$peers/src/fuser-build.log") \
        || { cat "$peers/src/fuser-build.log"; exit 1; }
    cp "$peers/src/fuser-target/release/examples/simple" "$bin/fuser-simple"
    cp "$peers/src/fuser-target/release/examples/hello" "$bin/fuser-hello"
    echo "fuser-$fuser_version" > "$bin/fuser.version"
fi
echo "fuser: $(cat "$bin/fuser.version")"

step "raw responder"
cc -O2 -Wall -Wextra -Werror -o "$bin/raw_responder" "$workspace/benches/peers/raw_responder.c"

step "puffs examples (release)"
cargo build -q --release -p puffs-examples --bins
target=$(cargo metadata -q --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
for program in dtfs nullfs hello; do
    # A new file renamed over the old one: a server still running keeps its own copy.
    cp "$target/release/$program" "$bin/.puffs-$program.new"
    mv -f "$bin/.puffs-$program.new" "$bin/puffs-$program"
done
echo "peers in $bin"
