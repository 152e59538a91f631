# Shared reporting for the check scripts: `pass NAME [WHAT]` and `fail NAME WHY [LOG...]`
# print one line each and count into $passed / $failed (the caller prints the summary).

passed=0
failed=0

pass() {
    echo "ok   $1${2:+: $2}"
    passed=$((passed + 1))
}

# fail NAME WHY [LOG...]: counts a failure and shows the logs.
fail() {
    local name=$1 why=$2 log
    shift 2
    echo "FAIL $name: $why"
    for log in "$@"; do
        [ -s "$log" ] && sed 's/^/    /' "$log"
    done
    failed=$((failed + 1))
}
