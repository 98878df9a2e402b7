# The scenario corpus (examples/csim/scenarios/*.scn) through one csim binary, both modes:
# each run must exit 0 (every expectation holds) with the reviewed transcript
# FILE.{pmc,nopmc}.expected. Sourced by csim-test and mutants.
#
# corpus_check CSIM [--quiet]: prints "FAIL FILE [MODE]: why" per failing run (with the
# diff or csim's last lines unless --quiet); sets corpus_runs and corpus_failed.
corpus_check() {
	local csim=$1 quiet=${2:-} scn mode expected out status
	corpus_runs=0
	corpus_failed=0
	for scn in "$FOLIOMAP_ROOT"/examples/csim/scenarios/*.scn; do
		for mode in pmc nopmc; do
			expected="${scn%.scn}.$mode.expected"
			corpus_runs=$((corpus_runs + 1))
			if [[ ! -f $expected ]]; then
				echo "FAIL ${scn#"$FOLIOMAP_ROOT"/} [$mode]: missing $expected"
				corpus_failed=$((corpus_failed + 1))
				continue
			fi
			status=0
			out="$("$csim" --mode "$mode" "$scn" 2>&1)" || status=$?
			if ((status)); then
				echo "FAIL ${scn#"$FOLIOMAP_ROOT"/} [$mode]: csim exited $status"
				[[ -n $quiet ]] || printf '%s\n' "$out" | tail -n 20
				corpus_failed=$((corpus_failed + 1))
			elif ! cmp -s "$expected" <(printf '%s\n' "$out"); then
				echo "FAIL ${scn#"$FOLIOMAP_ROOT"/} [$mode]: transcript differs from ${expected##*/}"
				[[ -n $quiet ]] || diff -u "$expected" <(printf '%s\n' "$out") || true
				corpus_failed=$((corpus_failed + 1))
			fi
		done
	done
}

# corpus_counts CSIM: one line per mode: files, transcript steps (and the frame lines of
# range shows), expectations checked (csim --states: each NAME=VALUE of a field/stat/total
# line counts one, once per folio a range show printed) and, of them, the
# access/pin/split/migrate outcome expectations (expect reuse, copy, ...).
corpus_counts() {
	local csim=$1 mode scn files steps frames expectations outcomes n out
	for mode in pmc nopmc; do
		files=0 steps=0 frames=0 expectations=0 outcomes=0
		for scn in "$FOLIOMAP_ROOT"/examples/csim/scenarios/*.scn; do
			files=$((files + 1))
			# a range show's frame lines are indented: part of their step
			out=$("$csim" --mode "$mode" "$scn")
			n=$(grep -vc '^  ' <<<"$out" || true)
			steps=$((steps + n))
			n=$(grep -c '^  ' <<<"$out" || true)
			frames=$((frames + n))
			n=$("$csim" --states --mode "$mode" "$scn" | tail -n 1 | awk '{ print $2 }')
			expectations=$((expectations + n))
			n=$(grep -cE "^expect( $mode)? (new|nofault|zero|reuse|copy|split|skipped|migrated|partial|failed)\b" "$scn" || true)
			outcomes=$((outcomes + n))
		done
		echo "corpus [$mode]: $files files, $steps steps ($frames range-show frame lines), $expectations expectations checked, $outcomes of them outcomes"
	done
}
