#!/bin/bash
# Build the project's kernel-vm guest: a Debian 12 kernel (with the real L2TP + PPP
# modules) and an initramfs holding busybox, kmod, iproute2, xl2tpd, pppd,
# tcpdump, iperf3, the needed modules and the guest init.  Packages come from the
# configured Debian archive via `apt-get download`; nothing is installed on
# the host except the tools the harness itself runs (qemu, cpio if missing).
#
# Output: $KVMPEER_DIR/img/{vmlinuz,initrd.img,kernel.release,build-info}
# Usage:  build.sh [--clean]      (--clean also drops the .deb cache)
#         build.sh --if-needed    (only when the image is missing or was built from other
#                                  versions of these scripts / guest files)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"

T0=$(date +%s.%N)
[ "$(id -u)" = 0 ] || kvmpeer_die "run as root"
mkdir -p "$KVMPEER_DIR"
# one build at a time per KVMPEER_DIR (tests may start several)
exec 9>"$KVMPEER_DIR/.build.lock"
flock 9
# what the image is built from: these scripts, the guest tree and the extras
source_hash() {
    (cd "$HERE" && find build.sh common.sh guest -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
     env | grep -E '^KVMPEER_(KERNEL_PKG|EXTRA_[A-Z]+|INITRD_GZIP)=' | LC_ALL=C sort || true) | sha256sum | cut -d' ' -f1
}
if [ "${1:-}" = "--if-needed" ] && [ -f "$KVMPEER_IMG/vmlinux" ] && [ -f "$KVMPEER_IMG/initrd.img" ] &&
   [ "$(cat "$KVMPEER_IMG/source-hash" 2>/dev/null)" = "$(source_hash)" ]; then
    echo "kernel-vm: image in $KVMPEER_IMG is up to date"
    exit 0
fi
[ "${1:-}" = "--clean" ] && rm -rf "$KVMPEER_DIR/debs"

DEBS=$KVMPEER_DIR/debs
STAGE=$KVMPEER_DIR/stage      # every downloaded package, extracted
ROOT=$KVMPEER_DIR/rootfs      # what goes into the initramfs
mkdir -p "$DEBS" "$KVMPEER_IMG"
rm -rf "$STAGE" "$ROOT"
mkdir -p "$STAGE" "$ROOT"

log() { printf '[build %6.1fs] %s\n' "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$*"; }

# ---------------------------------------------------------------- host tools
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
command -v tcpdump >/dev/null || need_pkgs+=(tcpdump)
command -v xz >/dev/null || need_pkgs+=(xz-utils)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing host tools: ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# ---------------------------------------------------------------- packages
KPKG=$KVMPEER_KERNEL_PKG
if [ -z "$KPKG" ]; then
    KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1=="Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')
    [ -n "$KPKG" ] || kvmpeer_die "cannot resolve linux-image-amd64 (run apt-get update first)"
fi
KVER=${KPKG#linux-image-}

TOP="busybox kmod xl2tpd ppp iproute2 tcpdump iperf3 libc6 libgcc-s1 ${KVMPEER_EXTRA_PKGS:-}"
# Close over the lib* dependencies of the userland packages (that is all the
# shared libraries they can need); non-library deps are not wanted.
resolve() {
    local level="$*" seen=" " next p
    while [ -n "$level" ]; do
        next=""
        for p in $level; do
            case "$seen" in *" $p "*) continue ;; esac
            seen="$seen$p "
            next="$next $p"
        done
        [ -n "$next" ] || break
        level=$(apt-cache depends --no-recommends --no-suggests --no-conflicts \
                    --no-breaks --no-replaces --no-enhances $next 2>/dev/null |
                awk '$1 ~ /^\|?(Pre)?Depends:$/ {print $2}' | sed 's/:any$//' |
                grep -E '^(lib|zlib)' | grep -vE '^libpam-|^<' | sort -u)
    done
    echo $seen
}
PKGS="$(resolve $TOP) $KPKG"
log "packages: $(echo $PKGS | wc -w) ($KPKG + userland)"

missing=()
for p in $PKGS; do
    ls "$DEBS/${p}_"*.deb >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    (cd "$DEBS" && apt-get download -o APT::Sandbox::User=root "${missing[@]}" >/dev/null) ||
        kvmpeer_die "apt-get download failed (apt-get update?)"
fi
log "downloaded ${#missing[@]} packages ($(du -sh "$DEBS" | cut -f1) in cache)"

for p in $PKGS; do
    deb=$(ls -t "$DEBS/${p}_"*.deb | head -1)
    dpkg-deb -x "$deb" "$STAGE"
    echo "$(basename "$deb")" >> "$STAGE/.packages"
done
log "extracted into $STAGE"
# staged binaries are run through the staged dynamic loader + libraries
LIBPATH=$STAGE/lib/x86_64-linux-gnu:$STAGE/usr/lib/x86_64-linux-gnu
# extra trees may hold private libraries found through a RUNPATH (strongSwan's /usr/lib/ipsec)
for t in ${KVMPEER_EXTRA_TREES:-}; do
    [ -d "$STAGE/$t" ] || continue
    for d in $(find "$STAGE/$t" -name '*.so*' -printf '%h\n' | sort -u); do LIBPATH=$LIBPATH:$d; done
done
LDSO=$(readlink -f "$STAGE/lib64/ld-linux-x86-64.so.2")
[ -x "$LDSO" ] || kvmpeer_die "no ld.so in staged libc6"

# ---------------------------------------------------------------- rootfs skeleton
# merged-/usr layout so /bin/ip and /sbin/ip style paths all resolve
mkdir -p "$ROOT"/usr/{bin,sbin,lib/x86_64-linux-gnu,lib64} \
         "$ROOT"/{dev,proc,sys,run,tmp,root,host,etc,var/log,var/lib,mnt}
ln -s usr/bin "$ROOT/bin"; ln -s usr/sbin "$ROOT/sbin"
ln -s usr/lib "$ROOT/lib"; ln -s usr/lib64 "$ROOT/lib64"
ln -s ../run "$ROOT/var/run"; ln -s ../run/lock "$ROOT/var/lock"
chmod 1777 "$ROOT/tmp"
mknod -m 600 "$ROOT/dev/console" c 5 1
mknod -m 666 "$ROOT/dev/null" c 1 3

# copy FILE (a path inside $STAGE, or an absolute host path) to the same path in $ROOT
put() {
    local src=$1 rel
    case "$src" in "$STAGE"/*) rel=${src#"$STAGE"} ;; *) rel=$src ;; esac
    mkdir -p "$ROOT$(dirname "$rel")"
    cp -L --remove-destination "$src" "$ROOT$rel"
}

ELFS=()
add_bin() {  # add_bin STAGE-RELATIVE-PATH [LINKNAME...]
    local src=$STAGE/$1 dst
    [ -e "$src" ] || kvmpeer_die "missing in packages: $1"
    dst=/usr/${1#/}; dst=${dst/\/usr\/usr\//\/usr\/}
    mkdir -p "$ROOT$(dirname "$dst")"
    cp -L --remove-destination "$src" "$ROOT$dst"
    ELFS+=("$src")
}
add_bin bin/busybox
add_bin bin/kmod
for n in modprobe insmod rmmod lsmod modinfo depmod; do ln -sf /usr/bin/kmod "$ROOT/usr/sbin/$n"; done
add_bin usr/sbin/xl2tpd
add_bin usr/sbin/xl2tpd-control
add_bin usr/sbin/pppd
add_bin usr/sbin/pppstats
add_bin usr/sbin/pppdump
add_bin usr/sbin/chat
for so in "$STAGE"/usr/lib/pppd/*/*.so; do
    rel=${so#"$STAGE"}; mkdir -p "$ROOT$(dirname "$rel")"
    cp -L "$so" "$ROOT$rel"; ELFS+=("$so")
done
add_bin bin/ip
add_bin bin/ss
add_bin sbin/tc
add_bin sbin/bridge
add_bin usr/sbin/genl
add_bin usr/bin/nstat
add_bin usr/bin/tcpdump
add_bin usr/bin/iperf3
cp -a "$STAGE/etc/iproute2" "$ROOT/etc/"
# extras (see common.sh): binaries with their libraries, and whole trees as they are
for b in ${KVMPEER_EXTRA_BINS:-}; do add_bin "$b"; done
for t in ${KVMPEER_EXTRA_TREES:-}; do
    [ -e "$STAGE/$t" ] || kvmpeer_die "missing in packages: $t"
    mkdir -p "$ROOT/$(dirname "$t")"; cp -a "$STAGE/$t" "$ROOT/$(dirname "$t")/"
    while IFS= read -r f; do ELFS+=("$f"); done < <(find "$STAGE/$t" -type f \( -name "*.so*" -o -perm -u+x \) -exec sh -c 'head -c4 "$1" | grep -q ELF && echo "$1"' _ {} \;)
done

# busybox applet links for everything not provided by a real binary above
# (the dynamic "busybox" package is used, not busybox-static: the latter's
# shell prefers its own applets over $PATH, so "ip" would be busybox's ip)
for a in $("$LDSO" --library-path "$LIBPATH" "$STAGE/bin/busybox" --list-full); do
    case "$a" in */*) ;; *) continue ;; esac
    d=${a%/*}; d=${d#usr/}; n=${a##*/}
    [ -e "$ROOT/usr/bin/$n" ] || [ -e "$ROOT/usr/sbin/$n" ] || [ -L "$ROOT/usr/sbin/$n" ] ||
        ln -s /usr/bin/busybox "$ROOT/usr/$d/$n"
done
# the kernel runs /init = busybox init, which reads /etc/inittab
ln -s /usr/bin/busybox "$ROOT/init"
mkdir -p "$ROOT/usr/lib/x86_64-linux-gnu/tc"
cp -a "$STAGE"/usr/lib/x86_64-linux-gnu/tc/* "$ROOT/usr/lib/x86_64-linux-gnu/tc/" 2>/dev/null || true

# ---------------------------------------------------------------- shared libraries
libs=$(for e in "${ELFS[@]}"; do
           "$LDSO" --library-path "$LIBPATH" --list "$e" || kvmpeer_die "ld.so --list failed for $e"
       done | awk '$2=="=>" && $3 ~ /^\// {print $3}' | sort -u)
hostlibs=""
for l in $libs; do
    case "$(basename "$l")" in ld-linux*) continue ;; esac
    case "$l" in
        "$STAGE"/*) rel=${l#"$STAGE"} ;;
        *) rel=$l; hostlibs="$hostlibs $(basename "$l")" ;;
    esac
    rel=/usr/lib/x86_64-linux-gnu/$(basename "$rel")
    cp -L "$l" "$ROOT$rel"
done
[ -z "$hostlibs" ] || log "WARNING: taken from the host (not in staged packages):$hostlibs"
cp -L "$LDSO" "$ROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
ln -sf ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$ROOT/usr/lib64/ld-linux-x86-64.so.2"
# dlopen()ed by glibc (pthread_cancel, backtraces)
cp -L "$STAGE/lib/x86_64-linux-gnu/libgcc_s.so.1" "$ROOT/usr/lib/x86_64-linux-gnu/" 2>/dev/null || true
log "userland: $(echo "$libs" | wc -w) shared libraries"

# ---------------------------------------------------------------- kernel + modules
cp "$STAGE/boot/vmlinuz-$KVER" "$KVMPEER_IMG/vmlinuz"
# Also the uncompressed ELF vmlinux: qemu boots it through its PVH entry point
# (CONFIG_PVH=y), which skips the in-guest XZ decompression -- about 3 s saved
# per boot under TCG.
off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$KVMPEER_IMG/vmlinuz" | head -1 | cut -d: -f1)
[ -n "$off" ] || kvmpeer_die "no XZ payload found in vmlinuz"
xz -dc --single-stream < <(tail -c +$((off + 1)) "$KVMPEER_IMG/vmlinuz") > "$KVMPEER_IMG/vmlinux" ||
    kvmpeer_die "vmlinux extraction failed"
[ "$(head -c 4 "$KVMPEER_IMG/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || kvmpeer_die "vmlinux is not ELF"
cp "$STAGE/boot/config-$KVER" "$KVMPEER_IMG/config"
KM=$STAGE/lib/modules/$KVER
[ -d "$KM" ] || kvmpeer_die "no modules for $KVER"
ln -sf kmod "$STAGE/bin/depmod"; ln -sf kmod "$STAGE/bin/modprobe"
KMOD_ENV="LD_LIBRARY_PATH=$LIBPATH"
depmod_stage() { env $KMOD_ENV "$LDSO" --argv0 depmod "$STAGE/bin/kmod" "$@"; }
modprobe_stage() { env $KMOD_ENV "$LDSO" --argv0 modprobe "$STAGE/bin/kmod" "$@"; }
depmod_stage -b "$STAGE" "$KVER"

MODULES="
  l2tp_core l2tp_netlink l2tp_ppp l2tp_eth l2tp_ip l2tp_ip6 l2tp_debugfs
  ppp_generic pppox ppp_async ppp_synctty ppp_deflate bsd_comp ppp_mppe pppoe
  udp_tunnel ip6_udp_tunnel
  virtio_pci virtio_net virtio_console virtio_rng 9pnet_virtio 9p
  tun veth dummy bridge 8021q sch_netem ifb
  sch_tbf sch_ingress cls_u32 act_police
  ${KVMPEER_EXTRA_MODULES:-}
"
mods=$(for m in $MODULES; do modprobe_stage -d "$STAGE" -S "$KVER" --show-depends "$m" ||
           kvmpeer_die "module $m not found"; done | awk '$1=="insmod" {print $2}' | sort -u)
for m in $mods; do
    rel=${m#"$STAGE"}; rel=/usr${rel#/usr}
    mkdir -p "$ROOT$(dirname "$rel")"; cp "$m" "$ROOT$rel"
done
cp "$KM"/modules.order "$KM"/modules.builtin "$KM"/modules.builtin.modinfo "$ROOT/usr/lib/modules/$KVER/"
depmod_stage -b "$ROOT" "$KVER"
echo "$KVER" > "$KVMPEER_IMG/kernel.release"
log "kernel $KVER: $(echo "$mods" | wc -w) modules"

# ---------------------------------------------------------------- guest config + init
cp -a "$HERE/guest/." "$ROOT/"
chmod 755 "$ROOT"/etc/kvmpeer/*
chmod 600 "$ROOT"/etc/ppp/*-secrets "$ROOT"/etc/xl2tpd/l2tp-secrets
echo "$KVER" > "$ROOT/etc/kvmpeer/kernel.release"

# ---------------------------------------------------------------- initramfs
(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z |
    "$LDSO" --library-path "$LIBPATH" "$STAGE/bin/busybox" cpio -o -H newc -0 -R 0:0 --renumber-inodes 2>/dev/null) |
    # uncompressed by default: under TCG the in-guest gunzip costs ~0.5 s of boot
    if [ "${KVMPEER_INITRD_GZIP:-0}" = 1 ]; then gzip -1; else cat; fi > "$KVMPEER_IMG/initrd.img.new"
mv "$KVMPEER_IMG/initrd.img.new" "$KVMPEER_IMG/initrd.img"
source_hash > "$KVMPEER_IMG/source-hash"
{
    echo "built: $(date -u +%FT%TZ)"
    echo "kernel: $KPKG ($KVER)"
    echo "initrd: $(du -h "$KVMPEER_IMG/initrd.img" | cut -f1) (rootfs $(du -sh "$ROOT" | cut -f1))"
    echo "packages:"; sed 's/^/  /' "$STAGE/.packages"
} > "$KVMPEER_IMG/build-info"
log "initrd.img $(du -h "$KVMPEER_IMG/initrd.img" | cut -f1) (rootfs $(du -sh "$ROOT" | cut -f1)); vmlinuz $(du -h "$KVMPEER_IMG/vmlinuz" | cut -f1), vmlinux $(du -h "$KVMPEER_IMG/vmlinux" | cut -f1)"
# the extracted packages (~0.5 GB, mostly the full module tree) are not needed
# any more; rootfs/ (what the initramfs holds) is kept for inspection
[ "${KVMPEER_KEEP_STAGE:-0}" = 1 ] || rm -rf "$STAGE"
log "done -> $KVMPEER_IMG"
