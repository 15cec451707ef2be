#!/bin/bash
# t_install.sh - `make install DESTDIR= PREFIX=` and `make uninstall`: the
# binary, the man pages rendered from the option tables (pinion(1) and one per
# command, each option of --help in its page), the bash and zsh completion
# (commands, options, oci: paths and layout names).
. "$(dirname "$0")/lib.sh"

D="$T/dest"
P=/usr/local
MAN1="$D$P/share/man/man1"
BASHCOMP="$D$P/share/bash-completion/completions/pinion"
ZSHCOMP="$D$P/share/zsh/site-functions/_pinion"
INSTALLED="$D$P/bin/pinion"
mk() { make -s -C "$TEST_ROOT" B="$PINION_BUILD" "$@"; }
commands() { pinion __complete commands; }
# the option words of a --help text on stdin: `  -x, --name ...`, `  --name`
# (or 6 spaces when other lines have a short option): -x and --name
help_options() {
	grep -E '^(  -[A-Za-z0-9], |  |      )--[a-z0-9]' | awk '{
		if ($1 ~ /^-[A-Za-z0-9],$/) { print substr($1, 1, 2); w = $2 } else w = $1
		sub(/[=[].*/, "", w); print w }'
}

test_expect_success 'make install puts the binary, every man page and both completions under DESTDIR' '
	mk install DESTDIR="$D" PREFIX=$P >"$T/install.log" 2>&1 || { cat "$T/install.log"; false; } &&
	test -x "$INSTALLED" &&
	test_equal "$("$INSTALLED" --version)" "$(pinion --version)" &&
	test -f "$MAN1/pinion.1" && test -f "$BASHCOMP" && test -f "$ZSHCOMP" &&
	n=0 && for c in $(commands); do
		test -f "$MAN1/pinion-$c.1" || { echo "no page for $c"; exit 1; }
		n=$((n + 1))
	done &&
	test "$n" -ge 15 &&
	test_equal "$(ls "$MAN1" | wc -l)" "$((n + 1))"
'

# man -l renders each page; --warnings turns groff warnings into stderr
render() { MANWIDTH=200 man --warnings -l "$1" 2>"$T/man.err" | col -b; }

test_expect_success 'every man page renders with man -l, without groff warnings' '
	for f in "$MAN1"/*.1; do
		render "$f" >"$T/page" &&
		test ! -s "$T/man.err" || { echo "$f:"; cat "$T/man.err"; exit 1; }
		for s in NAME SYNOPSIS DESCRIPTION OPTIONS "SEE ALSO"; do
			grep -q "^$s" "$T/page" || { echo "$f: no $s section"; exit 1; }
		done
	done
'

test_expect_success 'each option of each command'\''s --help is in its man page' '
	for c in $(commands); do
		pinion "$c" --help >"$T/help" &&
		render "$MAN1/pinion-$c.1" >"$T/page" &&
		help_options <"$T/help" | sort -u >"$T/opts" &&
		while read -r o; do
			grep -qE -- "(^|[ ,])$o([ ,=[]|\$)" "$T/page" ||
				{ echo "pinion-$c(1) lacks $o"; exit 1; }
			echo "$o" >>"$T/checked"
		done <"$T/opts"
	done &&
	test "$(wc -l <"$T/checked")" -ge 150 &&
	pinion --help >"$T/help" && render "$MAN1/pinion.1" >"$T/page" &&
	for o in --progress --verbose -v --version; do grep -q -- "$o" "$T/page"; done &&
	for c in $(commands); do test_grep "pinion-$c(1)" "$T/page"; done
'

test_expect_success 'man pages follow the tables: help words and man options are the same set' '
	for c in build ls gc snapshots; do
		pinion __complete options "$c" | sort -u >"$T/words" &&
		render "$MAN1/pinion-$c.1" | sed -n "/^OPTIONS/,/^[A-Z]/p" |
			grep -oE "^ +(-[A-Za-z0-9], )?--[a-z0-9-]+" | tr -d " " | tr , "\n" |
			sort -u >"$T/manopts" &&
		test_cmp "$T/words" "$T/manopts"
	done
'

# comp LINE: the completions bash offers at the end of LINE (the cursor
# there), as the shell would call the installed script
comp() {
	bash -c '
		. "$1" || exit 1
		COMP_LINE=$2; COMP_POINT=${#2}
		read -ra COMP_WORDS <<<"$2"
		COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
		[[ $2 == *" " ]] && COMP_CWORD=${#COMP_WORDS[@]}
		_pinion; printf "%s\n" "${COMPREPLY[@]}"' _ "$BASHCOMP" "$1" 2>/dev/null
}

test_expect_success 'bash: complete -p registers _pinion; compgen over its words' '
	test_equal "$(bash -c ". \"$BASHCOMP\" && complete -p pinion")" "complete -F _pinion pinion" &&
	test_equal "$(bash -c ". \"$BASHCOMP\" && compgen -W \"\$($INSTALLED __complete commands)\" -- sna")" \
		snapshots
'

test_expect_success 'bash completes commands, global options and each command'\''s options' '
	test_equal "$(comp "$INSTALLED bu")" build &&
	test_equal "$(comp "$INSTALLED --prog")" --progress &&
	test_equal "$(comp "$INSTALLED --progress plain sn")" snapshots &&
	test_equal "$(comp "$INSTALLED build --no-c")" --no-cache &&
	test_equal "$(comp "$INSTALLED -v snapshots --old")" --older-than &&
	comp "$INSTALLED build -" | sort >"$T/got" &&
	pinion build --help | help_options | sort -u >"$T/want" &&
	test_cmp "$T/want" "$T/got"
'

test_expect_success 'bash completes oci: directories and the names in a layout' '
	mkdir -p rootfs layouts/lay other/sub && echo hi >rootfs/f &&
	pinion import rootfs oci:layouts/lay:v1 >/dev/null &&
	pinion import rootfs oci:layouts/lay:v2 >/dev/null &&
	cd "$T" &&
	test_equal "$(comp "$INSTALLED ls oci:oth")" other/ &&
	comp "$INSTALLED ls oci:layouts/" >"$T/got" &&
	printf "%s\n" layouts/lay layouts/lay: >"$T/want" && test_cmp "$T/want" "$T/got" &&
	comp "$INSTALLED inspect oci:layouts/lay:" | sort >"$T/got" &&
	printf "%s\n" v1 v2 >"$T/want" && test_cmp "$T/want" "$T/got" &&
	test_equal "$(comp "$INSTALLED unpack oci:layouts/lay:v")" "$(printf "v1\nv2")" &&
	test_equal "$(comp "$INSTALLED import roo")" rootfs
'

test_expect_success 'bash completes oci-archive: and docker-archive: files' '
	cd "$T" && mkdir -p arch/sub && : >arch/model.tar &&
	comp "$INSTALLED predict oci-archive:arch/" | sort >"$T/got" &&
	printf "%s\n" arch/model.tar arch/sub/ >"$T/want" && test_cmp "$T/want" "$T/got" &&
	test_equal "$(comp "$INSTALLED run docker-archive:arch/mo")" arch/model.tar
'

test_expect_success 'zsh: _pinion parses and compinit binds it to pinion' '
	command -v zsh >/dev/null || { echo "zsh missing: tests/tools/deps.sh installs it"; exit 1; }
	zsh -n "$ZSHCOMP" &&
	head -1 "$ZSHCOMP" | grep -qx "#compdef pinion" &&
	test_equal "$(zsh -fc "fpath=(${ZSHCOMP%/*} \$fpath); autoload -Uz compinit &&
		compinit -u -d $T/zcompdump && print -r -- \$_comps[pinion]")" _pinion
'

# zcomp LINE: what the installed _pinion offers at the end of LINE, run by
# zsh with compadd, compset and _files standing in for the completion system
zcomp() {
	cat >"$T/zcomp.zsh" <<-\EOF
	fpath=($1 $fpath)
	compadd() { local -a a; a=("$@"); print -rl -- "${(@)a[${a[(i)--]}+1,-1]}"; }
	compset() { PREFIX=${PREFIX#$~2}; }
	_files() { print -r -- "_files $*"; print -r -- "prefix=$PREFIX" >&2; }
	autoload -Uz _pinion
	words=(${=2}); CURRENT=${#words}; PREFIX=${words[-1]}
	_pinion
	EOF
	zsh -f "$T/zcomp.zsh" "${ZSHCOMP%/*}" "$1"
}

test_expect_success 'zsh offers the commands, each command'\''s options and the names in a layout' '
	zcomp "$INSTALLED sna" >got && test_grep "^snapshots$" got &&
	test_equal "$(wc -l <got)" "$(pinion __complete commands | wc -l)" &&
	zcomp "$INSTALLED -v --progress plain build --no" >got && test_grep "^--no-cache$" got &&
	pinion __complete options build >want && test_cmp want got &&
	zcomp "$INSTALLED ls oci:layouts/lay:" | sort >got &&
	printf "%s\n" v1 v2 >want && test_cmp want got &&
	test_equal "$(zcomp "$INSTALLED ls oci:lay")" "_files -/" &&
	test_equal "$(zcomp "$INSTALLED unpack docker-archive:x" 2>&1 | sed "s/ *\$//")" "$(printf "_files\nprefix=x")"
'

test_expect_success 'make uninstall removes every file install wrote' '
	mk uninstall DESTDIR="$D" PREFIX=$P >"$T/uninstall.log" 2>&1 ||
		{ cat "$T/uninstall.log"; false; } &&
	find "$D" ! -type d >"$T/left" &&
	test_cmp /dev/null "$T/left"
'

README="$TEST_ROOT/README.md"

test_expect_success 'README names each shared library the binary links and its Debian package' '
	readelf -d "$PINION_BUILD/pinion" | sed -n "s/.*NEEDED.*\[\(.*\)\]/\1/p" >"$T/needed" &&
	test "$(wc -l <"$T/needed")" -ge 5 &&
	apt=$(grep -E "^ +apt-get install lib" "$README") &&
	while read -r lib; do
		# glibc itself, and the sanitizer runtimes of a SANITIZE= build (never shipped)
		case $lib in libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|ld-linux*) continue ;;
		libasan.so.*|libubsan.so.*|liblsan.so.*|libtsan.so.*) continue ;; esac
		path=$(ldconfig -p | awk -v l="$lib" "\$1 == l { print \$NF; exit }") &&
		pkg=$(dpkg -S "$(readlink -f "$path")" | sed "s/:.*//") &&
		case " $apt " in *" $pkg "*) ;; *) echo "README: $lib ($pkg) not in: $apt"; exit 1 ;; esac
	done <"$T/needed"
'

test_expect_success 'README says where make demo writes, how to remove it, and names PINION_CACHE_DIR' '
	demo=$(sed -n "s/^work=\${PINION_DEMO_DIR:-\(.*\)}$/\1/p" "$TEST_ROOT/examples/demo.sh") &&
	fixtures=$(sed -n "s/^: \"\${PINION_TEST_CACHE:=\(.*\)}\"$/\1/p" "$TEST_ROOT/examples/demo.sh") &&
	test -n "$demo" && test -n "$fixtures" &&
	rmline=$(grep -E "^ +rm -rf " "$README") &&
	for d in "$demo" "$fixtures" "~/.cache/pinion-test" "~/.cache/pinion"; do
		case " $rmline " in *" $d "*) ;; *) echo "README rm line lacks $d: $rmline"; exit 1 ;; esac
	done &&
	test_grep "PINION_DEMO_DIR" "$README" && test_grep "PINION_TEST_CACHE" "$README" &&
	test_grep "PINION_CACHE_DIR" "$README" &&
	test_grep "snapshots prune --all" "$README" &&
	mkdir -p h && env -u XDG_CACHE_HOME -u PINION_CACHE_DIR HOME="$T/h" pinion snapshots list &&
	test -d h/.cache/pinion/snapshots &&
	PINION_CACHE_DIR="$T/pc" pinion snapshots list && test -d pc/snapshots
'

# the ```sh blocks of a markdown file, one file each
sh_blocks() {
	awk -v out="$2" "/^\`\`\`sh\$/ { n++; on = 1; next } /^\`\`\`/ { on = 0; next }
		on { print > (out \".\" n \".sh\") }" "$1"
}

test_expect_success 'the guides'\'' shell blocks run under sh: dash -n (and checkbashisms when installed)' '
	for g in "$TEST_ROOT"/docs/guides/*.md; do sh_blocks "$g" "$T/blk.$(basename "$g" .md)"; done &&
	ls "$T"/blk.ci.*.sh >/dev/null &&
	for b in "$T"/blk.*.sh; do
		dash -n "$b" || { echo "$b:"; cat "$b"; exit 1; }
		! grep -n "<<<\|\[\[\|function " "$b" || { echo "bashism in $b"; exit 1; }
		if command -v checkbashisms >/dev/null; then checkbashisms -f "$b" || exit 1; fi
	done &&
	printf "x <<<\"\$P\"\n" >"$T/bad.sh" && ! dash -n "$T/bad.sh" 2>/dev/null
'

test_done
