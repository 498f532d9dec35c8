#!/bin/sh
# Builds oxistack's test image: a tiny CirrOS-like disk (MBR, one FAT16
# partition booted by syslinux, Debian's kernel, an initramfs with busybox,
# dropbear and the virtio/ext4/isofs/vfat modules) from Debian packages only,
# with no mount, no loop device and no root beyond installing host tools.
#
# usage: build.sh OUTPUT.qcow2
# Also leaves the image's kernel beside it, as OUTPUT.vmlinuz: oxistack
# probes KVM with it on hosts that have no kernel in /boot.
# Host tools: apt-get, dpkg-deb, kmod (depmod/modprobe), cpio, gzip,
# dosfstools (mkfs.vfat), mtools, syslinux, qemu-utils (qemu-img),
# binutils (readelf).
set -eu
TARGET=$1
SRC=$(cd "$(dirname "$0")" && pwd)        # rcS, inittab, rcK, udhcpc.script, sudo, json.awk, elfdeps.sh, mdev.conf, virtio-disk
CMDLINE="console=ttyS0 quiet"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
WORK=$OUT/work; PKG=$WORK/pkgs; ROOT=$WORK/root
mkdir -p "$PKG" "$ROOT"

# 1. fetch + unpack packages (apt-get download = ordinary client, no install into the host)
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [ -z "$KPKG" ]; then
    apt-get update -qq
    KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
fi
download() {
    (cd "$PKG" && apt-get download -q "$KPKG" busybox-static dropbear-bin syslinux-common \
        libtomcrypt1 libtommath1 libgmp10 zlib1g libcrypt1 libc6 >/dev/null 2>&1)
}
# A fresh machine may have no package lists yet.
download || { apt-get update -qq; download; }
for d in "$PKG"/*.deb; do dpkg-deb -x "$d" "$PKG/x"; done
X=$PKG/x
KVER=$(ls "$X/lib/modules")
depmod -b "$X" "$KVER"

# 2. initramfs tree
cd "$ROOT"
mkdir -p bin sbin usr/bin usr/sbin lib/modules etc/init.d etc/acpi/PWRF usr/share/udhcpc usr/share/oxistack \
         home/cirros/.ssh root proc sys dev run tmp mnt var/log lib64 lib/x86_64-linux-gnu
chmod 1777 tmp
cp "$X/bin/busybox" bin/busybox
for a in $(bin/busybox --list-full); do       # e.g. bin/ls, sbin/ifconfig, usr/bin/wget
    [ -e "$a" ] || ln -s /bin/busybox "$a"
done
rm -f bin/su; cp bin/busybox bin/su; chmod 4755 bin/su   # setuid su for the sudo wrapper
ln -s bin/busybox init
cp "$X/usr/sbin/dropbear" usr/sbin/; cp "$X/usr/bin/dropbearkey" usr/bin/
# Their libraries, resolved in the unpacked packages alone (never with the
# host's ldd, which only sees what the host has installed).
sh "$SRC/elfdeps.sh" closure "$X" "$X/usr/sbin/dropbear" "$X/usr/bin/dropbearkey" > "$WORK/libs"
while read -r name file; do cp "$file" "lib/x86_64-linux-gnu/$name"; done < "$WORK/libs"
cp -L "$X/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" lib64/
# kernel modules: closure of the wanted set, load order = dependency order
MODS="virtio_pci virtio_blk virtio_net ext4 crc32c_generic isofs vfat nls_cp437 nls_ascii nls_utf8 button evdev"
: > lib/modules/load.order
for m in $MODS; do
    modprobe -d "$X" -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}'
done | awk '!seen[$0]++' | while read -r f; do
    b=$(basename "$f"); cp "$f" lib/modules/"$b"; echo "$b" >> lib/modules/load.order
done
# config files
cp "$SRC/rcS" "$SRC/rcK" etc/init.d/; cp "$SRC/inittab" etc/inittab
cp "$SRC/udhcpc.script" usr/share/udhcpc/default.script
cp "$SRC/json.awk" usr/share/oxistack/json.awk
cp "$SRC/sudo" usr/bin/sudo
mkdir -p lib/mdev; cp "$SRC/mdev.conf" etc/mdev.conf; cp "$SRC/virtio-disk" lib/mdev/virtio-disk
printf '#!/bin/sh\necho "oxistack-cirros: ACPI power button -> poweroff" > /dev/console\nexec /sbin/poweroff\n' > etc/acpi/PWRF/00000080
chmod 755 etc/init.d/rcS etc/init.d/rcK usr/share/udhcpc/default.script usr/bin/sudo etc/acpi/PWRF/00000080 lib/mdev/virtio-disk
PWHASH=$(bin/busybox mkpasswd -m sha512 gocubsgo)
printf 'root:x:0:0:root:/root:/bin/sh\ncirros:x:1000:1000:cirros:/home/cirros:/bin/sh\n' > etc/passwd
printf 'root::19000:0:99999:7:::\ncirros:%s:19000:0:99999:7:::\n' "$PWHASH" > etc/shadow; chmod 600 etc/shadow
printf 'root:x:0:\ntty:x:5:\ncirros:x:1000:\n' > etc/group
printf '/bin/sh\n/bin/ash\n' > etc/shells
echo cirros > etc/hostname
printf 'hosts: files dns\npasswd: files\ngroup: files\nshadow: files\n' > etc/nsswitch.conf
printf '127.0.0.1 localhost\n' > etc/hosts
# Every program and library in the image finds what it links against.
sh "$SRC/elfdeps.sh" check "$ROOT"
find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1 > "$WORK/initrd.img"

# 3. FAT16 partition at 1 MiB, syslinux, MBR
cp "$X/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
printf 'DEFAULT linux\nPROMPT 0\nTIMEOUT 0\nLABEL linux\n  KERNEL /vmlinuz\n  INITRD /initrd.img\n  APPEND %s\n' "$CMDLINE" > "$WORK/syslinux.cfg"
KB=$(du -k -c "$WORK/vmlinuz" "$WORK/initrd.img" | tail -n1 | cut -f1)
PART_MB=$(( (KB + 1024) / 1024 + 2 ))          # payload + ~2-3 MiB slack
[ $PART_MB -lt 16 ] && PART_MB=16              # keep it a comfortable FAT16
DISK=$OUT/image.raw; rm -f "$DISK"
truncate -s $(( (PART_MB + 1) * 1024 * 1024 )) "$DISK"
mkfs.vfat -F 16 -n CIRROS -h 2048 --offset=2048 "$DISK" $((PART_MB * 1024)) >/dev/null
mcopy -i "$DISK@@1048576" "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/syslinux.cfg" ::/
syslinux --offset 1048576 --install "$DISK"
dd if="$X/usr/lib/syslinux/mbr/mbr.bin" of="$DISK" bs=440 count=1 conv=notrunc 2>/dev/null
# partition entry 1: active, type 0x0e (FAT16 LBA), LBA start 2048, PART_MB*2048 sectors; dummy CHS
le32() { printf "\\$(printf %03o $(( $1 & 255 )))\\$(printf %03o $(( ($1>>8) & 255 )))\\$(printf %03o $(( ($1>>16) & 255 )))\\$(printf %03o $(( ($1>>24) & 255 )))"; }
{ printf '\200\376\377\377\016\376\377\377'; le32 2048; le32 $((PART_MB * 2048)); } | dd of="$DISK" bs=1 seek=446 conv=notrunc 2>/dev/null
printf '\125\252' | dd of="$DISK" bs=1 seek=510 conv=notrunc 2>/dev/null
qemu-img convert -f raw -O qcow2 -c "$DISK" "$TARGET.tmp"
case $(basename "$TARGET") in *.*) KERNEL=${TARGET%.*}.vmlinuz ;; *) KERNEL=$TARGET.vmlinuz ;; esac
cp "$WORK/vmlinuz" "$KERNEL.tmp"
mv "$KERNEL.tmp" "$KERNEL"
mv "$TARGET.tmp" "$TARGET"
echo "built $TARGET: kernel $KVER, initrd $(du -k "$WORK/initrd.img" | cut -f1) KiB, qcow2 $(du -k "$TARGET" | cut -f1) KiB" >&2
