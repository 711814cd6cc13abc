#!/usr/bin/env bash
# moux audit report end to end, on a three-agency cluster (a, b, c under the
# generated mesh MOUs: all types both ways up to TLP:AMBER):
#   1. a publishes items of five types and three TLPs, and three its MOUs
#      refuse (RED, AMBER+STRICT); b publishes two. Once every receipt is in,
#      a's report (text, JSON, HTML) counts exactly what was published, by
#      MOU, type and TLP, shared and received, and the refusals by reason
#      and MOU rule;
#   2. refusals coming in: mouxhostile, as c, sends a TLP:RED item and a
#      stale batch, which a refuses (in), under its MOU with c; b switches to
#      an MOU a does not hold, and what it publishes waits in its outbox (a
#      receipt outstanding) under the new MOU, while the superseded one keeps
#      what flowed under it; a retention purge at a is reported under the
#      MOU its items came under;
#   3. --mou, --from and --to select what the report covers;
#   4. b terminates its MOU with a reason full of HTML: the HTML report
#      escapes it;
#   5. headless Chromium renders both HTML reports: the DOM has the
#      headings, the numbers and the SVG charts, and the screenshot is not
#      blank (it shows the TLP colours). Without Chromium the test skips
#      (after checking everything else), never passes.
source "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || skip "jq is not installed"
HOSTILE=$MOUX_BIN/mouxhostile
[ -x "$HOSTILE" ] || fail "$HOSTILE is not built"

"$CLUSTER" up "$WORK" a.example b.example c.example >/dev/null
A=$WORK/a.example B=$WORK/b.example C=$WORK/c.example
AB=a.example--b.example-cluster AC=a.example--c.example-cluster
note "cluster up: a.example, b.example, c.example under the mesh MOUs (max-tlp amber)"

# ---- helpers -------------------------------------------------------------

report() { "$MOUX" audit report "$@"; }
# group JSON MOU: one MOU's part of a JSON report.
group() { jq -c --arg m "$2" '.mous[] | select(.mou == $m)' <<<"$1"; }
# expect JSON FILTER WHAT: the JSON must satisfy the jq filter.
expect() { jq -e "$2" <<<"$1" >/dev/null || fail "$3: got $(jq -c . <<<"$1" | head -c 3000)"; }
# tally FILE: {TYPE: {TLP: n}} of the "type,value,tlp" lines the mesh MOU allows.
tally() {
    jq -R -s 'split("\n") | map(select(length > 0) | split(","))
        | map(select(.[2] == "clear" or .[2] == "green" or .[2] == "amber"))
        | reduce .[] as $l ({}; .[$l[0]][$l[2]] += 1)' "$1"
}
outbox_empty() {
    "$MOUX" status -d "$1" --json |
        jq -e '[.partners[] | select(.link == "up" and .outbox == 0)] | length == 2' >/dev/null
}

# ---- 1. publish, deliver, report ----------------------------------------

cat > "$WORK/a.csv" <<'CSV'
ipv4-addr,198.51.100.1,clear
ipv4-addr,198.51.100.2,green
ipv4-addr,198.51.100.3,green
ipv4-addr,198.51.100.4,amber
domain-name,evil1.example.net,green
domain-name,evil2.example.net,amber
domain-name,evil3.example.net,amber
url,http://evil.example.net/a,clear
email-addr,phish@evil.example.net,green
file:sha256,e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,amber
ipv4-addr,198.51.100.66,red
domain-name,secret.example.net,red
url,http://evil.example.net/strict,amber+strict
CSV
cat > "$WORK/b.csv" <<'CSV'
ipv4-addr,203.0.113.7,green
url,http://b.example.org/x,amber
CSV
"$MOUX" publish -d "$A" --file "$WORK/a.csv" >/dev/null
"$MOUX" publish -d "$B" --file "$WORK/b.csv" >/dev/null
for n in "$B" "$C"; do
    wait_for 15 "a's items at $(basename "$n")" "[ \$(count_where $n '.from==\"a.example\"') -eq 10 ]"
done
wait_for 15 "b's items at a" "[ \$(count_where $A '.from==\"b.example\"') -eq 2 ]"
wait_for 15 "every receipt at a" "outbox_empty $A"
wait_for 15 "every receipt at b" "outbox_empty $B"
SHARED=$(tally "$WORK/a.csv") RECEIVED=$(tally "$WORK/b.csv")
note "a published 13 items (10 within the MOUs, 3 refused); b published 2; all receipted"

J=$(report -d "$A" --format json) || fail "report --format json failed"
expect "$J" '.agency == "a.example" and .log.intact and .log.entries == .log.in_period
    and .log.entries > 0' "the log as a whole"
expect "$J" '[.mous[].mou] | sort == ["a.example--b.example-cluster", "a.example--c.example-cluster"]' \
    "one group per MOU"
for m in $AB $AC; do
    g=$(group "$J" $m)
    expect "$g" ".state == \"active\" and .shared.total == 10
        and .shared.by_type == $SHARED
        and .shared.by_tlp == {\"clear\": 2, \"green\": 4, \"amber\": 4}" "$m: shared"
    expect "$g" '.refusals == [{"direction": "out", "kind": "outbound-refused",
        "reason": "tlp-not-allowed", "rule": "max-tlp", "count": 3}] and .refused == 3' \
        "$m: refusals"
    expect "$g" '.outstanding == 0 and .purged == 0 and .purges == []' "$m: outbox, purges"
    expect "$g" '[.events[] | select(.kind == "mou-activated")] | length == 1' "$m: activation"
done
expect "$(group "$J" $AB)" ".received.total == 2 and .received.by_type == $RECEIVED
    and .daily == [{\"day\": \"$(date -u +%F)\", \"shared\": 10, \"received\": 2}]" "$AB: received"
expect "$(group "$J" $AC)" '.received.total == 0' "$AC: received"
expect "$J" '.totals == {"mous": 2, "shared": 20, "received": 2, "refused": 6, "purged": 0,
    "outstanding": 0}' "totals"
expect "$J" '[.checkpoints.witnesses[].partner] == ["b.example", "c.example"]
    and .checkpoints.signed >= 1 and .checkpoints.latest.size > 0
    and ([.checkpoints.witnesses[] | select(.countersigned.size > 0 and .witnessed.size > 0
          and .inconsistent == 0)] | length == 2)' "checkpoints and witnesses"
note "JSON: per MOU 10 shared (by type and TLP as published), 3 refused (tlp-not-allowed, max-tlp);"
note "      2 received from b; both partners witness a's checkpoints and a theirs"

T=$(report -d "$A") || fail "report (text) failed"
grep -q '^audit report of a.example' <<<"$T" || fail "text: no title: $T"
grep -q "audit log: .* intact" <<<"$T" || fail "text: log not intact: $T"
grep -q "totals: *20 shared, 2 received, 6 refusal(s), 0 purged, 0 receipt(s) outstanding" <<<"$T" ||
    fail "text: totals: $T"
for m in $AB $AC; do
    grep -q "^MOU $m with .*: active" <<<"$T" || fail "text: no section for $m: $T"
done
[ "$(grep -cE '^ +ipv4-addr +1 +2 +1 +0 +0 +4$' <<<"$T")" -eq 2 ] || fail "text: ipv4-addr row: $T"
[ "$(grep -cE '^ +\(all types\) +2 +4 +4 +0 +0 +10$' <<<"$T")" -eq 2 ] || fail "text: TLP totals: $T"
[ "$(grep -cE '^ +out +outbound-refused +tlp-not-allowed +3 +rule: max-tlp$' <<<"$T")" -eq 2 ] ||
    fail "text: refusals: $T"
grep -qE '^ +received: 2 item' <<<"$T" || fail "text: received: $T"
note "text: the same numbers"

# ---- 2. refusals coming in; an MOU a does not hold; a retention purge ----

# c's daemon stops and mouxhostile, holding c's node directory, sends a
# what the MOU forbids (TLP:RED: refused item by item) and a stale batch
# (refused whole); then c runs again.
"$CLUSTER" stop "$WORK" c.example
hostile() {
    "$HOSTILE" --as "$C" --to "$A" --timeout-ms 10000 "$@" 2>>"$WORK/hostile.log" ||
        fail "mouxhostile $* did not run (see hostile.log)"
}
out=$(hostile --tlp red valid)
jq -e '.status == "ok" and .results[0].reason == "tlp-not-allowed"' <<<"$out" >/dev/null ||
    fail "a did not refuse the RED item: $out"
out=$(hostile stale)
jq -e '.status == "refused" and .reason == "stale-timestamp"' <<<"$out" >/dev/null ||
    fail "a did not refuse the stale batch: $out"
"$CLUSTER" start "$WORK" c.example
"$MOUX" wait -d "$C" --timeout 30 >/dev/null || fail "c's links are not up again"

# b activates an MOU a does not hold: nothing flows between them; what b
# publishes waits in its outbox for a (and reaches c).
sed 's/^id: .*/id: a.example--b.example-v2/' "$WORK/mou/a.example--b.example.mou" > "$WORK/v2.mou"
for x in a.example b.example; do
    "$MOUX" mou sign "$WORK/v2.mou" --root "$WORK/$x.root" --force >/dev/null || fail "$x cannot sign v2"
done
"$MOUX" mou activate -d "$B" "$WORK/v2.mou" >/dev/null || fail "b cannot activate v2"
"$MOUX" publish -d "$B" --type ipv4-addr --value 203.0.113.99 --tlp green >/dev/null
wait_for 15 "b's new item at c" "[ \$(count_where $C '.value==\"203.0.113.99\"') -eq 1 ]"

# A publication a refuses itself: the node's own refusal, under no MOU.
! "$MOUX" publish -d "$A" --type ipv4-addr --value 300.1.1.1 >/dev/null 2>&1 ||
    fail "a published 300.1.1.1"

out=$("$MOUX" mou purge -d "$A" --at +366d) || fail "purge: $out"
[ "$out" = "2 item(s) held past their MOU's retention purged" ] || fail "purge: $out"

J=$(report -d "$A" --format json) || fail "report at a failed"
expect "$(group "$J" $AC)" '.refused == 5 and ([.refusals[] | select(.direction == "in")] ==
    [{"direction": "in", "kind": "item-refused", "reason": "tlp-not-allowed", "rule": "max-tlp",
      "count": 1},
     {"direction": "in", "kind": "batch-refused", "reason": "stale-timestamp", "rule": null,
      "count": 1}])' "a: refusals from c"
expect "$(group "$J" $AB)" '.purged == 2 and (.purges | length == 1)
    and .purges[0].retention_days == 365 and .purges[0].purged == 2' "a: the purge"
expect "$(group "$J" $AC)" '.purged == 0 and .received.total == 0' "a: nothing purged or received under $AC"
expect "$J" '.node.refusals == [{"direction": "local", "kind": "publish-refused",
    "reason": "not an IPv4 address", "rule": null, "count": 1}] and .totals.refused == 9' \
    "a: its own refusal"
JB=$(report -d "$B" --format json) || fail "report at b failed"
expect "$JB" '[.mous[] | select(.partner == "a.example") | .mou] ==
    ["a.example--b.example-cluster", "a.example--b.example-v2"]' "b: both MOUs with a"
expect "$(group "$JB" $AB)" '.state == "superseded" and .shared.total == 2 and .received.total == 10
    and (has("outstanding") | not)' "b: the superseded MOU"
expect "$(group "$JB" a.example--b.example-v2)" '.state == "active" and .shared.total == 0
    and .outstanding == 1 and ([.events[] | select(.kind == "mou-activated")] | length == 1)' \
    "b: the v2 MOU"
note "a refused c's RED item (in, item-refused, max-tlp) and a stale batch (in, batch-refused)"
note "b under v2: 1 receipt outstanding; the superseded MOU keeps what flowed under it"
note "a refused a publication itself (local, under no MOU); its purge as of +366d: 2 items under $AB"

# ---- 3. selecting MOU and period -----------------------------------------

J=$(report -d "$A" --mou $AC --format json) || fail "--mou failed"
expect "$J" ".mou == \"$AC\" and ([.mous[].mou] == [\"$AC\"]) and .node == null
    and [.checkpoints.witnesses[].partner] == [\"c.example\"] and .totals.shared == 10" "--mou $AC"
rc=0; err=$(report -d "$A" --mou no-such-mou 2>&1 >/dev/null) || rc=$?
[ $rc -eq 1 ] && grep -q 'no MOU "no-such-mou"' <<<"$err" || fail "--mou no-such-mou: exit $rc: $err"
J=$(report -d "$A" --from "$(date -u -d tomorrow +%F)" --format json) || fail "--from tomorrow"
expect "$J" '.log.in_period == 0 and .totals.shared == 0 and .totals.refused == 0
    and (.mous | length == 2)' "--from tomorrow"
J=$(report -d "$A" --to "$(date -u -d yesterday +%F)" --format json) || fail "--to yesterday"
expect "$J" '.log.in_period == 0 and .mous == []' "--to yesterday"
J=$(report -d "$A" --from "$(date -u +%F)" --to "$(date -u +%F)" --format json) || fail "today"
expect "$J" '.log.in_period == .log.entries and .totals.shared == 20' "--from today --to today"
rc=0; report -d "$A" --format pdf >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "--format pdf: exit $rc, not 2"
rc=0; report -d "$A" --from yesterday >/dev/null 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "--from yesterday: exit $rc, not 1"
note "--mou, --from, --to select; an unknown MOU, format or date is refused"

# ---- 4. HTML, escaped ----------------------------------------------------

NASTY='<b id="inj">x & "y"</b>'
"$MOUX" mou terminate -d "$B" a.example--b.example-v2 --root "$WORK/b.example.root" \
    --reason "$NASTY" >/dev/null || fail "b cannot terminate v2"
report -d "$A" --format html --out "$WORK/a.html" >/dev/null || fail "html report at a"
report -d "$B" --format html --out "$WORK/b.html" >/dev/null || fail "html report at b"
for h in "$WORK/a.html" "$WORK/b.html"; do
    head -c 15 "$h" | grep -q '<!DOCTYPE html>' || fail "$h: not HTML"
    grep -q '</html>' "$h" || fail "$h: not complete"
    ! grep -qiE '<script|<link|@import|url\(["'"'"']?(https?:|//)|src=' "$h" ||
        fail "$h: not self-contained: $(grep -oiE '<script[^>]*>|<link[^>]*>|src=[^ ]*' "$h" | head -3)"
done
grep -qF '&lt;b id=&quot;inj&quot;&gt;x &amp; &quot;y&quot;&lt;/b&gt;' "$WORK/b.html" ||
    fail "b.html: the termination reason is not there, escaped"
! grep -qF '<b id="inj">' "$WORK/b.html" || fail "b.html: the termination reason is not escaped"
note "HTML: self-contained; the termination reason \"$NASTY\" is escaped"

# ---- 5. rendered in Chromium ---------------------------------------------

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] ||
    skip "chromium is not installed, so the HTML report cannot be rendered (deploy/install-deps installs it); everything before rendering passed"

# render NAME: DOM and 1200x2000 screenshot of WORK/NAME.html.
render() {
    local name=$1 opts=(--headless --no-sandbox --disable-gpu --hide-scrollbars
        --user-data-dir="$WORK/chromium-profile" --no-first-run)
    timeout 60 "$CHROMIUM" "${opts[@]}" --dump-dom "file://$WORK/$name.html" \
        >"$WORK/$name.dom" 2>>"$WORK/chromium.log" || fail "chromium --dump-dom $name.html failed"
    timeout 60 "$CHROMIUM" "${opts[@]}" --screenshot="$WORK/$name.png" --window-size=1200,2000 \
        "file://$WORK/$name.html" >>"$WORK/chromium.log" 2>&1 || fail "chromium --screenshot failed"
    [ -s "$WORK/$name.png" ] || fail "no screenshot of $name.html"
}
render a
render b
D=$WORK/a.dom
for h in '<h1>Audit report: a.example</h1>' '<h2>Summary</h2>' \
         "<h2>MOU <code>$AB</code> with b.example</h2>" "<h2>MOU <code>$AC</code> with c.example</h2>" \
         '<h3>Volume per day</h3>' '<h3>Items by type</h3>' '<h3>Items by TLP</h3>' \
         '<h3>Refusals by reason</h3>' '<h3>Retention purges</h3>' "<h2>The node's own entries</h2>" \
         '<h2>Checkpoints and witnesses</h2>'; do
    grep -qF "$h" "$D" || fail "a's DOM has no $h"
done
[ "$(grep -c '<svg class="chart"' "$D")" -eq 6 ] || fail "a's DOM: $(grep -c '<svg' "$D") charts, not 6"
grep -q 'fill="#33FF00"' "$D" && grep -q 'fill="#FFC000"' "$D" && grep -q 'fill="#FFFFFF"' "$D" ||
    fail "a's DOM: the TLP chart lacks the TLP colours"
# row TYPE CLEAR GREEN AMBER STRICT RED TOTAL: the shared row of a type, as rendered.
row() {
    printf '<tr data-dir="shared" data-type="%s"><td>%s</td><td class="n" data-tlp="clear">%s</td><td class="n" data-tlp="green">%s</td><td class="n" data-tlp="amber">%s</td><td class="n" data-tlp="amber+strict">%s</td><td class="n" data-tlp="red">%s</td><td class="n" data-tlp="total">%s</td></tr>' "$1" "$1" "$2" "$3" "$4" "$5" "$6" "$7"
}
for r in "ipv4-addr 1 2 1 0 0 4" "domain-name 0 1 2 0 0 3" "url 1 0 0 0 0 1" \
         "email-addr 0 1 0 0 0 1" "file:sha256 0 0 1 0 0 1"; do
    # shellcheck disable=SC2086
    [ "$(grep -cF "$(row $r)" "$D")" -eq 2 ] || fail "a's DOM: shared row \"$r\" not in both MOUs"
done
grep -qF '<td class="reason">tlp-not-allowed</td><td>max-tlp</td><td class="n">3</td>' "$D" ||
    fail "a's DOM: no refusal row tlp-not-allowed / max-tlp / 3"
grep -qF '<td class="reason">stale-timestamp</td>' "$D" || fail "a's DOM: no stale-timestamp refusal"
grep -qF '<td class="n">365</td><td class="n">2</td>' "$D" || fail "a's DOM: no purge row"
grep -qF '&lt;b id="inj"&gt;x &amp; "y"&lt;/b&gt;' "$WORK/b.dom" ||
    fail "b's DOM: the termination reason is not text"
! grep -qF '<b id="inj">' "$WORK/b.dom" || fail "b's DOM: the termination reason became markup"
note "DOM: headings, 6 SVG charts in TLP colours, every type/TLP count, refusals and the purge"

# The screenshots are not blank: many colours, among them the TLP ones.
# pngstat PNG: "WIDTH HEIGHT COLOURS HAS_GREEN HAS_AMBER" (a PNG decoder in
# the standard library: 8-bit RGB or RGBA, not interlaced, as Chromium writes).
cat > "$WORK/pngstat.py" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    pos += 12 + n
    if kind == b"IHDR":
        w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
assert depth == 8 and ctype in (2, 6) and interlace == 0, "unexpected PNG format"
bpp = 3 if ctype == 2 else 4
stride, raw = w * bpp, zlib.decompress(idat)
prev, colours = bytearray(stride), set()
for y in range(h):
    at = y * (stride + 1)
    f, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
    if f == 1:
        for x in range(bpp, stride):
            line[x] = (line[x] + line[x - bpp]) & 255
    elif f == 2:
        line = bytearray((a + b) & 255 for a, b in zip(line, prev))
    elif f == 3:
        for x in range(stride):
            line[x] = (line[x] + ((line[x - bpp] if x >= bpp else 0) + prev[x]) // 2) & 255
    elif f == 4:
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    colours.update(bytes(line[x:x + 3]) for x in range(0, stride, bpp))
print(w, h, len(colours), int(b"\x33\xff\x00" in colours), int(b"\xff\xc0\x00" in colours))
PY
for name in a b; do
    png=$WORK/$name.png
    size=$(stat -c %s "$png")
    if command -v python3 >/dev/null; then
        stats=$(python3 "$WORK/pngstat.py" "$png") || fail "$name.png cannot be decoded"
        read -r w h colours green amber <<<"$stats"
        [ "$w" -eq 1200 ] && [ "$h" -eq 2000 ] || fail "$name.png is ${w}x$h, not 1200x2000"
        [ "$colours" -gt 50 ] || fail "$name.png looks blank: $colours colours"
        [ "$green" -eq 1 ] && [ "$amber" -eq 1 ] || fail "$name.png lacks TLP:GREEN or TLP:AMBER pixels"
        note "$name.png: ${w}x$h, $size bytes, $colours colours, TLP green and amber among them"
    else
        [ "$size" -gt 30000 ] || fail "$name.png looks blank: $size bytes"
        note "$name.png: $size bytes (python3 is not installed: colours not counted)"
    fi
done

note "PASS"
