# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Why a scenario file does not run on a kernel, or nothing: the rule of scripts/scn-vm (on
# the host) and kmod-test/corpus_test (in the guest, as /tests/corpus/vm_skip.sh), sourced
# by both. POSIX sh.
#
#   vm_skip_reason FILE FLAVOUR MODE HAS_GUP_TEST
#
# The file's first "# vm-skip FLAVOUR: reason" line, else its first "# vm-skip MODE:" or
# "# vm-skip:" line; else, when HAS_GUP_TEST is 0, a file with pin/unpin lines (they use
# the kernel's GUP_TEST debugfs file, which the test kernels have and Debian's has not).
vm_skip_line() {
	sed -nE "s/^#[[:space:]]*vm-skip([[:space:]]+$2)?:[[:space:]]*(.*)$/\2/p" "$1" | head -n1
}

vm_skip_reason() {
	vm_skip_r=$(vm_skip_line "$1" "$2")
	[ -n "$vm_skip_r" ] || [ "$2" = "$3" ] || vm_skip_r=$(vm_skip_line "$1" "$3")
	if [ -z "$vm_skip_r" ] && [ "$4" = 0 ] &&
	   grep -qE '^[[:space:]]*[A-Za-z0-9_]+:[[:space:]]+(pin|unpin)[[:space:]]' "$1"; then
		vm_skip_r="pins pages: the kernel has no GUP_TEST"
	fi
	printf '%s' "$vm_skip_r"
}
