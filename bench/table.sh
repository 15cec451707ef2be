# bench/table.sh - the one table of `make bench` (sourced by bench/*.sh and
# bench/run.sh).  Each script adds its rows with bench_row; run.sh prints them
# together at the end.  A script run on its own (no BENCH_TABLE) adds nothing.
#   bench_row WORKLOAD PINION_S PEER PEER_S    a workload against its peer
#   bench_part WORKLOAD PINION_S               a part of pinion's cold build
#   bench_table_print FILE                     the table, ratio = pinion / peer
bench_row() {
	[ -n "${BENCH_TABLE:-}" ] || return 0
	printf 'row\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$BENCH_TABLE"
}
bench_part() {
	[ -n "${BENCH_TABLE:-}" ] || return 0
	printf 'part\t%s\t%s\n' "$1" "$2" >>"$BENCH_TABLE"
}
bench_table_print() {
	awk -F'\t' '
	BEGIN { line = sprintf("%-44s %9s  %-26s %9s %8s", "workload", "pinion s", "peer", "peer s", "ratio")
		print line; gsub(/./, "-", line); print line }
	$1 == "row" {
		r = ($5 + 0 > 0) ? sprintf("%.2fx", $3 / $5) : "-"
		printf "%-44s %9.2f  %-26s %9.2f %8s\n", $2, $3, $4, $5, r }
	$1 == "part" { parts[++np] = $2; ps[np] = $3 }
	END {
		if (np) print "cold build of examples/packages, where the time goes (--progress json):"
		for (i = 1; i <= np; i++) printf "  %-42s %9.2f\n", parts[i], ps[i]
		print "(ratio = pinion / peer: below 1 pinion is faster)"
	}' "$1"
}
