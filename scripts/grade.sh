#!/usr/bin/env bash
# The exercise grader (chapters/instructors.md): grades a copy of this repository, one line per
# exercise (pass / fail / not attempted, points), and writes the same lines to a CSV.
#
#   scripts/grade.sh                       # grade this checkout's src/exercises/ (students)
#   scripts/grade.sh STUDENT_COPY          # grade a student's copy (instructors)
#
# Options:
#   --csv FILE       where to write the CSV (default grades.csv in the current directory); rows
#                    are appended when FILE already has this grader's header, so one file can
#                    collect a whole class
#   --name NAME      the student column (default: the student copy's folder name)
#   --chapters "NN NN"   grade only these chapters (default: every tests/exercises_chNN.rs)
#   --features LIST  build every chapter with the default features plus LIST (say `wgpu`, to
#                    share one build with other commands) instead of the usual choice:
#                    chapters 2-10, 15, 16 without burn (quick), 12, 13, 14, 17 with it
# Environment: DDPM_GRADE_CARGO_ARGS (extra cargo arguments, e.g. a --config file),
#   DDPM_GRADE_TIMEOUT (seconds each chapter's tests may run, default 300),
#   DDPM_GRADE_DIR (scratch folder for grading a student copy, default $TMPDIR/ddpm-grade),
#   CARGO_TARGET_DIR (as for any cargo build).
#
# How it grades, and why it is a script: it drives cargo once per chapter, so a chapter whose
# exercise file does not compile scores 0 for that chapter only (each src/exercises/chNN.rs is
# compiled into its own grader, tests/exercises_chNN.rs, never into the library). For a
# student copy it takes ONLY the student's src/exercises/chNN.rs files and grades them inside
# a scratch copy of this (the instructor's) repository, so edited graders, an edited
# Cargo.toml or a solutions/ folder in the student copy change nothing. The graders reject an
# exercise file that uses this crate (which computes most answers) or pastes in other files
# (tests/exercise_support/mod.rs). It never builds with the `solutions` feature and refuses to
# be asked to. Each exercise is worth one point: all of its tests must pass.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
csv=grades.csv
name=""
chapters=""
features=""
features_set=0
student=""
limit=${DDPM_GRADE_TIMEOUT:-300}
usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --csv) csv="$2"; shift 2 ;;
        --name) name="$2"; shift 2 ;;
        --chapters) chapters="$2"; shift 2 ;;
        --features) features="$2"; features_set=1; shift 2 ;;
        -h|--help) usage ;;
        -*) echo "grade.sh: unknown option $1" >&2; usage ;;
        *) if [ -n "$student" ]; then echo "grade.sh: one student copy at a time" >&2; exit 2; fi
           student="$1"; shift ;;
    esac
done
if [[ ",$features,${DDPM_GRADE_CARGO_ARGS:-}" == *solutions* ]]; then
    echo "grade.sh: refusing to grade with the solutions feature: it swaps every student's file" >&2
    echo "for the reference solution. Run without it (the grader picks the features itself)." >&2
    exit 2
fi
student=${student:-$root}
if [ ! -d "$student/src/exercises" ]; then
    echo "grade.sh: $student has no src/exercises/ folder: pass the root of a copy of the repository" >&2
    exit 2
fi
student=$(cd "$student" && pwd)
name=${name:-$(basename "$student")}
name=${name//,/ }
if [ -z "$chapters" ]; then
    chapters=$(cd "$root/tests" && ls exercises_ch*.rs | sed 's/exercises_ch\([0-9]*\)\.rs/\1/' | tr '\n' ' ')
fi

# Where to build: this checkout itself, or a scratch copy of it with the student's files in.
if [ "$student" = "$root" ]; then
    tree=$root
else
    tree=${DDPM_GRADE_DIR:-${TMPDIR:-/tmp}/ddpm-grade}
    # Keep the folder (and so its path, which keys cargo's incremental cache) from run to run;
    # replace its contents with the instructor's files, minus the solutions.
    mkdir -p "$tree"
    find "$tree" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
    (cd "$root" && git ls-files -z --cached --others --exclude-standard |
        grep -zv '^solutions/' | tar --null -T - -cf -) | (cd "$tree" && tar -xf -)
    rm -f "$tree"/src/exercises/ch*.rs
    for ch in $chapters; do
        if [ -f "$student/src/exercises/ch$ch.rs" ]; then
            cp "$student/src/exercises/ch$ch.rs" "$tree/src/exercises/ch$ch.rs"
        fi
    done
fi

burn_chapter() { grep -q 'fn needs_the_burn_feature' "$root/tests/exercises_ch$1.rs"; }
header="student,chapter,exercise,status,points,max_points,note"
if [ ! -f "$csv" ] || [ "$(head -n 1 "$csv")" != "$header" ]; then echo "$header" >"$csv"; fi
read -r -a extra <<<"${DDPM_GRADE_CARGO_ARGS:-}"
total=0
max_total=0
echo "grading $name ($student)"
for ch in $chapters; do
    grader="$root/tests/exercises_ch$ch.rs"
    if [ ! -f "$grader" ]; then echo "grade.sh: no grader tests/exercises_ch$ch.rs" >&2; exit 2; fi
    # The exercises, in order, from the grader's test names: exercise_N_M_what.
    exercises=$(grep -oE 'fn exercise_[0-9]+_[0-9]+_' "$grader" | sed -E 's/fn exercise_([0-9]+)_([0-9]+)_/\1.\2/' | awk '!seen[$0]++')
    if [ $features_set = 1 ]; then
        flags=(${features:+--features "$features"})
    elif burn_chapter "$ch"; then
        flags=()
    else
        flags=(--no-default-features)
    fi
    log=$(mktemp)
    whole=""
    if [ ! -f "$tree/src/exercises/ch$ch.rs" ]; then
        whole="not attempted|no file src/exercises/ch$ch.rs"
    else
        # Build first (no time limit: a first build of burn takes long), then run the tests
        # under a time limit, so that an endless loop in a student's code fails its chapter's
        # unfinished exercises instead of hanging the grading.
        cmd=(cargo test --release "${extra[@]}" "${flags[@]}" --no-fail-fast --test "exercises_ch$ch")
        rc=0
        if (cd "$tree" && "${cmd[@]}" --no-run) >"$log" 2>&1; then
            (cd "$tree" && timeout "$limit" "${cmd[@]}") >"$log" 2>&1 || rc=$?
        fi
        if ! grep -qE '^running [0-9]+ tests?$' "$log"; then
            first=$(grep -m1 -E '^error' "$log" | tr ',' ';' || true)
            whole="does not compile|${first:-cargo test failed before running; see its output}"
        elif grep -qE '^test (.*::)?needs_the_burn_feature \.\.\. FAILED' "$log"; then
            whole="needs the burn feature|built without burn: grade without --features or with burn"
        elif grep -qE '^test (.*::)?exercise_file_is_self_contained \.\.\. FAILED' "$log"; then
            why=$(grep -m1 -oE 'is not graded: .*' "$log" | sed 's/^is not graded: //' | tr ',' ';' || true)
            whole="fail|${why:-the exercise file is not self-contained}"
        fi
    fi
    echo "chapter $ch"
    if [ -n "${whole%%|*}" ] && [[ "$whole" == "does not compile"* ]]; then
        grep -m3 -A6 -E '^error' "$log" | sed 's/^/    | /' || true
    fi
    for ex in $exercises; do
        prefix="exercise_${ex/./_}_"
        if [ -n "$whole" ]; then
            status=${whole%%|*}
            note=${whole#*|}
        else
            # Every test of this exercise must pass; a todo!() panic in any means not attempted.
            results=$(grep -E "^test (.*::)?${prefix}[A-Za-z0-9_]* \.\.\. " "$log" || true)
            if [ -z "$results" ]; then
                status=fail; note="its tests did not finish"
                if [ "$rc" = 124 ]; then note="its tests did not finish in $limit s"; fi
            elif ! grep -qv ' \.\.\. ok$' <<<"$results"; then
                status=pass; note=""
            elif awk -v p="$prefix" '
                    /^---- / { inside = ($2 ~ ("(^|::)" p)) }
                    inside && /not yet implemented/ { found = 1 }
                    END { exit !found }' "$log"; then
                status="not attempted"; note="the stub's todo!() is still there"
            else
                status=fail
                note=$(awk -v p="$prefix" '
                    /^---- / { inside = ($2 ~ ("(^|::)" p)); next }
                    inside && /panicked at/ { getline; print; exit }' "$log" | tr ',' ';' | cut -c1-200)
            fi
        fi
        points=0
        if [ "$status" = pass ]; then points=1; fi
        total=$((total + points))
        max_total=$((max_total + 1))
        printf '  %-6s %-22s %d/1%s\n' "$ex" "$status" "$points" "${note:+   $note}"
        printf '%s,%s,%s,%s,%d,1,%s\n' "$name" "$ch" "$ex" "$status" "$points" "$note" >>"$csv"
    done
    rm -f "$log"
done
echo "total: $total/$max_total points (CSV: $csv)"
