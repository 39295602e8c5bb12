#!/bin/sh
# make-man.sh OUT.1 NAME VERSION SUMMARY PROGRAM [COMMAND...]
# Writes the manual page of a Microscape program from its own --help (and the
# --help of each COMMAND, a subcommand), so that the page says exactly what the
# program says. The exit status table is part of every program's --help.
set -eu
out=$1 name=$2 version=$3 summary=$4 prog=$5
shift 5

# Verbatim text for roff: backslashes, minus signs (options stay copyable) and
# lines that would start a request.
roff() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
help_of() {
    if ! "$@" --help >"$out.help" 2>&1; then
        echo "make-man.sh: '$* --help' failed:" >&2
        cat "$out.help" >&2
        exit 1
    fi
}

{
    printf '.TH %s 1 "" "Microscape %s" "Microscape"\n' "$(echo "$name" | tr a-z A-Z | roff)" "$version"
    printf '.SH NAME\n%s \\- %s\n' "$(echo "$name" | roff)" "$summary"
    printf '.SH DESCRIPTION\nThe text below is what \\fB%s \\-\\-help\\fR prints.\n' "$(echo "$name" | roff)"
    help_of "$prog"
    printf '.PP\n.nf\n'
    roff <"$out.help"
    printf '.fi\n'
    if [ $# -gt 0 ]; then
        printf '.SH COMMANDS\n'
        for cmd in "$@"; do
            help_of "$prog" "$cmd"
            printf '.SS "%s %s"\n.nf\n' "$(echo "$name" | roff)" "$cmd"
            roff <"$out.help"
            printf '.fi\n'
        done
    fi
    printf '.SH SEE ALSO\n'
    printf 'microscape\\-controller(1), microscape\\-player(1), microscape\\-pack(1);\n'
    printf 'the guides and formats in /usr/share/doc/microscape\\-*/.\n'
} >"$out.tmp"
rm -f "$out.help"
mv "$out.tmp" "$out"
