# Shares of CPU time by component, from `perf script -F comm,pid,tid,ip,sym,dso`
# of a recording with call graphs (tests/bench/run records with
# --call-graph dwarf).
#
#   perf script ... | awk -f perf_shares.awk -v name=NAME -v roles="PID=role,PID=role"
#
# Every sample is charged to the innermost frame of its call chain that
# belongs to a component: libsodium (crypto), libprotobuf-c, libsqlite3,
# libzmq (with libstdc++ frames under it), libjansson, or moux's own code
# (the mouxd/moux executables, which hold node/lib statically). So malloc,
# memcpy and system calls count for the component that called them: an
# fdatasync under SQLite is SQLite's, a sendto under libzmq is ZeroMQ's.
# Samples of ZeroMQ's background threads (ZMQbg/*) whose chain names no
# component are ZeroMQ's; what is left is "libc/kernel (unattributed)".
# "self" shares charge each sample to the object it was in (kernel, libc...).
#
# Output: one JSON line per role (process), and, with several roles, one
# for all of them together.

function component(dso) {
    if (dso ~ /libsodium/) return "crypto (libsodium)"
    if (dso ~ /libprotobuf-c/) return "protobuf-c"
    if (dso ~ /libsqlite3/) return "SQLite"
    if (dso ~ /libzmq/) return "ZeroMQ"
    if (dso ~ /libjansson/) return "JSON (jansson)"
    if (dso ~ /\/mouxd$/ || dso ~ /\/moux$/ || dso ~ /\/bench_[a-z]+$/) return "moux code"
    return ""
}

function selfname(dso) {
    if (dso ~ /kernel/) return "kernel"
    if (dso ~ /libc\.so|libc-/) return "libc"
    if (dso ~ /libstdc\+\+/) return "libstdc++"
    c = component(dso)
    if (c != "") return c
    n = dso; sub(/.*\//, "", n)
    return n
}

function flush(   c, i, s) {
    if (!insample) return
    insample = 0
    c = ""
    for (i = 1; i <= nf; i++) {
        c = component(fdso[i])
        if (c != "") break
        # libstdc++ under libzmq: keep walking; it will find libzmq
    }
    if (c == "" && comm ~ /^ZMQbg/) c = "ZeroMQ"
    if (c == "") c = "libc/kernel (unattributed)"
    role = (pid in rolemap) ? rolemap[pid] : "other"
    total[role]++
    share[role, c]++
    comps[c] = 1
    # the leaf, skipping frames perf marks as inlined (they carry no object)
    for (i = 1; i < nf && fdso[i] == "inlined"; i++) ;
    s = (nf > 0) ? selfname(fdso[i]) : "unknown"
    self[role, s]++
    selfs[s] = 1
    if (nf > 0) {
        k = fsym[i] " (" s ")"
        sym[role, k]++
        syms[k] = 1
    }
    if (comm ~ /^ZMQbg/) bg[role]++
    # kernel time under SQLite (fsync, writes): the chain starts in the kernel
    if (c == "SQLite" && s == "kernel") sqlk[role]++
    if (c == "ZeroMQ" && s == "kernel") zmqk[role]++
    seen[role] = 1
}

BEGIN {
    n = split(roles, rl, ",")
    for (i = 1; i <= n; i++) {
        split(rl[i], kv, "=")
        rolemap[kv[1]] = kv[2]
    }
}

/^[^ \t]/ {
    flush()
    insample = 1
    nf = 0
    comm = $1
    split($2, pt, "/")
    pid = pt[1]
    next
}

/^[ \t]+[0-9a-f]+ / {
    if (!insample) next
    line = $0
    d = line
    sub(/.*\(/, "", d); sub(/\)[ \t]*$/, "", d)
    s = line
    sub(/^[ \t]+[0-9a-f]+ /, "", s); sub(/ \([^(]*\)[ \t]*$/, "", s)
    sub(/\+0x[0-9a-f]+$/, "", s)
    nf++
    fdso[nf] = d
    fsym[nf] = s
    next
}

/^[ \t]*$/ { flush() }

function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }

function emit(role, label,   first, c, t, k, i, j, nk, keys, vals, tmp) {
    t = total[role]
    if (t == 0) return
    printf "{\"name\":%s,\"unit\":\"%%\",\"samples\":%d", jstr(label), t
    printf ",\"shares\":{"
    first = 1
    for (c in comps) if ((role, c) in share) {
        printf "%s%s:%.1f", first ? "" : ",", jstr(c), 100 * share[role, c] / t; first = 0
    }
    printf "},\"self\":{"
    first = 1
    for (c in selfs) if ((role, c) in self) {
        printf "%s%s:%.1f", first ? "" : ",", jstr(c), 100 * self[role, c] / t; first = 0
    }
    printf "},\"zmq_threads\":%.1f,\"kernel_under_sqlite\":%.1f,\"kernel_under_zmq\":%.1f", \
        100 * bg[role] / t, 100 * sqlk[role] / t, 100 * zmqk[role] / t
    # top 12 leaf symbols
    nk = 0
    for (k in syms) if ((role, k) in sym) { nk++; keys[nk] = k; vals[nk] = sym[role, k] }
    for (i = 2; i <= nk; i++) {
        for (j = i; j > 1 && vals[j] > vals[j - 1]; j--) {
            tmp = vals[j]; vals[j] = vals[j - 1]; vals[j - 1] = tmp
            tmp = keys[j]; keys[j] = keys[j - 1]; keys[j - 1] = tmp
        }
    }
    printf ",\"top\":["
    for (i = 1; i <= nk && i <= 12; i++)
        printf "%s{\"sym\":%s,\"pct\":%.1f}", (i > 1 ? "," : ""), jstr(keys[i]), 100 * vals[i] / t
    printf "]}\n"
}

END {
    flush()
    nroles = 0
    for (r in seen) nroles++
    for (r in seen) {
        emit(r, name "_" r)
        if (r != "other") {
            total["all"] += total[r]; bg["all"] += bg[r]; sqlk["all"] += sqlk[r]; zmqk["all"] += zmqk[r]
            for (c in comps) if ((r, c) in share) share["all", c] += share[r, c]
            for (c in selfs) if ((r, c) in self) self["all", c] += self[r, c]
            for (k in syms) if ((r, k) in sym) sym["all", k] += sym[r, k]
        }
    }
    if (nroles > 1) emit("all", name "_all")
}
