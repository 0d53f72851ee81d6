#!/usr/bin/env bash
# End-to-end smoke test of the real application in a real X11 window, driven by a real mouse.
#
#   scripts/gui-smoke.sh              # needs Xvfb and xdotool (scripts/check-system-libs.sh smoke)
#
# Starts Xvfb on a free display, opens `qmlstudio gui` on a copy of resources/demo.qmls
# (trained for 3 epochs instead of 30) with a fresh settings folder, drags the H gate from
# the palette onto wire q1 just after the circuit's last column with xdotool (press, several
# moves, release), clicks Train, waits for the run to complete, saves with Ctrl+S and quits
# with Ctrl+Q. Then it checks the saved project: the gate is there, and a completed run with
# iterations trained the circuit that has it. Prints PASS or FAIL (exit code 0 or 1; 2 when
# Xvfb or xdotool is missing), leaves its screenshots (drag-preview.png, trained.png, and
# failure.png after a FAIL), the logs and the saved project in a temporary folder whose path
# it prints, and always stops the app and Xvfb.
#
# Widgets are found through the app's own report of their screen geometry
# ($QMLSTUDIO_DEBUG_GEOMETRY, see qmlstudio/gui/debug_geometry.py), not through fixed
# offsets, so the script follows the layout when docks or tool bars move.
#
# Environment: QMLSTUDIO_PYTHON (the Python with QML Studio installed; default .venv/bin/python,
# else python3), SMOKE_DISPLAY (a display number such as :91 instead of a free one).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${QMLSTUDIO_PYTHON:-}" ]; then
    python="$QMLSTUDIO_PYTHON"
elif [ -x "$root/.venv/bin/python" ]; then
    python="$root/.venv/bin/python"
else
    python="python3"
fi
for tool in Xvfb xdotool; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "gui-smoke: $tool is not installed (scripts/check-system-libs.sh smoke installs it)" >&2
        exit 2
    fi
done

work="$(mktemp -d -t qmlstudio-smoke-XXXXXX)"
geometry="$work/geometry.json"
project="$work/demo.qmls"
display=""
xvfb_pid=""
app_pid=""
started=$SECONDS

log() { echo "gui-smoke: $*"; }

cleanup() {
    local code=$?
    if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then
        kill "$app_pid" 2>/dev/null
        sleep 0.5
        kill -9 "$app_pid" 2>/dev/null
    fi
    if [ -n "$xvfb_pid" ] && kill -0 "$xvfb_pid" 2>/dev/null; then
        kill "$xvfb_pid" 2>/dev/null
        wait "$xvfb_pid" 2>/dev/null
    fi
    if [ "$code" -eq 0 ]; then
        rm -rf "$work/config"  # the screenshots, the logs and the saved project stay
    fi
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    screenshot "failure.png"
    echo "gui-smoke: FAIL: $*" >&2
    if [ -s "$work/app.log" ]; then
        echo "--- the app's output (last 30 lines) ---" >&2
        tail -n 30 "$work/app.log" >&2
    fi
    echo "gui-smoke: screenshots and logs are in $work" >&2
    exit 1
}

# A screenshot of the whole X screen, taken by Qt (no ImageMagick needed).
screenshot() {
    [ -n "$display" ] || return 0
    DISPLAY="$display" QT_QPA_PLATFORM=xcb timeout 15 "$python" -c '
import sys
from PySide6.QtWidgets import QApplication
app = QApplication(["shot"])
sys.exit(0 if app.primaryScreen().grabWindow(0).save(sys.argv[1]) else 1)' "$work/$1" >/dev/null 2>&1 \
        && log "screenshot $work/$1"
}

# geo EXPR: a Python expression over the app's geometry report `g` (printed).
geo() {
    "$python" -c 'import json, sys; g = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$geometry" "$1"
}

# wait_for SECONDS WHAT EXPR: polls the geometry report until EXPR is true.
wait_for() {
    local deadline=$((SECONDS + $1)) what="$2" expr="$3"
    while [ "$SECONDS" -lt "$deadline" ]; do
        if [ -n "$app_pid" ] && ! kill -0 "$app_pid" 2>/dev/null; then
            fail "the app exited while waiting for $what"
        fi
        if [ -s "$geometry" ] && [ "$(geo "bool($expr)" 2>/dev/null)" = True ]; then
            return 0
        fi
        sleep 0.2
    done
    fail "timed out after $1 s waiting for $what"
}

# ------------------------------------------------------------ X server
if [ -n "${SMOKE_DISPLAY:-}" ]; then
    display="$SMOKE_DISPLAY"
    Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
    xvfb_pid=$!
else
    # -displayfd: Xvfb picks a free display and writes its number to fd 3.
    Xvfb -displayfd 3 -screen 0 1600x1000x24 -nolisten tcp 3>"$work/display" >"$work/xvfb.log" 2>&1 &
    xvfb_pid=$!
    for _ in $(seq 50); do
        [ -s "$work/display" ] && break
        sleep 0.1
    done
    display=":$(tr -dc '0-9' <"$work/display")"
fi
export DISPLAY="$display"
for _ in $(seq 50); do
    xdotool getmouselocation >/dev/null 2>&1 && break
    kill -0 "$xvfb_pid" 2>/dev/null || { cat "$work/xvfb.log" >&2; display=""; fail "Xvfb did not start"; }
    sleep 0.1
done
log "Xvfb on $display (pid $xvfb_pid); files in $work"

# ------------------------------------------------------------ the app
cp "$root/resources/demo.qmls" "$project" || fail "no resources/demo.qmls"
"$python" - "$project" <<'EOF' || fail "cannot prepare the demo project"
import json, sys
path = sys.argv[1]
data = json.load(open(path, encoding="utf-8"))
data["training"]["epochs"] = 3  # a few iterations are enough
data["runs"] = []
json.dump(data, open(path, "w", encoding="utf-8"), indent=1)
EOF

QT_QPA_PLATFORM=xcb QMLSTUDIO_CONFIG_DIR="$work/config" QMLSTUDIO_DEBUG_GEOMETRY="$geometry" \
    "$python" -m qmlstudio gui "$project" >"$work/app.log" 2>&1 &
app_pid=$!

window="$(timeout 30 xdotool search --sync --onlyvisible --name 'QML Studio' 2>/dev/null | head -n 1)"
[ -n "$window" ] || fail "no QML Studio window appeared within 30 s"
wait_for 20 "the window's geometry report" "g['palette'].get('gate:h', {}).get('visible') and g['canvas']['wires']"
log "window $window is up after $((SECONDS - started)) s"
# Let the layout settle (the dataset loads in the background): no change in the report for 1 s.
settle_deadline=$((SECONDS + 15))
while [ "$SECONDS" -lt "$settle_deadline" ]; do
    age="$("$python" -c 'import os, sys, time; print(time.time() - os.path.getmtime(sys.argv[1]))' "$geometry")"
    "$python" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 1.0 else 1)' "$age" && break
    sleep 0.3
done

# ------------------------------------------------------------ drag H onto q1
gates_before="$(geo "g['gates']")"
column="$(geo "g['canvas']['num_columns']")"
read -r sx sy <<<"$(geo "'%d %d' % (g['palette']['gate:h']['x'], g['palette']['gate:h']['y'])")"
read -r tx ty <<<"$(geo "'%d %d' % (g['canvas']['columns'][$column], g['canvas']['wires'][1])")"
inside="$(geo "(lambda v: v[0] < $tx < v[0] + v[2] and v[1] < $ty < v[1] + v[3])(g['canvas']['viewport'])")"
[ "$inside" = True ] || fail "wire q1, column $column ($tx, $ty) is not inside the canvas"
log "dragging H from ($sx, $sy) to wire q1, column $column at ($tx, $ty)"

xdotool mousemove "$sx" "$sy"
sleep 0.3
xdotool mousedown 1
sleep 0.2
# Past QApplication.startDragDistance() in small steps, then across to the wire.
for dx in 3 6 10 15 20; do
    xdotool mousemove "$((sx + dx))" "$sy"
    sleep 0.05
done
steps=10
for i in $(seq 1 "$steps"); do
    xdotool mousemove "$((sx + 20 + (tx - sx - 20) * i / steps))" "$((sy + (ty - sy) * i / steps))"
    sleep 0.08
done
xdotool mousemove "$((tx + 1))" "$ty"
sleep 0.2
xdotool mousemove "$tx" "$ty"
sleep 0.4
screenshot "drag-preview.png"
xdotool mouseup 1
wait_for 10 "the dropped gate" "g['gates'] == $gates_before + 1"
log "the drop added a gate ($gates_before -> $((gates_before + 1)) gates)"

# ------------------------------------------------------------ train
read -r bx by <<<"$(geo "'%d %d' % (g['actions']['run.train']['x'], g['actions']['run.train']['y'])")"
xdotool mousemove "$bx" "$by" click 1
wait_for 60 "the training run to complete" \
    "g['runs'] and g['runs'][-1]['status'] == 'completed' and g['run_state'] == 'idle'"
log "trained: $(geo "g['runs'][-1]")"
screenshot "trained.png"

# ------------------------------------------------------------ save and quit
xdotool windowfocus --sync "$window" 2>/dev/null || true
mtime_before="$(date -r "$project" +%s%N 2>/dev/null)"
xdotool key --clearmodifiers ctrl+s
for _ in $(seq 50); do
    [ "$(date -r "$project" +%s%N 2>/dev/null)" != "$mtime_before" ] && break
    sleep 0.2
done
sleep 0.3
xdotool key --clearmodifiers ctrl+q
for _ in $(seq 50); do
    kill -0 "$app_pid" 2>/dev/null || break
    sleep 0.2
done
if kill -0 "$app_pid" 2>/dev/null; then
    fail "the app did not quit within 10 s of Ctrl+Q"
fi
wait "$app_pid"
app_code=$?
app_pid=""
[ "$app_code" -eq 0 ] || fail "the app exited with code $app_code"

# ------------------------------------------------------------ the saved project
if ! "$python" - "$project" "$column" "$gates_before" <<'EOF'; then
import json, sys
path, column, before = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = json.load(open(path, encoding="utf-8"))
gate = {"gate": "h", "qubits": [1], "column": column}
gates = data["circuit"]["gates"]
problems = []
if gate not in gates:
    problems.append(f"the saved circuit has no {gate}")
if len(gates) != before + 1:
    problems.append(f"the saved circuit has {len(gates)} gates, expected {before + 1}")
runs = [r for r in data.get("runs", []) if r["status"] == "completed" and r["metrics"]["iteration"]]
if not runs:
    problems.append("no completed run with iterations was saved")
elif gate not in runs[-1]["config"]["circuit"]["gates"]:
    problems.append("the saved run did not train the circuit with the dropped gate")
for p in problems:
    print("gui-smoke:", p, file=sys.stderr)
if not problems:
    print(f"gui-smoke: saved project: {len(gates)} gates with H on q1 at column {column}; "
          f"run {runs[-1]['id']}: {len(runs[-1]['metrics']['iteration'])} iterations")
sys.exit(1 if problems else 0)
EOF
    fail "the saved project is not what the session made"
fi
echo "gui-smoke: PASS ($((SECONDS - started)) s; screenshots in $work)"
