#!/usr/bin/env bash
# Writes a clean student copy of this repository (chapters/instructors.md):
#
#   scripts/student_copy.sh DEST
#
# DEST gets the files of the current commit (HEAD; commit first), without the solutions/
# folder, as a new git repository with a single commit, so that no solution is in its files
# or its history. It refuses when an exercise stub is not a stub (a `pub fn` in
# src/exercises/ without its `todo!`), since that would hand out a solution.
# Students implement src/exercises/chNN.rs and grade themselves with scripts/grade.sh; the
# instructor grades their copies with `scripts/grade.sh THEIR_COPY` from this repository.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ne 1 ]; then echo "usage: scripts/student_copy.sh DEST (a folder that does not exist yet)" >&2; exit 2; fi
dest=$1
if [ -e "$dest" ]; then echo "student_copy.sh: $dest exists; pass a new folder" >&2; exit 2; fi
if ! git -C "$root" diff --quiet HEAD -- src/exercises solutions tests; then
    echo "student_copy.sh: note: uncommitted changes in src/exercises, solutions or tests are not copied (the copy is HEAD)" >&2
fi

# Every stub must still be a stub: as many todo!( as pub fn in each exercise file of HEAD.
for f in $(git -C "$root" ls-tree --name-only HEAD src/exercises/ | grep -E 'ch[0-9]+\.rs$'); do
    text=$(git -C "$root" show "HEAD:$f")
    fns=$(grep -cE '^pub fn ' <<<"$text" || true)
    todos=$(grep -c 'todo!(' <<<"$text" || true)
    if [ "$fns" != "$todos" ]; then
        echo "student_copy.sh: $f has $fns pub fn but $todos todo!(): a solution may be in the stub; refusing" >&2
        exit 1
    fi
done

mkdir -p "$dest"
git -C "$root" archive --format=tar HEAD | tar -xf - -C "$dest"
rm -rf "$dest/solutions"
commit=$(git -C "$root" rev-parse --short HEAD)
(
    cd "$dest"
    git init -q
    git add -A
    git -c user.name="ddpm course" -c user.email="course@ddpm.invalid" \
        commit -q -m "ddpm course copy (from $commit): exercise stubs in src/exercises/, no solutions"
)
# What the copy must not hold.
if [ -e "$dest/solutions" ] || git -C "$dest" log --all --name-only --format= | grep -q '^solutions/'; then
    echo "student_copy.sh: solutions/ reached the copy" >&2; exit 1
fi
if [ "$(git -C "$dest" rev-list --all --count)" != 1 ]; then
    echo "student_copy.sh: the copy's history has more than one commit" >&2; exit 1
fi
echo "student copy written to $dest: $(git -C "$dest" ls-files | wc -l) files, one commit, no solutions/"
echo "students: implement src/exercises/chNN.rs, then run scripts/grade.sh in the copy"
