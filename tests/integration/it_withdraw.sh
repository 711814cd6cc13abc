#!/usr/bin/env bash
# Updates and withdrawals propagate: a new version replaces the old one at
# every partner that had it; a withdrawal (revocation) reaches every partner
# that had the item, also one that was down when it was withdrawn, and is
# final there.
source "$(dirname "$0")/lib.sh"
A=$WORK/vn.ais B=$WORK/us.cisa C=$WORK/vn.ncsc
"$CLUSTER" up "$WORK" vn.ais us.cisa vn.ncsc >/dev/null

"$MOUX" publish -d "$A" --type url --value https://bad.withdraw.example/x --tlp green >/dev/null
has() { [ "$(count_where "$WORK/$1" ".value==\"https://bad.withdraw.example/x\" and $2")" = 1 ]; }
wait_for 10 "the item at us.cisa" 'has us.cisa "(.revoked|not)"'
wait_for 10 "the item at vn.ncsc" 'has vn.ncsc "(.revoked|not)"'

"$MOUX" publish -d "$A" --type url --value https://bad.withdraw.example/x --tlp amber --confidence 90 >/dev/null
wait_for 10 "the new version at us.cisa" 'has us.cisa ".tlp==\"amber\" and .confidence==90"'
wait_for 10 "the new version at vn.ncsc" 'has vn.ncsc ".tlp==\"amber\" and .confidence==90"'

"$CLUSTER" stop "$WORK" vn.ncsc
"$MOUX" withdraw -d "$A" --type url --value HTTPS://bad.withdraw.example/x >/dev/null
wait_for 10 "the withdrawal at us.cisa" 'has us.cisa ".revoked"'
"$CLUSTER" start "$WORK" vn.ncsc
wait_for 15 "the withdrawal at vn.ncsc, which was down" 'has vn.ncsc ".revoked"'
if "$MOUX" withdraw -d "$A" --type url --value https://bad.withdraw.example/x 2>/dev/null; then
    fail "withdrawing twice should say there is nothing to withdraw"
fi
[ "$(count_where "$B" '.value=="https://bad.withdraw.example/x"')" = 1 ] || fail "stored twice"
note "new version and withdrawal reached every partner, also one that was down"
