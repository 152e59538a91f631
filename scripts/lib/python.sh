# Sourced by scripts that drive the server from Python: one virtualenv per script, cached.
#
# python_venv NAME REQUIREMENTS: sets `python` to an interpreter of a virtualenv holding
# REQUIREMENTS (reinstalled when the file changes). With PYTHON set, that interpreter is used
# (it must belong to a virtualenv, since this installs into it); otherwise the virtualenv is
# ~/.cache/chat-NAME-venv. Prints what went wrong and returns 1 on failure.
python_venv() {
    local name=$1 requirements=$2 venv stamp prefix
    if [ -n "${PYTHON:-}" ]; then
        python=$PYTHON
        if ! "$python" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)' 2>/dev/null; then
            echo "PYTHON=$PYTHON is not the interpreter of a virtualenv: this script installs into it"
            return 1
        fi
    else
        venv=$HOME/.cache/chat-$name-venv
        if ! "$venv/bin/python" -c '' 2>/dev/null; then
            rm -rf "$venv"
            python3 -m venv "$venv" || return 1
        fi
        python=$venv/bin/python
    fi
    prefix=$("$python" -c 'import sys; print(sys.prefix)') || return 1
    stamp=$prefix/$name-requirements.txt
    if ! cmp -s "$requirements" "$stamp"; then
        "$python" -m pip install -q --disable-pip-version-check --no-cache-dir \
            -r "$requirements" || return 1
        cp "$requirements" "$stamp"
    fi
}
