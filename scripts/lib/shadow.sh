# The shadow checker's verdict over a VM run, shared by scripts/stress, scripts/soak and
# scripts/rmmod-loop. Source it after common.sh; do not execute it.
#
# A run's guest command prints the module's totals as "# totals: name value" lines
# (shadow_print_totals_cmd); shadow_read_totals reads them back into the associative
# array shadow_t, and shadow_verdict judges them.

# The guest shell snippet that prints the module's totals and records (for sh -c).
shadow_print_totals_cmd() {
	cat <<'SNIPPET'
d=/sys/kernel/debug/foliomap
sed 's/^/# totals: /' $d/totals
sed 's/^/# excluded_by: /' $d/excluded_by
sed 's/^/# /' $d/mismatches $d/raced $d/unchecked
SNIPPET
}

# The mixload workload as a guest command: shadow_mixload_cmd SEED PROCS SECONDS
shadow_mixload_cmd() {
	printf 'MIXLOAD_SEED=%s /tests/mixload_test --procs %s --seconds %s; s=$?\n%s\nexit $s\n' \
		"$1" "$2" "$3" "$(shadow_print_totals_cmd)"
}

# shadow_read_totals FILE: the "# totals: name value" lines of FILE into shadow_t.
declare -gA shadow_t=()
shadow_read_totals() {
	local name value
	shadow_t=()
	while read -r name value; do
		shadow_t[$name]=$value
	done < <(sed -n 's/^# totals: //p' "$1")
}

# shadow_verdict CPUS STATUS: judge shadow_t (and the guest command's exit STATUS).
# Sets shadow_checked, shadow_cow, shadow_mism, shadow_raced, shadow_share (raced in %
# of checked), shadow_missed, shadow_unchecked, shadow_explained, shadow_skipped and
# shadow_summary (one line); returns 0 (PASS) only with the command passed, something
# checked, no mismatch, no missed event, no skipped fork folio, every unchecked
# transition explained, raced below 0.1 % of the checked transitions and none on 1 vCPU.
shadow_verdict() {
	local cpus=$1 status=$2 verdict=PASS
	shadow_checked=${shadow_t[transitions_checked]:-0}
	shadow_cow=${shadow_t[cow_checked]:-0}
	shadow_mism=$(( ${shadow_t[transition_mismatches]:-0} + ${shadow_t[cow_mismatches]:-0} ))
	shadow_raced=${shadow_t[transitions_raced]:-0}
	shadow_missed=${shadow_t[missed_events]:-0}
	shadow_unchecked=${shadow_t[unchecked]:-0}
	shadow_explained=$(( ${shadow_t[unchecked_folio_changed]:-0} + ${shadow_t[unchecked_cow_swayed]:-0} ))
	shadow_skipped=${shadow_t[fork_folios_skipped]:-0}
	shadow_share=$(awk -v r="$shadow_raced" -v c="$shadow_checked" 'BEGIN { printf "%.4f", c ? 100 * r / c : 0 }')
	if ((status != 0 || shadow_checked == 0 || shadow_mism != 0 || shadow_missed != 0 || shadow_skipped != 0)) ||
	   ((shadow_unchecked != shadow_explained)) || ((cpus == 1 && shadow_raced != 0)) ||
	   awk -v s="$shadow_share" 'BEGIN { exit !(s >= 0.1) }'; then
		verdict=FAIL
	fi
	shadow_summary=$(printf '%s  checked %d, CoW %d, mismatches %d, raced %d (%s %%), missed %d, unchecked %d (%d explained), fork folios skipped %d' \
		"$verdict" "$shadow_checked" "$shadow_cow" "$shadow_mism" "$shadow_raced" "$shadow_share" \
		"$shadow_missed" "$shadow_unchecked" "$shadow_explained" "$shadow_skipped")
	[[ $verdict == PASS ]]
}

# A fresh seed for the mixload workload (short enough to type).
shadow_new_seed() { echo $(( $(date +%s%N) % 1000000000000 )); }
