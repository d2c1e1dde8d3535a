# shellcheck shell=bash
# Sourced by scripts/test and scripts/demo: makes the Python virtualenv that
# holds moto (tests/moto/requirements.txt, every version pinned).
#
# The venv lives in $FLEETSCAN_VENV, default <repo>/.venv. It is created when
# missing and reinstalled only when requirements.txt changed since the last
# install (a stamp file inside the venv holds its hash), so a second run
# costs nothing.

ensure_moto_venv() {
    local root="$1"
    local venv="${FLEETSCAN_VENV:-$root/.venv}"
    local requirements="$root/tests/moto/requirements.txt"
    local stamp="$venv/.fleetscan-requirements.sha256"
    local wanted
    wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"

    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        export FLEETSCAN_VENV="$venv"
        return 0
    fi

    local python="${PYTHON:-python3}"
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "error: $python not found; the moto tests need Python 3.9 or newer with venv and pip" >&2
        return 1
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "creating the moto virtualenv in $venv" >&2
        if ! "$python" -m venv "$venv"; then
            echo "error: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
            return 1
        fi
    fi
    echo "installing tests/moto/requirements.txt into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements"
    echo "$wanted" >"$stamp"
    export FLEETSCAN_VENV="$venv"
}
