"""``cowcheck --completion bash|zsh``: a completion script made from the parser, with
the bundled scenarios and built-in rules as the words of SCENARIO and --rule (and
files, for a project's own)."""

from __future__ import annotations

import argparse

from cowcheck.families import FAMILY_NAMES, all_scenario_files, family

_SCRIPT = """\
# cowcheck completion for {shell}: eval "$(cowcheck --completion {shell})"
{prelude}_cowcheck() {{
    local cur prev verb i
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    verb=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in -*) ;; *) verb="${{COMP_WORDS[i]}}"; break ;; esac
    done
    case "$prev" in
        -r|--rule|--base)
            COMPREPLY=($(compgen -W "{rules}" -- "$cur") $(compgen -f -X '!*.py' -- "$cur") $(compgen -d -- "$cur"))
            return ;;
        -s|--scenario) COMPREPLY=($(compgen -W "{scenarios}" -- "$cur") $(compgen -f -X '!*.toml' -- "$cur")); return ;;
    esac
    case "$verb $prev" in
{values}    esac
    if [[ -z "$verb" ]]; then
        COMPREPLY=($(compgen -W "{verbs} --help --version --completion" -- "$cur"))
        return
    fi
    case "$verb" in
{options}    esac
}}
complete -o filenames -F _cowcheck cowcheck
"""


def script(shell: str) -> str:
    from cowcheck.cli.program import parser

    top = parser(every=True)
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    values: dict[str, set[str]] = {}
    options = []
    for name, p in sub.choices.items():
        flags = sorted({s for a in p._actions for s in a.option_strings})
        words = " ".join(flags)
        positional = any(not a.option_strings and a.dest == "scenario" for a in p._actions)
        extra = (
            ' $(compgen -W "$scenarios" -- "$cur") $(compgen -f -- "$cur")'
            if positional
            else ' $(compgen -f -- "$cur")'
        )
        options.append(f'        {name}) COMPREPLY=($(compgen -W "{words}" -- "$cur"){extra}) ;;\n')
        for a in p._actions:
            if a.choices and a.option_strings and not isinstance(a.choices, dict):
                key = "|".join(f'"{name} {o}"' for o in a.option_strings)
                values.setdefault(key, set()).update(str(c) for c in a.choices)
    scenarios = " ".join(f.stem for f in all_scenario_files())
    value_cases = "".join(
        f'        {k}) COMPREPLY=($(compgen -W "{" ".join(sorted(v))}" -- "$cur")); return ;;\n'
        for k, v in sorted(values.items())
    )
    prelude = "autoload -U +X bashcompinit && bashcompinit\n" if shell == "zsh" else ""
    text = _SCRIPT.format(
        shell=shell,
        prelude=prelude,
        rules=" ".join(n for f in FAMILY_NAMES for n in family(f).builtin_names()),
        scenarios=scenarios,
        values=value_cases,
        verbs=" ".join(sub.choices),
        options="".join(options),
    )
    return text.replace('"$scenarios"', f'"{scenarios}"')
