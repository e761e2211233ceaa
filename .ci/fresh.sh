#!/usr/bin/env bash
# The README's two commands on a fresh machine, in both orders: each in a minimal Debian root of
# the host's release, holding only what the machines rin is installed on ship (build-essential,
# git, ca-certificates) and a clone of the committed HEAD.
#   root 1: make test, then DEMO_SECONDS=20 make demo
#   root 2: DEMO_SECONDS=20 make demo, then make test
# It passes when every command exits 0, `make test` closes with "N passed, 0 failed" and skips
# nothing but the root-only permission test (so the install brought MPI and Fashion-MNIST), and
# the demo wrote runs/demo/pretrained_samples.png and runs/demo/train/report.html.
#
# Run alone, as root: `bash .ci/fresh.sh` (9 minutes on two busy cores; 2.5 GB on a tmpfs, or
# on the disk under /var/tmp with FRESH_TMPFS=0 or under 10 GB of free memory; Debian's archive
# as the host's apt sources name it). FRESH_REF=<commit> tests another commit (default HEAD: the
# committed tree, not the work tree), FRESH_DEMO_SECONDS the demo's training (default 20),
# FRESH_TMP where the roots go (default /var/tmp), FRESH_KEEP=1 keeps them.
#
# Why a debootstrap root rather than purging packages from the CI machine: purging would remove
# packages that this session and the later CI stages use, and would still miss whatever was
# installed by hand or left behind (/usr/local, pip, configuration files); a minbase root built
# by Debian's own debootstrap from the same archive is the closer copy of a new machine, and the
# host keeps its packages (only debootstrap is added when missing).
set -euo pipefail

# A private mount namespace where the kernel allows one: the mounts below then vanish with this
# script even if it is killed; the EXIT trap unmounts them in any case.
if [ -z "${FRESH_IN_NS:-}" ] && unshare --mount --propagation private true 2>/dev/null; then
    FRESH_IN_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi

cd "$(dirname "$0")/.."
REPO=$(pwd)
REF=${FRESH_REF:-HEAD}
DEMO_SECONDS=${FRESH_DEMO_SECONDS:-20}
TMP=${FRESH_TMP:-/var/tmp}
[ "$(id -u)" -eq 0 ] || { echo "fresh: run as root (debootstrap, chroot, mounts)"; exit 1; }
SHA=$(git rev-parse --verify "$REF^{commit}")
CODENAME=$(. /etc/os-release && echo "$VERSION_CODENAME")

T0=$(date +%s)
TIMES=""
phase_start() { PHASE=$1 PHASE_T=$(date +%s); echo "== fresh: $PHASE"; }
phase_end() {
    local line
    line=$(printf '%-48s %4d s' "$PHASE" $(($(date +%s) - PHASE_T)))
    TIMES="$TIMES$line"$'\n'
    echo "   $line"
}

# ---- the work directory and its cleanup ----------------------------------------------------------
df -h "$TMP"
WORK=$(mktemp -d "$TMP/rin-fresh.XXXXXX")
# everything mounted at or under a directory, the deepest first
mounts_under() {
    findmnt -rn -o TARGET | awk -v w="$1" '$0 == w || index($0, w "/") == 1' | sort -r
}
unmount_under() {
    local m
    for m in $(mounts_under "$1"); do
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done
}
# Ends every process whose root is under $WORK (a command still running when a signal came, or
# anything left behind), so that nothing holds the mounts.
kill_in_roots() {
    local sig p r found
    for sig in TERM KILL; do
        found=0
        for p in /proc/[0-9]*; do
            r=$(readlink "$p/root" 2>/dev/null) || continue
            case $r in "$WORK"/*) kill -"$sig" "${p#/proc/}" 2>/dev/null && found=1 ;; esac
        done
        [ $found = 0 ] && return
        [ $sig = KILL ] || sleep 2
    done
}
cleanup() {
    local status=$? t
    set +e
    t=$(date +%s)
    kill_in_roots
    df -h "$WORK" | sed 's/^/   /'
    unmount_under "$WORK"
    if [ -n "$(mounts_under "$WORK")" ]; then
        echo "fresh: still mounted under $WORK, not deleting it:"
        mounts_under "$WORK"
        status=1
    elif [ "${FRESH_KEEP:-0}" = 1 ]; then
        echo "fresh: kept $WORK"
    else
        rm -rf "$WORK"
    fi
    TIMES="$TIMES$(printf '%-48s %4d s' "cleanup: unmount, remove the roots" $(($(date +%s) - t)))"$'\n'
    echo "== fresh: times"
    printf '%s' "$TIMES"
    printf '%-48s %4d s\n' "total" $(($(date +%s) - T0))
    [ $status -eq 0 ] && echo "fresh: passed" || echo "fresh: FAILED"
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The roots go on a tmpfs when memory allows (2.5 GB of it at the end): on a virtual disk, dpkg's
# fsyncs and removing two roots of 50,000 files each take minutes. FRESH_TMPFS=0: on the disk.
mem_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
if [ "${FRESH_TMPFS:-1}" != 0 ] && [ "$mem_kb" -ge $((10 * 1024 * 1024)) ]; then
    mount -t tmpfs -o size=8g,mode=0700 rin-fresh "$WORK"
    echo "fresh: the roots on a tmpfs ($((mem_kb / 1024 / 1024)) GB of memory available)"
else
    avail_kb=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
    [ "$avail_kb" -ge $((6 * 1024 * 1024)) ] || { echo "fresh: under 6 GB free in $TMP"; exit 1; }
fi
CACHE=$WORK/apt-archives
LOGS=$WORK/logs
mkdir -p "$CACHE/partial" "$LOGS"

# ---- the host's archive --------------------------------------------------------------------------
# The mirror of the host's release, read from its apt sources (deb822 .sources files, then
# one-line .list files), so the root comes from the archive the host itself uses.
host_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v s="$CODENAME" '
            function flush() {
                if (!found && uri != "" && (" " types " ") ~ / deb / && (" " suites " ") ~ (" " s " ") &&
                    tolower(enabled) != "no") { print uri; found = 1 }
                types = suites = uri = enabled = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]*#/ { next }
            tolower($1) == "types:" { $1 = ""; types = $0 }
            tolower($1) == "suites:" { $1 = ""; suites = $0 }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "enabled:" { enabled = $2 }
            END { flush() }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v s="$CODENAME" '$1 == "deb" {
            i = 2
            if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
            if ($(i + 1) == s) print $i }' "$f"
    done
}
MIRROR=$(host_mirror | head -n 1)
[ -n "$MIRROR" ] || { echo "fresh: no deb source for $CODENAME in /etc/apt"; exit 1; }
echo "fresh: commit $SHA, Debian $CODENAME from $MIRROR, work in $WORK"

# The host's apt sources (security updates included), the keyrings they name and the host's
# network settings for apt (proxy, Valid-Until of a snapshot archive) into a root.
copy_apt_config() {
    local root=$1 f k
    rm -f "$root/etc/apt/sources.list" "$root"/etc/apt/sources.list.d/*
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        if [ -f "$f" ]; then cp "$f" "$root$f"; fi
    done
    for k in $(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -oiE '(signed-by=|^signed-by:[[:space:]]*)/[^] ,]+' | sed -E 's/^[^/]*//' | sort -u); do
        if [ -f "$k" ] && [ ! -e "$root$k" ]; then
            mkdir -p "$root$(dirname "$k")"
            cp "$k" "$root$k"
        fi
    done
    for k in /etc/apt/trusted.gpg.d/*; do
        if [ -f "$k" ] && [ ! -e "$root$k" ]; then cp "$k" "$root$k"; fi
    done
    apt-config dump | grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy|Retries) ' \
        >"$root/etc/apt/apt.conf.d/99fresh-host" || true
    cp -L --remove-destination /etc/resolv.conf "$root/etc/resolv.conf"
    cp -L --remove-destination /etc/hosts "$root/etc/hosts"
}

# What a running machine has: /proc, /sys, /dev with its own /dev/pts and /dev/shm (OpenMPI's
# shared-memory transport under the tests' mpirun), and the apt archive cache the roots share.
mount_root() {
    local root=$1
    mount -t proc proc "$root/proc"
    mount -t sysfs -o ro sysfs "$root/sys" 2>/dev/null || mount --bind /sys "$root/sys"
    mount --bind /dev "$root/dev"
    mount --make-private "$root/dev"
    mount --bind /dev/pts "$root/dev/pts"
    mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
    mount --bind "$CACHE" "$root/var/cache/apt/archives"
}

# Runs a shell command in a root as a new login would: root's home, a plain PATH, no CI
# variables (OMP_NUM_THREADS and the like); the host's proxy settings pass. The whole output
# goes to a log; the console gets the packages it installed, the seconds at which lines starting
# with the given marks first appeared (where the install ended, the build, ...), its tail, and
# on failure the failed tests. Returns the command's status.
in_root() {
    local root=$1 log=$2 cmd=$3 rc=0 start=$SECONDS line mark marks=() seen=""
    shift 3
    marks=("$@")
    local envs=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        TERM=dumb)
    local v
    for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        if [ -n "${!v:-}" ]; then envs+=("$v=${!v}"); fi
    done
    echo "   \$ $cmd"
    : >"$log"
    # in the background, so that a signal reaches the traps at once (bash runs them in `wait`)
    timeout 2400 chroot "$root" /usr/bin/env -i "${envs[@]}" sh -c "$cmd" 2>&1 |
        while IFS= read -r line; do
            printf '%s\n' "$line" >>"$log"
            for mark in "${marks[@]}"; do
                if [[ "$line" == "$mark"* && "$seen" != *"<$mark>"* ]]; then
                    seen="$seen<$mark>"
                    printf '   %4d s: %s\n' $((SECONDS - start)) "$line" | cut -c 1-100
                fi
            done
        done &
    wait $! || rc=$?
    printf '   %4d s: exit status %d\n' $((SECONDS - start)) "$rc"
    grep '^installing:' "$log" | fold -s -w 96 | sed 's/^/   | /' || true
    if [ $rc -ne 0 ]; then
        tail -n 60 "$log" | sed 's/^/   | /'
        if grep -qE '^\[ FAIL \]' "$log"; then
            echo "   failed tests:"
            grep -E '^\[ FAIL \]|FAILED at' "$log" | sed 's/^/   | /'
        fi
        echo "fresh: '$cmd' failed with status $rc"
        return 1
    fi
    tail -n 4 "$log" | sed 's/^/   | /'
}

# ---- the base root: debootstrap minbase, then what the machine image ships ------------------------
phase_start "host: debootstrap"
if ! command -v debootstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
fi
phase_end

phase_start "base: debootstrap --variant=minbase $CODENAME"
BASE=$WORK/base
# ca-certificates: apt inside needs it for https sources before it can install anything
debootstrap --variant=minbase --include=ca-certificates "$CODENAME" "$BASE" "$MIRROR" \
    >"$LOGS/debootstrap.log" 2>&1 || { tail -n 40 "$LOGS/debootstrap.log"; exit 1; }
phase_end

phase_start "base: apt-get install build-essential git ca-certificates"
copy_apt_config "$BASE"
mount_root "$BASE"
# The image of the machines rin is installed on ships these (and python3, clang, zlib1g-dev,
# libssl-dev, which the README's commands do not assume); everything else is make's to install.
in_root "$BASE" "$LOGS/base.log" "apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential git ca-certificates" ||
    exit 1
unmount_under "$BASE"
phase_end

phase_start "copies: root1, root2"
[ -z "$(mounts_under "$BASE")" ] || { echo "fresh: $BASE still has mounts"; exit 1; }
cp -a "$BASE" "$WORK/root2"
mv "$BASE" "$WORK/root1"
for r in root1 root2; do
    git clone -q --no-hardlinks "$REPO" "$WORK/$r/root/rin"
    git -C "$WORK/$r/root/rin" checkout -q --detach "$SHA"
done
phase_end

# ---- the README's two commands, in both orders -----------------------------------------------------
# Every command runs even when one before it failed; the stage fails at the end, naming them all.
FAILED=""
fail() {
    echo "fresh: FAILED: $1"
    FAILED="$FAILED  $1"$'\n'
}
check_test() {
    local root=$1 log=$2 closing skips
    closing=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
    echo "   make test closed with: ${closing:-(no closing line)}"
    [[ "$closing" =~ ^[1-9][0-9]*\ passed,\ 0\ failed$ ]] ||
        fail "$root: make test did not close with 'N passed, 0 failed'"
    # as root the permission test cannot run; any other skip means the install missed something
    skips=$(grep -E '^ +skipped: ' "$log" | grep -v 'running as root' || true)
    if [ -n "$skips" ]; then
        echo "$skips"
        fail "$root: make test skipped tests"
    fi
}
check_demo() {
    local root=$1 log=$2 f
    for f in runs/demo/pretrained_samples.png runs/demo/train/report.html; do
        if [ -s "$WORK/$root/root/rin/$f" ]; then
            echo "   the demo wrote $f"
        else
            fail "$root: the demo did not write $f"
        fi
    done
    grep -q 'time limit reached' "$log" || fail "$root: the demo's training did not stop at its time limit"
}
run_test() {
    phase_start "$1: make test"
    in_root "$WORK/$1" "$LOGS/$1-test.log" "cd /root/rin && make test" \
        "make --no-print-directory run-tests" "[ RUN" || fail "$1: make test exited non-zero"
    check_test "$1" "$LOGS/$1-test.log"
    phase_end
}
run_demo() {
    phase_start "$1: DEMO_SECONDS=$DEMO_SECONDS make demo"
    in_root "$WORK/$1" "$LOGS/$1-demo.log" "cd /root/rin && DEMO_SECONDS=$DEMO_SECONDS make demo" \
        "make --no-print-directory run-demo" "./build/rin sample" "./build/rin train" ||
        fail "$1: make demo exited non-zero"
    check_demo "$1" "$LOGS/$1-demo.log"
    phase_end
}

mount_root "$WORK/root1"
run_test root1
run_demo root1
unmount_under "$WORK/root1"

mount_root "$WORK/root2"
run_demo root2
run_test root2
unmount_under "$WORK/root2"

if [ -n "$FAILED" ]; then
    printf 'fresh: failed:\n%s' "$FAILED"
    exit 1
fi
