# Shares of executed instructions by component, from a callgrind output file
# (the profiler tests/bench/run uses besides, or instead of, perf).
#
#   awk -f callgrind_shares.awk -v name=NAME callgrind.out.PID
#
# Components: libsodium (crypto), libprotobuf-c, libsqlite3, libzmq,
# libjansson, and moux's own code (the mouxd/moux executables, which hold
# node/lib statically). A component is charged the self cost of its
# functions, plus the self cost of functions in other objects (libc,
# libstdc++, the loader) in proportion to the calls it makes into them,
# directly or through other such functions: malloc and memcpy called by
# SQLite count for SQLite, as in perf_shares.awk. What no component calls
# (thread start-up, the loader) is "libc/kernel (unattributed)". Callgrind
# sees no kernel time (system calls, fsync): these are shares of
# user-space instructions only.

function component(o) {
    if (o ~ /libsodium/) return "crypto (libsodium)"
    if (o ~ /libprotobuf-c/) return "protobuf-c"
    if (o ~ /libsqlite3/) return "SQLite"
    if (o ~ /libzmq/) return "ZeroMQ"
    if (o ~ /libjansson/) return "JSON (jansson)"
    if (o ~ /\/mouxd$/ || o ~ /\/moux$/) return "moux code"
    return ""
}

# "(12) name" defines id 12 in the given table; "(12)" refers to it.
function resolve(v, kind,   id, rest) {
    if (v ~ /^\([0-9]+\)/) {
        id = v; sub(/\).*/, "", id); sub(/^\(/, "", id)
        rest = v; sub(/^\([0-9]+\)[ ]?/, "", rest)
        if (rest != "") names[kind, id] = rest
        return names[kind, id]
    }
    return v
}

/^ob=/ { ob = resolve(substr($0, 4), "ob"); next }
/^fn=/ { fn = ob "|" resolve(substr($0, 4), "fn"); fobj[fn] = ob; cob = ""; next }
/^cob=/ { cob = resolve(substr($0, 5), "ob"); next }
/^cfn=/ { cfn = resolve(substr($0, 5), "fn"); next }
/^calls=/ { incall = 1; next }
/^(summary|totals):/ { if ($2 + 0 > total) total = $2 + 0; next }
/^([+-]?[0-9]+|\*)[ \t]/ {
    cost = $2 + 0
    if (incall) {
        incall = 0
        callee = (cob != "" ? cob : ob) "|" cfn
        if (!((callee) in fobj)) fobj[callee] = (cob != "" ? cob : ob)
        edge[fn, callee] += cost
        into[callee] += cost
        cob = ""
        next
    }
    self[fn] += cost
    sum += cost
    next
}

function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }

END {
    if (total == 0) total = sum
    if (total == 0) exit
    ncomp = split("crypto (libsodium)|protobuf-c|SQLite|ZeroMQ|JSON (jansson)|moux code", comps, "|")
    # frac[g, c]: the share of non-component function g's cost that component c causes
    for (it = 0; it < 12; it++) {
        for (k in edge) {
            split(k, kk, SUBSEP); f = kk[1]; g = kk[2]
            if (component(fobj[g]) != "" || into[g] == 0) continue
            cf = component(fobj[f])
            w = edge[k] / into[g]
            if (cf != "") nf[g, cf] += w
            else for (i = 1; i <= ncomp; i++) if ((f, comps[i]) in frac) nf[g, comps[i]] += w * frac[f, comps[i]]
        }
        delete frac
        for (k in nf) frac[k] = nf[k]
        delete nf
    }
    for (f in self) {
        c = component(fobj[f])
        if (c != "") { share[c] += self[f]; continue }
        left = self[f]
        for (i = 1; i <= ncomp; i++) if ((f, comps[i]) in frac) {
            share[comps[i]] += self[f] * frac[f, comps[i]]
            left -= self[f] * frac[f, comps[i]]
        }
        n = fobj[f]; sub(/.*\//, "", n)
        other[n] += self[f]
        if (left > 0) unattributed += left
    }
    printf "{\"name\":%s,\"unit\":\"%%\",\"instructions\":%.0f,\"shares\":{", jstr(name), total
    first = 1
    for (c in share) { printf "%s%s:%.1f", (first ? "" : ","), jstr(c), 100 * share[c] / total; first = 0 }
    printf "%s\"libc/kernel (unattributed)\":%.1f},\"self_other\":{", (first ? "" : ","), 100 * unattributed / total
    first = 1
    for (n in other) { printf "%s%s:%.1f", (first ? "" : ","), jstr(n), 100 * other[n] / total; first = 0 }
    printf "}}\n"
}
