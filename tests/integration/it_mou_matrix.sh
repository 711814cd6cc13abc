#!/usr/bin/env bash
# The example MOUs of deploy/examples/, enforced end to end: every agency they
# name runs as a real daemon under exactly those agreements, and a table of
# cases (one item each) says, for every direct path in both directions of
# every MOU and every relay path through the alliance coordinator vn.vncert,
# where the item must arrive (and with which origin) and where it must be
# refused, with which reason. After the sentinels have arrived and every
# outbox has drained, each item must be at exactly its expected holders and
# nowhere else, every refusal must be in the deciding node's event table
# with its reason, and every node's per-MOU decision counts must add up to
# what the table implies.
source "$(dirname "$0")/lib.sh"
t0=$(( $(date +%s%N) / 1000000 ))

# ---------------------------------------------------------------------------
# Agencies, by the short names the tables use.
declare -A ID=([ais]=vn.ais [cisa]=us.cisa [vendor]=vendor.example [ncsc]=vn.ncsc
               [vncert]=vn.vncert [evn]=vn.evn-cert [sbv]=vn.sbv-cert [vnpt]=vn.vnpt-cert)
ALIASES=(ais cisa vendor ncsc vncert evn sbv vnpt)
declare -A ALIAS
for a in "${ALIASES[@]}"; do ALIAS[${ID[$a]}]=$a; done

# Who partners with whom comes from the example MOUs themselves.
declare -A PARTNERS MOU_ID MOU_FILE
mou_args=()
for f in "$ROOT"/deploy/examples/*.mou; do
    read -r pa pb < <(sed -nE 's/^party-[ab]: ([^ ]+) root-fingerprint .*/\1/p' "$f" | paste -sd' ')
    a=${ALIAS[$pa]:-} b=${ALIAS[$pb]:-}
    [ -n "$a" ] && [ -n "$b" ] || fail "$(basename "$f"): $pa or $pb is not in this test's matrix"
    PARTNERS[$a]+=" $b" PARTNERS[$b]+=" $a"
    MOU_ID[$a|$b]=$(sed -nE 's/^id: //p' "$f") MOU_ID[$b|$a]=${MOU_ID[$a|$b]}
    MOU_FILE[$a|$b]=$(basename "$f") MOU_FILE[$b|$a]=$(basename "$f")
    mou_args+=(--mou "$f")
done
for a in "${ALIASES[@]}"; do [ -n "${PARTNERS[$a]:-}" ] || fail "no example MOU names ${ID[$a]}"; done

# ---------------------------------------------------------------------------
# The matrix. One case per line:
#   SOURCE TYPE VALUE TLP CONFIDENCE LABELS HOLDERS REFUSALS
# LABELS    comma-separated, or - for none.
# VALUE     already normalised; @XY stands for the hex digits XY repeated to
#           the length of the hash type (file:md5 32, file:sha1 40, file:sha256 64).
# HOLDERS   who ends up with the item besides the source, as HOLDER<FROM:ORIGIN
#           (HOLDER got it from FROM; ORIGIN is the origin it holds, "anon" for
#           none), comma-separated, or -.
# REFUSALS  where it is stopped, as AT>PARTNER:REASON (AT does not pass it to
#           PARTNER), comma-separated, or -.
# Together they must account for every decision: the source's, for each of its
# partners, and each holder's, for each of its other partners (relays).
# Relay refusals (onward-not-allowed, tlp-forbids-onward, already-holds) are
# counted under the MOU with the partner the item came from; any other refusal
# is an outbound refusal, also recorded in AT's event table.
MATRIX=$(cat <<'EOF'
# vn.ais -> us.cisa: every type up to AMBER, confidence >= 50, one of the purposes; origin removed
ais    ipv4-addr    192.0.2.11                    green        80  network-defense             cisa<ais:anon    -
ais    url          http://ais.example/amber      amber        50  incident-response           cisa<ais:anon    -
ais    file:sha256  @a1                           clear        100 research,incident-response  cisa<ais:anon    -
ais    email-addr   report@ais.example            green        49  network-defense             -                ais>cisa:confidence-too-low
ais    domain-name  nolabel.ais.example           green        90  -                           -                ais>cisa:purpose-missing
ais    ipv6-addr    2001:db8::a1                  green        90  research                    -                ais>cisa:purpose-missing
ais    file:md5     @a2                           amber+strict 90  network-defense             -                ais>cisa:tlp-not-allowed
ais    domain-name  red.ais.example               red          100 network-defense             -                ais>cisa:tlp-not-allowed
ais    ipv4-addr    192.0.2.12                    red          10  -                           -                ais>cisa:tlp-not-allowed
ais    file:sha1    @a3                           green        10  -                           -                ais>cisa:confidence-too-low
# us.cisa -> vn.ais: the same terms the other way
cisa   file:sha1    @c1                           amber        100 incident-response           ais<cisa:anon    -
cisa   domain-name  cisa.example                  green        50  network-defense             ais<cisa:anon    -
cisa   ipv4-addr    198.51.100.31                 green        30  network-defense             -                cisa>ais:confidence-too-low
cisa   url          https://cisa.example/nolabel  clear        80  -                           -                cisa>ais:purpose-missing
cisa   ipv6-addr    2001:db8::c1                  red          100 incident-response           -                cisa>ais:tlp-not-allowed
cisa   email-addr   soc@cisa.example              amber+strict 80  network-defense             -                cisa>ais:tlp-not-allowed
# vendor.example -> vn.ncsc: domains and file hashes up to GREEN, confidence >= 70; vendor named
vendor domain-name  c2.vendor.example             green        70  -                           ncsc<vendor:vendor -
vendor file:md5     @b1                           clear        90  -                           ncsc<vendor:vendor -
vendor file:sha1    @b2                           green        100 malware                     ncsc<vendor:vendor -
vendor file:sha256  @b3                           green        80  -                           ncsc<vendor:vendor -
vendor ipv4-addr    203.0.113.41                  green        90  -                           -                vendor>ncsc:type-not-allowed
vendor ipv6-addr    2001:db8::b1                  clear        90  -                           -                vendor>ncsc:type-not-allowed
vendor url          http://vendor.example/dl      green        90  -                           -                vendor>ncsc:type-not-allowed
vendor email-addr   lure@vendor.example           green        90  -                           -                vendor>ncsc:type-not-allowed
vendor file:sha256  @b4                           amber        90  -                           -                vendor>ncsc:tlp-not-allowed
vendor domain-name  low.vendor.example            green        69  -                           -                vendor>ncsc:confidence-too-low
vendor file:md5     @b5                           red          100 -                           -                vendor>ncsc:tlp-not-allowed
vendor ipv4-addr    203.0.113.42                  red          10  -                           -                vendor>ncsc:type-not-allowed
# vn.ncsc -> vendor.example: a one-way MOU, nothing goes back
ncsc   domain-name  ncsc.example                  clear        100 -                           -                ncsc>vendor:direction-not-agreed
ncsc   file:sha256  @d1                           green        90  -                           -                ncsc>vendor:direction-not-agreed
# vn.vncert -> each member: every type up to GREEN; the coordinator's name removed
vncert ipv4-addr    203.0.113.51                  green        0   -                           evn<vncert:anon,sbv<vncert:anon,vnpt<vncert:anon -
vncert url          https://vncert.example/adv    clear        100 incident-response           evn<vncert:anon,sbv<vncert:anon,vnpt<vncert:anon -
vncert domain-name  amber.vncert.example          amber        90  -                           -                vncert>evn:tlp-not-allowed,vncert>sbv:tlp-not-allowed,vncert>vnpt:tlp-not-allowed
vncert file:sha1    @e1                           amber+strict 100 -                           -                vncert>evn:tlp-not-allowed,vncert>sbv:tlp-not-allowed,vncert>vnpt:tlp-not-allowed
vncert email-addr   cert@vncert.example           red          100 -                           -                vncert>evn:tlp-not-allowed,vncert>sbv:tlp-not-allowed,vncert>vnpt:tlp-not-allowed
# each member -> vn.vncert: every type up to AMBER, confidence >= 30, named; the coordinator
# relays CLEAR and GREEN to the other members (anonymised), never AMBER
evn    ipv4-addr    203.0.113.61                  green        50  -                           vncert<evn:evn,sbv<vncert:anon,vnpt<vncert:anon -
evn    url          http://evn.example/clear      clear        30  network-defense             vncert<evn:evn,sbv<vncert:anon,vnpt<vncert:anon -
evn    domain-name  amber.evn.example             amber        90  -                           vncert<evn:evn   vncert>sbv:tlp-forbids-onward,vncert>vnpt:tlp-forbids-onward
evn    file:sha256  @f1                           green        29  -                           -                evn>vncert:confidence-too-low
evn    file:md5     @f2                           amber+strict 90  -                           -                evn>vncert:tlp-not-allowed
evn    email-addr   soc@evn.example               red          100 -                           -                evn>vncert:tlp-not-allowed
sbv    email-addr   phish@sbv.example             green        80  -                           vncert<sbv:sbv,evn<vncert:anon,vnpt<vncert:anon -
sbv    ipv6-addr    2001:db8::5b                  amber        80  -                           vncert<sbv:sbv   vncert>evn:tlp-forbids-onward,vncert>vnpt:tlp-forbids-onward
sbv    domain-name  red.sbv.example               red          80  -                           -                sbv>vncert:tlp-not-allowed
vnpt   file:sha1    @f3                           green        60  -                           vncert<vnpt:vnpt,evn<vncert:anon,sbv<vncert:anon -
vnpt   ipv4-addr    203.0.113.71                  amber        60  -                           vncert<vnpt:vnpt vncert>evn:tlp-forbids-onward,vncert>sbv:tlp-forbids-onward
vnpt   url          https://vnpt.example/low      green        10  -                           -                vnpt>vncert:confidence-too-low
EOF
)
# Published after the whole matrix, one on every link an agency may send
# on: once each has arrived (and every outbox is empty), everything before it
# has been judged, so what has not arrived will not. (vn.ncsc may send
# nothing: its refusals are recorded when it publishes.)
SENTINELS=$(cat <<'EOF'
ais    domain-name  sentinel.ais.example          green        100 network-defense             cisa<ais:anon    -
cisa   domain-name  sentinel.cisa.example         green        100 incident-response           ais<cisa:anon    -
vendor domain-name  sentinel.vendor.example       green        100 -                           ncsc<vendor:vendor -
vncert domain-name  sentinel.vncert.example       green        100 -                           evn<vncert:anon,sbv<vncert:anon,vnpt<vncert:anon -
evn    domain-name  sentinel.evn.example          green        100 -                           vncert<evn:evn,sbv<vncert:anon,vnpt<vncert:anon -
sbv    domain-name  sentinel.sbv.example          green        100 -                           vncert<sbv:sbv,evn<vncert:anon,vnpt<vncert:anon -
vnpt   domain-name  sentinel.vnpt.example         green        100 -                           vncert<vnpt:vnpt,evn<vncert:anon,sbv<vncert:anon -
EOF
)
RELAY_REASONS=" onward-not-allowed tlp-forbids-onward already-holds "
HOLD_RE='^([a-z]+)<([a-z]+):([a-z]+)$'      # HOLDER<FROM:ORIGIN
REFUSE_RE='^([a-z]+)>([a-z]+):([a-z+-]+)$'  # AT>PARTNER:REASON

# ---------------------------------------------------------------------------
# Reading the tables: every case is checked for completeness here, and what
# it implies is added up: decision counts per node, partner, direction and
# outcome (EXP_COUNT), outbound refusals per node (EXP_EVENTS), deliveries
# per node (EXP_IDS, filled in once the ids are known).
declare -a C_SRC C_TYPE C_VAL C_TLP C_CONF C_LABELS C_HOLD C_REF C_TEXT C_ID
declare -A EXP_COUNT EXP_EVENTS
n_cases=0 n_deliveries=0 n_refusals=0 n_absent=0

count() { EXP_COUNT[$1]=$(( ${EXP_COUNT[$1]:-0} + 1 )); }
is_alias() { [ -n "${ID[$1]:-}" ]; }
is_partner() { case " ${PARTNERS[$1]} " in *" $2 "*) return 0 ;; esac; return 1; }

hexval() { # @XY -> XY repeated to the hash length
    local type=$1 v=$2 len out=
    case $type in file:md5) len=32 ;; file:sha1) len=40 ;; file:sha256) len=64 ;;
        *) fail "table: $v is only for hash types, not $type" ;; esac
    while [ ${#out} -lt "$len" ]; do out+=${v#@}; done
    echo "${out:0:len}"
}

# case_parse TEXT: one table line into case n_cases.
case_parse() {
    local text=$1 src type value tlp conf labels holders refusals extra
    read -r src type value tlp conf labels holders refusals extra <<<"$text"
    [ -n "$refusals" ] && [ -z "$extra" ] || fail "table: not 8 columns: $text"
    is_alias "$src" || fail "table: unknown source $src: $text"
    local value_text=$value
    case $value in @*) value=$(hexval "$type" "$value") ;; esac
    local i=$n_cases
    C_SRC[i]=$src C_TYPE[i]=$type C_VAL[i]=$value C_TLP[i]=$tlp C_CONF[i]=$conf
    C_LABELS[i]=${labels#-} C_HOLD[i]=${holders#-} C_REF[i]=${refusals#-}
    C_TEXT[i]="$src $type $value_text $tlp $conf $labels $holders $refusals"
    n_cases=$((n_cases + 1))

    # Every decision point: (who decides, for which partner, having got it from whom).
    local -A hold_from=() refused=()
    local tok h f o at p r
    for tok in ${C_HOLD[i]//,/ }; do
        [[ $tok =~ $HOLD_RE ]] || fail "table: bad holder $tok: $text"
        h=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} o=${BASH_REMATCH[3]}
        is_alias "$h" && is_alias "$f" && { [ "$o" = anon ] || is_alias "$o"; } \
            || fail "table: unknown agency in $tok: $text"
        is_partner "$f" "$h" || fail "table: $h is not a partner of $f: $text"
        [ -z "${hold_from[$h]:-}" ] && [ "$h" != "$src" ] || fail "table: $h holds it twice (or is the source): $text"
        hold_from[$h]=$f
    done
    for tok in ${C_REF[i]//,/ }; do
        [[ $tok =~ $REFUSE_RE ]] || fail "table: bad refusal $tok: $text"
        at=${BASH_REMATCH[1]} p=${BASH_REMATCH[2]} r=${BASH_REMATCH[3]}
        is_partner "$at" "$p" || fail "table: $p is not a partner of $at: $text"
        refused["$at>$p"]=$r
    done
    # decide AT FROM: AT (the source, FROM empty; or a holder that got it from
    # FROM) decides for each of its partners but FROM.
    local n_decisions=0
    decide() {
        local at=$1 from=$2 p
        for p in ${PARTNERS[$at]}; do
            [ "$p" != "$from" ] || continue
            n_decisions=$((n_decisions + 1))
            local r=${refused["$at>$p"]:-}
            if [ -n "${hold_from[$p]:-}" ] && [ "${hold_from[$p]}" = "$at" ]; then
                [ -z "$r" ] || fail "table: $at both sends to and refuses $p: $text"
                [ -z "$from" ] || count "$at|$from|relay|allowed"
                count "$at|$p|out|allowed"
                count "$p|$at|in|allowed"
                decide "$p" "$at"
            elif [ -n "$r" ]; then
                if [[ $RELAY_REASONS == *" $r "* ]]; then
                    [ -n "$from" ] || fail "table: $r is for relays, but $at is the source: $text"
                    count "$at|$from|relay|$r"
                else
                    [ -z "$from" ] || count "$at|$from|relay|allowed"
                    count "$at|$p|out|$r"
                    EXP_EVENTS[$at]=$(( ${EXP_EVENTS[$at]:-0} + 1 ))
                fi
            else
                fail "table: the case does not say whether $at passes the item to $p: $text"
            fi
        done
    }
    decide "$src" ""
    local n_tokens=$(( ${#hold_from[@]} + ${#refused[@]} ))
    [ "$n_tokens" = "$n_decisions" ] || fail "table: a holder or refusal no decision leads to: $text"
    n_deliveries=$((n_deliveries + ${#hold_from[@]})) n_refusals=$((n_refusals + ${#refused[@]}))
}

while IFS= read -r line; do
    case $line in ''|'#'*) continue ;; esac
    case_parse "$line"
done <<<"$MATRIX"
n_matrix=$n_cases
while IFS= read -r line; do
    case $line in ''|'#'*) continue ;; esac
    case_parse "$line"
done <<<"$SENTINELS"

# ---------------------------------------------------------------------------
# The cluster: every agency of the examples, under exactly those MOUs. Each
# node's partners, links and MOUs are as the examples say, and both ends of
# each MOU enforce the same bytes: the signed copy in $WORK/mou/ (the
# examples with the real root fingerprints put in).
agencies=()
for a in "${ALIASES[@]}"; do agencies+=("${ID[$a]}"); done
"$CLUSTER" up "$WORK" "${mou_args[@]}" "${agencies[@]}" >/dev/null
for a in "${ALIASES[@]}"; do
    got=$("$MOUX" status -d "$WORK/${ID[$a]}" --json |
          jq -r '.partners[] | "\(.agency) \(.link) \(.mou.id) \(.mou.hash)"' | sort)
    want=$(for p in ${PARTNERS[$a]}; do
               echo "${ID[$p]} up ${MOU_ID[$a|$p]} $("$MOUX" mou hash "$WORK/mou/${MOU_FILE[$a|$p]}")"
           done | sort)
    [ "$got" = "$want" ] || fail "${ID[$a]}: partners, links and MOUs are not as the examples say:
$got
expected:
$want"
done
note "${#ALIASES[@]} agencies up under the $(( ${#mou_args[@]} / 2 )) example MOUs in" \
     "$(( $(date +%s%N) / 1000000 - t0 )) ms"

# ---------------------------------------------------------------------------
# Publish every case at its source, the matrix first, then the sentinels.
publish_case() {
    local i=$1 src=${C_SRC[$1]} out l
    local args=(-d "$WORK/${ID[$src]}" --type "${C_TYPE[i]}" --value "${C_VAL[i]}"
                --tlp "${C_TLP[i]}" --confidence "${C_CONF[i]}")
    for l in ${C_LABELS[i]//,/ }; do args+=(--label "$l"); done
    out=$("$MOUX" publish "${args[@]}") || fail "publish failed: ${C_TEXT[i]}"
    [[ $out =~ ^(indicator--[0-9a-f-]{36})\ new$ ]] || fail "publish said \"$out\": ${C_TEXT[i]}"
    C_ID[i]=${BASH_REMATCH[1]}
}
for ((i = 0; i < n_cases; i++)); do publish_case "$i"; done

# Bounded wait for every expected delivery.
declare -A EXP_IDS
for ((i = 0; i < n_cases; i++)); do
    for tok in ${C_HOLD[i]//,/ }; do EXP_IDS[${tok%%<*}]+="${C_ID[i]} "; done
done
missing_deliveries() { # prints "holder id" for each delivery not there yet
    local h
    for h in "${!EXP_IDS[@]}"; do
        tr ' ' '\n' <<<"${EXP_IDS[$h]}" | sed '/^$/d' | sort >"$WORK/want.ids"
        "$MOUX" query -d "$WORK/${ID[$h]}" --json | jq -r .id | sort >"$WORK/have.ids"
        comm -23 "$WORK/want.ids" "$WORK/have.ids" | sed "s/^/$h /"
    done
}
deadline=$(( $(date +%s%N) / 1000000 + 20000 ))
while missing=$(missing_deliveries); [ -n "$missing" ]; do
    if [ $(( $(date +%s%N) / 1000000 )) -ge $deadline ]; then
        while read -r h id; do
            for ((i = 0; i < n_cases; i++)); do
                [ "${C_ID[i]}" = "$id" ] && echo "  not at $h after 20s: ${C_TEXT[i]}" >&2
            done
        done <<<"$missing"
        fail "expected deliveries missing"
    fi
    sleep 0.1
done
note "all $n_deliveries deliveries arrived in $(( $(date +%s%N) / 1000000 - t0 )) ms since start"

# Every outbox empty: the members and the others first, the coordinator last,
# so that whatever a member's batch made it queue is already counted.
outboxes() { "$MOUX" status -d "$WORK/${ID[$1]}" --json | jq '[.partners[].outbox] | add'; }
all_drained() {
    local a
    for a in ais cisa vendor ncsc evn sbv vnpt vncert; do [ "$(outboxes "$a")" = 0 ] || return 1; done
}
wait_for 10 "every outbox to drain" all_drained

# ---------------------------------------------------------------------------
# Snapshot every node once, indexed: what it holds (by id and by type and
# value, so a copy under another id would show too), the path it stored for
# each item, and its outbound refusals.
declare -A BY_ID BY_TV PATHS EVENT
for a in "${ALIASES[@]}"; do
    d=$WORK/${ID[$a]}
    "$MOUX" status -d "$d" --json >"$WORK/$a.status"
    while IFS=$'\t' read -r id type value rest; do
        BY_ID[$a|$id]+="$id $type $value $rest"$'\n'
        BY_TV[$a|$type|$value]+="$id $type $value $rest"$'\n'
    done < <("$MOUX" query -d "$d" --json | jq -r '[.id, .type, .value,
        "\(.tlp) \(.confidence) origin=\(.origin // "anon") from=\(.from // "local") labels=\(.labels | join(","))"] | @tsv')
    while IFS='|' read -r id hops; do PATHS[$a|$id]=$hops; done \
        < <(sqlite3 "$d/store.db" "select id, hops from indicator")
    while IFS='|' read -r p id reason; do EVENT[$a|${ALIAS[$p]:-$p}|$id]+=$reason; done \
        < <(sqlite3 "$d/store.db" "select partner, indicator_id, reason from event where kind='outbound-refused'")
done

# held NODE CASE: sets HELD to what NODE holds of the case's item, one line
# per stored copy ("" for none).
held() {
    HELD=${BY_ID[$1|${C_ID[$2]}]:-${BY_TV[$1|${C_TYPE[$2]}|${C_VAL[$2]}]:-}}
    HELD=${HELD%$'\n'}
}
# The path a holder stored for an item it got from FROM is the hops it came
# with, then FROM: anonymised and first-hand items come without hops, a
# relayed named item with the path its sender stored.
declare -A PATH_AT

for ((i = 0; i < n_cases; i++)); do
    src=${C_SRC[i]} id=${C_ID[i]} what="case $((i + 1)) (${C_TEXT[i]})"
    base="$id ${C_TYPE[i]} ${C_VAL[i]} ${C_TLP[i]} ${C_CONF[i]}"
    held "$src" "$i"
    [ "$HELD" = "$base origin=${ID[$src]} from=local labels=${C_LABELS[i]}" ] \
        || fail "$what: the source's own copy is wrong: $HELD"
    # Holders, in the order the item travelled (the table's), so a relay's path is known.
    declare -A holder=()
    PATH_AT=()
    for tok in ${C_HOLD[i]//,/ }; do
        [[ $tok =~ $HOLD_RE ]]
        h=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} o=${BASH_REMATCH[3]}
        holder[$h]=$f
        want="$base origin=$([ "$o" = anon ] && echo anon || echo "${ID[$o]}") from=${ID[$f]} labels=${C_LABELS[i]}"
        held "$h" "$i"
        [ "$HELD" = "$want" ] || fail "$what: at ${ID[$h]}:
  got:      ${HELD:-(nothing)}
  expected: $want"
        if [ "$o" = anon ] || [ "$f" = "$src" ]; then PATH_AT[$h]=${ID[$f]}
        else PATH_AT[$h]=${PATH_AT[$f]},${ID[$f]}; fi
        [ "${PATHS[$h|$id]}" = "${PATH_AT[$h]}" ] || fail "$what: ${ID[$h]} stored the path" \
            "\"${PATHS[$h|$id]}\", expected \"${PATH_AT[$h]}\" (it came with hops it should not carry?)"
    done
    for a in "${ALIASES[@]}"; do
        [ "$a" != "$src" ] && [ -z "${holder[$a]:-}" ] || continue
        held "$a" "$i"
        [ -z "$HELD" ] || fail "$what: reached ${ID[$a]}, which the MOUs do not allow: $HELD"
        n_absent=$((n_absent + 1))
    done
    for tok in ${C_REF[i]//,/ }; do
        [[ $tok =~ $REFUSE_RE ]]
        at=${BASH_REMATCH[1]} p=${BASH_REMATCH[2]} r=${BASH_REMATCH[3]}
        [[ $RELAY_REASONS == *" $r "* ]] && continue # counted, not an event: checked below
        got=${EVENT[$at|$p|$id]:-}
        [ "$got" = "$r" ] || fail "$what: ${ID[$at]}'s event table says \"${got:-no refusal}\"" \
            "for ${ID[$p]}, expected $r"
    done
    unset holder
done

# Nothing else was refused: outbound (events) or inbound (conforming senders).
for a in "${ALIASES[@]}"; do
    got=$(sqlite3 "$WORK/${ID[$a]}/store.db" "select count(*) from event where kind='outbound-refused'")
    [ "$got" = "${EXP_EVENTS[$a]:-0}" ] \
        || fail "${ID[$a]}: $got outbound refusals recorded, the matrix implies ${EXP_EVENTS[$a]:-0}"
    got=$(sqlite3 "$WORK/${ID[$a]}/store.db" "select count(*) from event where kind='item-refused'")
    [ "$got" = 0 ] || fail "${ID[$a]} refused $got item(s) inbound: a sender let through what the MOU forbids"
    jq -e '[.partners[].refused_in] | add == 0' "$WORK/$a.status" >/dev/null \
        || fail "${ID[$a]}: status shows refused inbound batches"
done

# Every node's per-MOU decision counts, against what the matrix implies.
# "in" may count more than expected: a batch sent again after a late receipt
# is judged again (its items as duplicates).
declare -A GOT_COUNT
while read -r key n; do GOT_COUNT[$key]=$n; done < <(
    for a in "${ALIASES[@]}"; do
        jq -r --arg a "$a" '.partners[] | .agency as $p | (.mou.counts // {}) | to_entries[] |
            .key as $d | .value | to_entries[] | "\($a)|\($p)|\($d)|\(.key) \(.value)"' "$WORK/$a.status"
    done | while IFS='|' read -r a p rest; do echo "$a|${ALIAS[$p]:-$p}|$rest"; done)
bad=
for key in $(printf '%s\n' "${!EXP_COUNT[@]}" "${!GOT_COUNT[@]}" | sort -u); do
    want=${EXP_COUNT[$key]:-0} got=${GOT_COUNT[$key]:-0}
    if [[ $key == *"|in|allowed" ]] && [ "$got" -ge "$want" ] && [ "$want" -gt 0 ]; then continue; fi
    [ "$got" = "$want" ] || bad+="  ${key//|/ }: $got, expected $want"$'\n'
done
[ -z "$bad" ] || fail "MOU decision counts (node partner direction outcome) differ from the matrix:
$bad"
n_counts=${#EXP_COUNT[@]}

note "cases run: $n_matrix matrix + $((n_cases - n_matrix)) sentinels; deliveries checked: $n_deliveries;" \
     "refusals checked: $n_refusals; absences checked: $n_absent; decision counts checked: $n_counts"
note "ok in $(( $(date +%s%N) / 1000000 - t0 )) ms"
