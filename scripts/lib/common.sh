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
# Every flavour --kernel accepts: the defaults, "debian" (Debian's stock kernel, below)
# and "debug" (pmc + KASAN, kmemleak, lockdep, DEBUG_ATOMIC_SLEEP, DEBUG_VM;
# kernel/debug.config), slow under TCG and therefore run only when asked for.
KERNEL_ALL_FLAVOURS=(pmc nopmc debug debian)

# The stock Debian kernel of the same suite (scripts/vm-run --kernel debian; not in the
# default runs): its ABI name and flavour, the packages of its image, modules, config
# and headers, and the suite whose compiler built it (scripts/debian-toolchain).
DEBIAN_KERNEL_ABI=7.3.4+deb13
DEBIAN_KERNEL_VARIANT=cloud-amd64
DEBIAN_KERNEL_RELEASE=$DEBIAN_KERNEL_ABI-$DEBIAN_KERNEL_VARIANT
DEBIAN_KERNEL_PACKAGES=(
	"linux-binary-$DEBIAN_KERNEL_RELEASE"	# usr/lib/modules/<release>/vmlinuz (bzImage)
	"linux-modules-$DEBIAN_KERNEL_RELEASE"	# its loadable modules (zram, ...)
	"linux-base-$DEBIAN_KERNEL_RELEASE"	# usr/lib/modules/<release>/config, System.map
	"linux-headers-$DEBIAN_KERNEL_RELEASE"	# .config, Module.symvers, generated headers
	"linux-headers-$DEBIAN_KERNEL_ABI-common"	# the kernel's Makefile and include/
	"linux-kbuild-$DEBIAN_KERNEL_ABI"	# scripts/, objtool, modpost
)
DEBIAN_TOOLCHAIN_SUITE=trixie
DEBIAN_KERNEL_CC=x86_64-linux-gnu-gcc-14

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

# Whether QEMU can use KVM: only on a CPU with hardware virtualisation (the /dev/kvm of
# these machines is a paravirtual variant, slower than TCG, that cannot run -cpu host).
kvm_usable() { grep -qwE 'vmx|svm' /proc/cpuinfo && [[ -w /dev/kvm ]]; }
elapsed_since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }
# The largest 8 "COUNT OP <- EVENT" lines a guest printed as "# PREFIX: ..." in FILE,
# on one line ("; " between): top_kinds PREFIX FILE (debugfs raced_by, excluded_by).
top_kinds() { sed -n "s/^# $1: //p" "$2" | sort -rn | head -n 8 | paste -sd ';' | sed 's/;/; /g'; }

check_flavour() {
	case "$1" in
	pmc|nopmc|debug|debian) ;;
	*) die "unknown kernel flavour '$1' (expected pmc, nopmc, debug or debian)" ;;
	esac
}

# The accounting mode of a flavour's kernel (pmc or nopmc): debug is a pmc kernel, the
# debian kernel's comes from its configuration.
flavour_mode() {
	check_flavour "$1"
	case "$1" in
	pmc|nopmc) echo "$1" ;;
	debug) echo pmc ;;
	debian)
		local cfg
		cfg="$("$FOLIOMAP_ROOT/scripts/fetch-debian-kernel" | tail -n1)/usr/src/linux-headers-$DEBIAN_KERNEL_RELEASE/.config"
		if grep -qx 'CONFIG_NO_PAGE_MAPCOUNT=y' "$cfg"; then echo nopmc; else echo pmc; fi ;;
	esac
}

# Config fragments for a flavour, in merge order: nopmc and debug are pmc plus their own
# fragment.
kernel_fragments() {
	local flavour=$1
	check_flavour "$flavour"
	[[ $flavour != debian ]] || die "the debian kernel is Debian's build: it has no fragments"
	echo "$FOLIOMAP_ROOT/kernel/pmc.config"
	case $flavour in
	nopmc) echo "$FOLIOMAP_ROOT/kernel/nopmc.config" ;;
	debug) echo "$FOLIOMAP_ROOT/kernel/debug.config" ;;
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

# private_apt_setup: the private apt configuration of the kernel packages (own sources
# list, lists and cache directories under the cache folder; the machine's apt sources and
# state are never touched). Sets apt_root and apt_opts; the caller holds
# $FOLIOMAP_CACHE/src/.fetch.lock (one apt run on these lists at a time).
private_apt_setup() {
	apt_root="$FOLIOMAP_CACHE/apt"
	mkdir -p "$apt_root"/{lists/partial,cache/archives/partial,debs}
	local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	[[ -r $keyring ]] || die "$keyring missing: run scripts/setup-deps"
	mirror=$(debian_mirror_uri)
	echo "deb [signed-by=$keyring] $mirror $KERNEL_SOURCE_SUITE main" >"$apt_root/sources.list"
	# -o Dir::Etc::SourceParts=- ignores the system's sources.list.d; the state and cache
	# directories are ours, so the system's package lists stay as they are.
	apt_opts=(
		-o "Dir::Etc::SourceList=$apt_root/sources.list"
		-o "Dir::Etc::SourceParts=-"
		-o "Dir::State::Lists=$apt_root/lists"
		-o "Dir::Cache=$apt_root/cache"
		-o "Dir::State::status=/var/lib/dpkg/status"
		-o "APT::Get::List-Cleanup=0"
		-o "Acquire::Languages=none"
		# Our cache lives in root's home, which the _apt user cannot write; verification of
		# the signed index and the package hash does not depend on the sandbox.
		-o "APT::Sandbox::User=root"
	)
}

# private_apt_download PACKAGE VERSION: the verified .deb in $apt_root/debs (apt-get
# download writes the file only after checking its hash against the signed index, so a
# .deb already there is a verified, complete one). Prints its path.
private_apt_download() {
	local pkg=$1 version=$2 deb
	deb=$(ls "$apt_root/debs/${pkg}_${version//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
	if [[ -z $deb ]]; then
		log "downloading $pkg $version (apt verifies it against the signed index)"
		(cd "$apt_root/debs" && apt-get "${apt_opts[@]}" -q download "$pkg=$version" >&2) ||
			die "apt-get download $pkg=$version failed"
		deb=$(ls "$apt_root/debs/${pkg}_${version//:/%3a}_"*.deb | head -n1)
	fi
	echo "$deb"
}

# debian_gen_init_cpio: the kernel's initramfs packer for the debian flavour (which has
# no kernel build directory), compiled once from the fetched 7.3 source. Prints its path.
debian_gen_init_cpio() {
	local src bin="$FOLIOMAP_CACHE/debian/gen_init_cpio"
	src=$("$FOLIOMAP_ROOT/scripts/fetch-kernel-source" | tail -n1)
	if [[ ! -x $bin || $src/usr/gen_init_cpio.c -nt $bin ]]; then
		mkdir -p "$FOLIOMAP_CACHE/debian"
		cc -O2 -o "$bin.tmp" "$src/usr/gen_init_cpio.c" || die "compiling $src/usr/gen_init_cpio.c failed"
		mv -f "$bin.tmp" "$bin"
	fi
	echo "$bin"
}

# debian_module_closure MODDIR NAME...: the files (relative to MODDIR) of the named
# modules and of everything they depend on (modinfo's depends: no modules.dep in an
# unpacked package), dependencies first, each once.
debian_module_closure() {
	local moddir=$1 name f dep
	shift
	declare -A done_mods=()
	_closure_one() {
		local n=${1//-/_} f dep
		[[ -z ${done_mods[$n]:-} ]] || return 0
		done_mods[$n]=1
		f=$(cd "$moddir" && find kernel -name "$n.ko*" -o -name "${n//_/-}.ko*" | head -n1)
		[[ -n $f ]] || die "module $n not found under $moddir"
		for dep in $(modinfo -F depends "$moddir/$f" | tr , ' '); do
			_closure_one "$dep"
		done
		echo "$f"
	}
	for name in "$@"; do
		_closure_one "$name"
	done
}

# Host TSC frequency in kHz (for tsc_early_khz=): without ACPI the guest cannot
# calibrate the TSC under TCG and would fall back to the 4 ms jiffies clock.
host_tsc_khz() {
	awk -F: '/^cpu MHz/ { printf "%d\n", $2 * 1000; exit }' /proc/cpuinfo
}

# scn_split_transcripts VMOUT DIR: kmod-test/scn_run's output of a boot, split per file:
# DIR/NAME.kern (transcript), NAME.kst (scn_run's status; missing: no END marker, the
# runner stopped), NAME.kerr (its @@scn ERROR lines), NAME.kscope (scn_run --scope: its
# @@scn SCOPE / CHECKED / UNMET lines, the shadow checker's counts of the file).
scn_split_transcripts() {
	awk -v dir="$2" '
		/^@@scn BEGIN / { n = $3; sub(/.*\//, "", n); sub(/\.scn$/, "", n)
			f = dir "/" n ".kern"; printf "" > f; on = 1; next }
		on && /^@@scn END / { print $NF > (dir "/" n ".kst"); close(dir "/" n ".kst"); close(dir "/" n ".kscope"); close(dir "/" n ".kerr")
			close(f); on = 0; next }
		on && /^@@scn ERROR / { print > (dir "/" n ".kerr"); next }
		on && /^@@scn (SCOPE|CHECKED|UNMET) / { print > (dir "/" n ".kscope"); next }
		on { print > f }' "$1"
}
