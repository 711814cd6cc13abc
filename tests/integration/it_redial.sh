#!/usr/bin/env bash
# A partner that comes back is dialled at once: while our link to it waits
# out ZeroMQ's reconnect back-off (up to 1 s), its own link reaches our
# ROUTER, and we dial it then (LINK-REDIAL) instead of at the next retry.
# Whether its frames or our retry come first is a race the redial usually
# wins (the back-off is 1 s by the time the partner has been down 3 s), so
# the test gives it up to 5 outages; what was queued meanwhile must arrive
# either way.
source "$(dirname "$0")/lib.sh"

"$CLUSTER" up "$WORK" vn.ais us.cisa >/dev/null
A=$WORK/vn.ais
stored() { sqlite3 "$WORK/us.cisa/store.db" "select count(*) from indicator"; }
link_up() { "$MOUX" status -d "$A" --json | jq -e '.partners[0].link == "up"' >/dev/null; }
# Redials since us.cisa was last started, counted from just before the
# start: the cluster's start may itself redial (vn.ais starts first), and a
# frame of us.cisa's read after the kill may too, while it is still dead.
redial_lines() { grep -c "LINK-REDIAL: partner us.cisa reached us" "$A/mouxd.log" || true; }

sent=0
for outage in 1 2 3 4 5; do
    "$CLUSTER" stop "$WORK" us.cisa --kill
    wait_for 10 "vn.ais to see its link down" '! link_up'
    "$MOUX" publish -d "$A" --type domain-name --value "outage-$outage.redial.example" >/dev/null
    sent=$((sent + 1))
    sleep 3 # our reconnect back-off grows to its 1 s ceiling meanwhile
    before=$(redial_lines)
    "$CLUSTER" start "$WORK" us.cisa
    wait_for 15 "vn.ais's link up again after outage $outage" link_up
    wait_for 15 "the $sent item(s) queued during the outages at us.cisa" '[ "$(stored)" = $sent ]'
    redials=$(( $(redial_lines) - before ))
    if [ "$redials" -ge 1 ]; then
        note "outage $outage: us.cisa's return redialled at once (LINK-REDIAL)"
        break
    fi
    note "outage $outage: our retry came before us.cisa's frames; trying again"
done
[ "$redials" -ge 1 ] || fail "no LINK-REDIAL in 5 outages: the partner's return did not trigger a dial"
# Once per outage, however much the partner sends meanwhile.
[ "$redials" = 1 ] || fail "LINK-REDIAL logged $redials times for one return"
