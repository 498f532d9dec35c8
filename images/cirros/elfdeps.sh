#!/bin/sh
# The image's shared libraries, found from ELF files alone: the host's own
# libraries (what `ldd` would use) never decide what goes into the image.
# Walks each file's DT_NEEDED entries (`readelf -d`) and resolves every
# name in the library directories of a root tree, the way the image's
# dynamic loader will at boot.
#
# usage: elfdeps.sh closure ROOT FILE...  prints, once each, every library
#                                          the FILEs need, recursively, as
#                                          a path inside ROOT (symlinks
#                                          resolved within ROOT)
#        elfdeps.sh check ROOT             fails, naming them, if any ELF
#                                          file in ROOT needs a library or
#                                          interpreter that ROOT lacks
# Needs readelf (binutils).
set -eu
LIBDIRS="lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu lib64 lib usr/lib"

is_elf() { [ -f "$1" ] && [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = "177ELF" ]; }

needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p'; }

interpreter() { readelf -l "$1" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p'; }

# Follows a symlink chain inside ROOT: an absolute target means ROOT/target,
# never the host's file of that name.
inside() {
    root=$1 path=$2 hops=0
    while [ -L "$path" ] && [ $hops -lt 40 ]; do
        target=$(readlink "$path")
        case $target in
        /*) path=$root$target ;;
        *) path=$(dirname "$path")/$target ;;
        esac
        hops=$((hops + 1))
    done
    [ -e "$path" ] && [ ! -L "$path" ] && echo "$path"
}

# Prints the file ROOT's loader finds for library NAME, or nothing.
resolve() {
    for dir in $LIBDIRS; do
        [ -e "$1/$dir/$2" ] || [ -L "$1/$dir/$2" ] || continue
        inside "$1" "$1/$dir/$2" && return 0
    done
    return 0
}

closure() {
    root=$1; shift
    seen=" "
    queue="$*"
    while [ -n "$queue" ]; do
        set -- $queue
        file=$1; shift; queue="$*"
        for name in $(needed "$file"); do
            case $seen in *" $name "*) continue ;; esac
            seen="$seen$name "
            found=$(resolve "$root" "$name")
            [ -n "$found" ] || { echo "elfdeps: $name (needed by ${file#"$root"/}) is in none of the packages" >&2; exit 1; }
            echo "$name $found"
            queue="$queue $found"
        done
    done
}

check() {
    root=$1 missing=0 checked=0
    for file in $(find "$root" -type f); do
        is_elf "$file" || continue
        checked=$((checked + 1))
        interp=$(interpreter "$file")
        if [ -n "$interp" ] && [ -z "$(inside "$root" "$root$interp")" ]; then
            echo "elfdeps: ${file#"$root"/} needs the interpreter $interp, which is not in the image" >&2
            missing=1
        fi
        for name in $(needed "$file"); do
            if [ -z "$(resolve "$root" "$name")" ]; then
                echo "elfdeps: ${file#"$root"/} needs $name, which is not in the image" >&2
                missing=1
            fi
        done
    done
    [ $checked -gt 0 ] || { echo "elfdeps: no ELF file in $root" >&2; exit 1; }
    [ $missing -eq 0 ]
}

command=$1; shift
case $command in
closure) closure "$@" ;;
check) check "$@" ;;
*) echo "usage: elfdeps.sh closure ROOT FILE... | check ROOT" >&2; exit 2 ;;
esac
