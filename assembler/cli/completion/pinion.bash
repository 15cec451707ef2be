# bash completion for pinion: commands, options, oci: layout paths and
# oci-archive: / docker-archive: files.
# The commands and each command's options come from the binary itself
# (`pinion __complete commands`, `pinion __complete options [CMD]`), which
# reads the option tables its --help prints, so this file never lists them.
# Installed by `make install` as $(PREFIX)/share/bash-completion/completions/pinion.

# _pinion_oci WORD: completions of an oci:DIR[:TAG] word: the directories
# (oci:DIR/), and the names in the layout once DIR is one (oci:DIR:NAME)
_pinion_oci() {
	local prog=$1 word=$2 path dir
	path=${word#oci:}
	if [[ $path == *:* ]]; then
		dir=${path%%:*}
		[[ -f $dir/index.json ]] || return
		"$prog" ls "oci:$dir" 2>/dev/null |
			awk -v p="oci:$dir:" '$1 != "<none>" { print p $1 }'
		return
	fi
	compgen -d -- "$path" | while IFS= read -r dir; do
		if [[ -f $dir/index.json ]]; then
			printf 'oci:%s\noci:%s:\n' "$dir" "$dir"
		else
			printf 'oci:%s/\n' "$dir"
		fi
	done
}

# _pinion_archive WORD: completions of an oci-archive:FILE or
# docker-archive:FILE word: files, and directories with a / to go on (the
# names inside an archive are not offered: listing one reads all of it)
_pinion_archive() {
	local t=${1%%:*} f
	compgen -f -- "${1#*:}" | while IFS= read -r f; do
		if [[ -d $f ]]; then printf '%s:%s/\n' "$t" "$f"; else printf '%s:%s\n' "$t" "$f"; fi
	done
}

_pinion() {
	local prog=${COMP_WORDS[0]} cur line cmd="" i w
	# the word under the cursor with its colons (COMP_WORDBREAKS splits at ':')
	line=${COMP_LINE:0:COMP_POINT}
	cur=${line##*[[:space:]]}
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--progress) ((i++)) ;;
		-*) ;;
		*) cmd=$w; break ;;
		esac
	done
	COMPREPLY=()
	if [[ -z $cmd && $cur != -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$("$prog" __complete commands 2>/dev/null)" -- "$cur")
	elif [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$("$prog" __complete options $cmd 2>/dev/null)" -- "$cur")
	elif [[ $cur == oci:* ]]; then
		mapfile -t COMPREPLY < <(_pinion_oci "$prog" "$cur")
		compopt -o nospace 2>/dev/null
	elif [[ $cur == oci-archive:* || $cur == docker-archive:* ]]; then
		mapfile -t COMPREPLY < <(_pinion_archive "$cur")
		compopt -o nospace 2>/dev/null
	else
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		compopt -o filenames 2>/dev/null
	fi
	# bash replaces only the part of the word after its last ':'
	if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
		local prefix=${cur%"${cur##*:}"}
		COMPREPLY=("${COMPREPLY[@]#"$prefix"}")
	fi
}
complete -F _pinion pinion
