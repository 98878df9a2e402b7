# Shared helpers for foliomap's kernel/VM scripts. Source it; do not execute it.
#
# Everything that several scripts must agree on lives here: the cache layout under
# ~/.cache/foliomap, the kernel source version, the config fragments, and logging.

FOLIOMAP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FOLIOMAP_CACHE="${FOLIOMAP_CACHE:-$HOME/.cache/foliomap}"

# The Debian package that carries the kernel source, and the suite that has it.
KERNEL_SOURCE_PACKAGE=linux-source-7.3
KERNEL_SOURCE_SUITE=trixie-backports

# The flavours the scripts run by default (vm-suite, scn-vm, mutants, ...).
KERNEL_FLAVOURS=(pmc nopmc)
# Every flavour --kernel accepts: the defaults plus "debug" (pmc + KASAN, kmemleak,
# lockdep, DEBUG_ATOMIC_SLEEP, DEBUG_VM; kernel/debug.config), which is slow under TCG
# and therefore run only when asked for.
KERNEL_ALL_FLAVOURS=(pmc nopmc debug)

# Bump when the way a kernel is configured or built changes (not the fragments: those are
# hashed), so that cached build directories from the old recipe are not reused.
KERNEL_RECIPE_VERSION=1

log() { printf '[%s] %s\n' "${FOLIOMAP_SCRIPT:-$(basename "$0")}" "$*" >&2; }
# For routine news ("cached, nothing to do"): printed only by the script the user ran,
# not again by every script it calls.
FOLIOMAP_CALLED_BY_SCRIPT=${FOLIOMAP_IN_SCRIPT:-}
export FOLIOMAP_IN_SCRIPT=1
note() { [[ -n $FOLIOMAP_CALLED_BY_SCRIPT ]] || log "$@"; }
die() { printf '[%s] error: %s\n' "${FOLIOMAP_SCRIPT:-$(basename "$0")}" "$*" >&2; exit 1; }

# Seconds since the epoch with one decimal, for "took N s" messages.
now() { date +%s.%N; }
elapsed_since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

check_flavour() {
	case "$1" in
	pmc|nopmc|debug) ;;
	*) die "unknown kernel flavour '$1' (expected pmc, nopmc or debug)" ;;
	esac
}

# Config fragments for a flavour, in merge order: nopmc and debug are pmc plus their own
# fragment.
kernel_fragments() {
	local flavour=$1
	check_flavour "$flavour"
	echo "$FOLIOMAP_ROOT/kernel/pmc.config"
	case $flavour in
	nopmc) echo "$FOLIOMAP_ROOT/kernel/nopmc.config" ;;
	debug) echo "$FOLIOMAP_ROOT/kernel/debug.config" ;;
	esac
}

# The mapcount mode a flavour's kernel runs in (what the model and the simulator call
# the mode): debug is a pmc kernel.
flavour_mode() {
	check_flavour "$1"
	case $1 in
	nopmc) echo nopmc ;;
	*) echo pmc ;;
	esac
}

# Whether a flavour is a debug kernel (KASAN, kmemleak, lockdep, DEBUG_VM).
flavour_is_debug() { [[ $1 == debug ]]; }

# The unpacked source tree's version string ("7.3.4"), from its Makefile.
kernel_source_version() {
	local src=$1
	awk '/^VERSION =/ { v = $3 } /^PATCHLEVEL =/ { p = $3 } /^SUBLEVEL =/ { s = $3 }
	     END { printf "%s.%s.%s\n", v, p, s }' "$src/Makefile"
}

# Fixed absolute build directory for a flavour: keyed by source version and by the hash
# of the fragments (and of the build recipe), since build directories are not relocatable.
kernel_build_dir() {
	local flavour=$1 src=$2 key
	key=$( { kernel_source_version "$src"; cat $(kernel_fragments "$flavour");
		 echo "recipe $KERNEL_RECIPE_VERSION"; } | sha256sum | cut -c1-12)
	echo "$FOLIOMAP_CACHE/kernels/$flavour-$(kernel_source_version "$src")-$key"
}

# Debian mirror URI taken from the machine's own apt sources (deb822 or one-line form),
# so that no registry host name is ever written into the repository.
debian_mirror_uri() {
	local uri=""
	shopt -s nullglob
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		uri=$(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
		[[ -n $uri ]] && break
	done
	if [[ -z $uri ]]; then
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[[ -r $f ]] || continue
			uri=$(awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			           if ($i !~ /security/) { print $i; exit } }' "$f")
			[[ -n $uri ]] && break
		done
	fi
	shopt -u nullglob
	[[ -n $uri ]] || die "no Debian mirror URI found in /etc/apt/sources.list{,.d/*}"
	echo "${uri%/}"
}

# Host TSC frequency in kHz (for tsc_early_khz=): without ACPI the guest cannot
# calibrate the TSC under TCG and would fall back to the 4 ms jiffies clock.
host_tsc_khz() {
	awk -F: '/^cpu MHz/ { printf "%d\n", $2 * 1000; exit }' /proc/cpuinfo
}

# scn_split_transcripts VMOUT DIR: kmod-test/scn_run's output of a boot, split per file:
# DIR/NAME.kern (transcript), NAME.kst (scn_run's status; missing: no END marker, the
# runner stopped), NAME.kerr (its @@scn ERROR lines).
scn_split_transcripts() {
	awk -v dir="$2" '
		/^@@scn BEGIN / { n = $3; sub(/.*\//, "", n); sub(/\.scn$/, "", n)
			f = dir "/" n ".kern"; printf "" > f; on = 1; next }
		on && /^@@scn END / { print $NF > (dir "/" n ".kst"); close(dir "/" n ".kst")
			close(f); on = 0; next }
		on && /^@@scn ERROR / { print > (dir "/" n ".kerr"); next }
		on { print > f }' "$1"
}
